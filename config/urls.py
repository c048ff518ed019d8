from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.views import healthz
from dbhealth.metrics import metrics_view

# The admin's name, in its header and its pages' titles.
admin.site.site_header = admin.site.site_title = "pgshop admin"
admin.site.index_title = "Shop, history and database health"

urlpatterns = [
    # Pages that name no icon (the API's, Swagger UI) get the admin's: no 404 in the console.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("core/favicon.svg"))),
    # A page pointing newcomers to the API's docs, the admin and the dashboard.
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    # Prometheus scrape target: the database health figures (dbhealth/metrics.py).
    path("metrics", metrics_view, name="metrics"),
    # The database health dashboard, inside the admin (before admin.site.urls, whose own
    # /admin/dbhealth/ app index it replaces).
    path("admin/dbhealth/", include("dbhealth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("shop.api.urls")),
    # The OpenAPI 3 schema, and Swagger UI for it, whose JS/CSS come from our own static
    # files (drf-spectacular-sidecar): nothing is loaded from a CDN. (No Redoc: its page
    # template pulls web fonts from Google.)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# Under /api/, Django's own 404 (no URL matched) and 400 (e.g. a body over
# DATA_UPLOAD_MAX_MEMORY_SIZE) answer in the API's JSON error shape, not as HTML pages.
handler404 = "shop.api.exceptions.page_not_found"
handler400 = "shop.api.exceptions.bad_request"
# A database outage (lost connection, restart, pool exhausted) is a 503 with Retry-After.
handler500 = "shop.api.exceptions.server_error"
