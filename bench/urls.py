"""The project's URLs plus two bench-only views (never routed outside bench.settings).

- /bench/trivial: a constant JSON answer through the same middleware and DRF stack as the
  API, no database, no cache: what "a request" costs here. healthz is not that baseline, as
  it queries PostgreSQL and Redis.
- /bench/products/<id>/: the API's product detail (the same selector and serializer) wrapped
  in shop.cache.cached(), as the API view will be once issue 5's wiring is merged.
"""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urls
from shop import cache, selectors
from shop.api import serializers


class TrivialView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class CachedProductDetailView(APIView):
    permission_classes = [AllowAny]

    def get(self, request, pk: int):
        data = cache.cached(
            cache.Family.PRODUCT,
            cache.product_key(pk),
            lambda: serializers.ProductOutput(selectors.product_get(product_id=pk)).data,
        )
        return Response(data)


urlpatterns = [
    path("bench/trivial", TrivialView.as_view()),
    path("bench/products/<int:pk>/", CachedProductDetailView.as_view()),
    *project_urls,
]
