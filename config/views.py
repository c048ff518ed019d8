"""Operational endpoints that sit outside the shop's API."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure to answer means "down" to a load balancer
        return False


def _redis_ok() -> bool:
    try:
        return bool(get_redis_connection("default").ping())
    except Exception:  # any failure to answer means "down" to a load balancer
        return False


@never_cache
def healthz(request):
    """200 when PostgreSQL and Redis both answer; 503 naming the ones that did not."""
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    failed = sorted(name for name, ok in checks.items() if not ok)
    body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
    body["status"] = "unavailable" if failed else "ok"
    return JsonResponse(body, status=503 if failed else 200)
