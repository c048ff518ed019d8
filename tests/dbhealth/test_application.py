"""The application panel: this process's connection pool and the cache's Redis, read live;
Celery's place is marked, with no figure."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/application/"


def test_pool_statistics_are_this_processs_pool(viewer_client):
    data = viewer_client.get(PAGE).context["data"]

    assert (data["pool"]["min"], data["pool"]["max"]) == (
        settings.DB_POOL_OPTIONS["min_size"],
        settings.DB_POOL_OPTIONS["max_size"],
    )
    assert data["pool"]["waiting"] == 0


def test_redis_hits_and_misses_are_counted_exactly(viewer_client):
    before = viewer_client.get(PAGE).context["data"]["redis"]
    cache.set("dbhealth-test-key", "value", 60)
    cache.get("dbhealth-test-key")  # a hit
    cache.get("dbhealth-test-missing")  # a miss
    cache.get("dbhealth-test-missing-too")  # a miss

    after = viewer_client.get(PAGE).context["data"]["redis"]

    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 2)
    assert after["error"] is None
    db = get_redis_connection().connection_pool.connection_kwargs["db"]
    assert f"db{db}" in [k["db"] for k in after["keyspace"]]  # where the key just set lives


def test_celery_has_a_marked_place_and_no_figure(viewer_client):
    response = viewer_client.get(PAGE)

    assert response.context["data"]["celery"] is None
    assert b"Celery queue lengths and worker heartbeats are not shown yet" in response.content


def test_an_unreachable_redis_is_reported_not_raised(viewer_client, settings):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    response = viewer_client.get(PAGE)

    assert response.status_code == 200
    assert response.context["data"]["redis"]["error"].startswith("ConnectionError")
    [check] = [c for c in response.context["checks"] if c.name == "Redis"]
    assert check.status == "critical"
