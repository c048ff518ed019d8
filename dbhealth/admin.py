"""The dashboard's entry in the admin index and sidebar ("Database health > Dashboard").

There is nothing to list, add or change: the entry links to /admin/dbhealth/, and only users
with dbhealth.view_dashboard see it (Django shows an app only to users with a permission in it).
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from core.admin import ReadOnlyMixin
from dbhealth.models import Alert, Dashboard
from dbhealth.views import PERMISSION


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyMixin, admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(PERMISSION)

    def get_urls(self):
        # The admin index links to this model's changelist: send it to the dashboard.
        def to_dashboard(request):
            return HttpResponseRedirect(reverse("dbhealth:overview"))

        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(to_dashboard), name=name)]


@admin.register(Alert)
class AlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Read-only: alerts are opened and resolved by the rules (dbhealth/alerts.py) alone."""

    list_display = ["rule", "subject", "message", "first_seen", "last_seen", "resolved_at"]
    list_filter = ["rule", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["rule", "subject"]
    ordering = ["-first_seen"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(PERMISSION)
