"""/admin/dbhealth/...: every page through the admin site's admin_view (staff login, CSRF,
no caching) and the dashboard's own permission."""

from django.contrib import admin
from django.urls import path, register_converter

from dbhealth import views
from dbhealth.panels import PANELS

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
    path("", page(views.overview), name="overview"),
    *[
        path(f"{name}/", page(views.panel_view(name)), name=name)
        for name, _ in PANELS
        if name not in ("overview", "explain", "history", "origins")
    ],
    path("queries/<signed:queryid>/", page(views.query_detail), name="query"),
    path("explain/", page(views.explain_view), name="explain"),
    path("history/", page(views.history_view), name="history"),
    path("origins/", page(views.origins_view), name="origins"),
    # An origin is "route:<pattern>", "task:<name>" or "command:<name>"; patterns contain "/".
    path("origins/<path:origin>", page(views.origin_view), name="origin"),
    path("activity/<int:pid>/<str:action>/", page(views.signal_view), name="signal"),
]
