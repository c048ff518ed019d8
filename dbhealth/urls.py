"""/admin/dbhealth/...: one view per page, every page through the admin site's admin_view
(staff login, CSRF, no caching) and the dashboard's own permission."""

from django.contrib import admin
from django.urls import path, register_converter

from dbhealth import views

app_name = "dbhealth"


class SignedInt:
    """pg_stat_statements query ids are signed 64-bit integers."""

    regex = "-?[0-9]+"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(SignedInt, "signed")


def page(view):
    return admin.site.admin_view(views.dashboard_permission(view))


urlpatterns = [
    path("", page(views.overview_view), name="overview"),
    path("queries/", page(views.queries_view), name="queries"),
    path("queries/<signed:queryid>/", page(views.query_view), name="query"),
    path("activity/", page(views.activity_view), name="activity"),
    path("activity/<int:pid>/<str:action>/", page(views.signal_view), name="signal"),
    path("space/", page(views.space_view), name="space"),
    path("indexes/", page(views.indexes_view), name="indexes"),
    path("maintenance/", page(views.maintenance_view), name="maintenance"),
    path("replication/", page(views.replication_view), name="replication"),
    path("pooler/", page(views.pooler_view), name="pooler"),
    path("settings/", page(views.settings_view), name="settings"),
    path("history/", page(views.history_view), name="history"),
    path("origins/", page(views.origins_view), name="origins"),
    # An origin is "route:<pattern>", "task:<name>" or "command:<name>"; patterns contain "/".
    path("origins/<path:origin>", page(views.origin_view), name="origin"),
    path("explain/", page(views.explain_view), name="explain"),
    path("application/", page(views.application_view), name="application"),
]
