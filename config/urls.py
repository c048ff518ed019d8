from django.contrib import admin
from django.urls import include, path

from config.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The database health dashboard, inside the admin (before admin.site.urls, whose own
    # /admin/dbhealth/ app index it replaces).
    path("admin/dbhealth/", include("dbhealth.urls")),
    path("admin/", admin.site.urls),
]
