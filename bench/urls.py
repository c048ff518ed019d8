"""The project's URLs plus two bench-only views (never routed outside bench.settings).

- /bench/trivial: a constant JSON answer through the same middleware and DRF stack as the
  API, no database, no cache: what "a request" costs here. healthz is not that baseline, as
  it queries PostgreSQL and Redis.
- /bench/products/<id>/: the API's product detail (the same selector and serializer) without
  the cache, the baseline of "uncached"; /api/v1/products/<id>/ itself is the cached one.
"""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urls
from shop import selectors
from shop.api import serializers


class TrivialView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class UncachedProductDetailView(APIView):
    permission_classes = [AllowAny]

    def get(self, request, pk: int):
        return Response(serializers.ProductOutput(selectors.product_get(product_id=pk)).data)


urlpatterns = [
    path("bench/trivial", TrivialView.as_view()),
    path("bench/products/<int:pk>/", UncachedProductDetailView.as_view()),
    *project_urls,
]
