"""The application panel: this process's connection pool, the cache's Redis, and Celery's
queues (the real broker's lengths, exactly) and workers (a real worker answers the ping; an
idle broker or an unreachable one is a clear line, never a hang or a 500)."""

import os
import socket
import uuid

import pytest
from celery import Celery, current_app
from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection

from dbhealth import stats
from dbhealth.conf import config
from dbhealth.panels import application
from shop import cache as shop_cache
from shop.cache import Family, category_tree_key, product_key
from shop.factories import ProductFactory
from tests.conftest import wait_until

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
    # The baseline is read without the page: the page's own broker reads (queue lengths, the
    # ping) come after its Redis figures and, on a shared server, would count in the next ones.
    before = stats.application.redis()
    cache.set("dbhealth-test-key", "value", 60)
    cache.get("dbhealth-test-key")  # a hit
    cache.get("dbhealth-test-missing")  # a miss
    cache.get("dbhealth-test-missing-too")  # a miss

    after = viewer_client.get(PAGE).context["data"]["redis"]

    # Two misses of the test's own, and the baseline's read of the shop's family counters,
    # which follows its figures (an HGETALL of a hash nothing has written yet: a miss).
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 3)
    assert after["error"] is None
    db = get_redis_connection().connection_pool.connection_kwargs["db"]
    assert f"db{db}" in [k["db"] for k in after["keyspace"]]  # where the key just set lives


@pytest.fixture
def idle_queue():
    """A queue of this app's that no worker consumes (the suite's worker takes only the default
    queue), emptied and forgotten afterwards."""
    name = f"dbhealth-test-{uuid.uuid4().hex[:8]}"
    current_app.amqp.queues.add(name)
    yield name
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)
    del current_app.amqp.queues[name]


def test_queue_lengths_are_the_brokers_exactly(viewer_client, idle_queue):
    before = viewer_client.get(PAGE).context["data"]["celery"]
    for _ in range(3):
        current_app.send_task("dbhealth.tasks.dbhealth_snapshot_task", queue=idle_queue)

    after = viewer_client.get(PAGE).context["data"]["celery"]

    assert {"name": idle_queue, "messages": 0} in before["queues"]  # no list yet: 0, not an error
    assert {"name": idle_queue, "messages": 3} in after["queues"]
    assert after["error"] is None
    assert [q["name"] for q in after["queues"]] == sorted(
        [settings.CELERY_TASK_DEFAULT_QUEUE, idle_queue]
    )


def test_a_backlog_past_the_threshold_is_a_warning(viewer_client, idle_queue, dbhealth_settings):
    dbhealth_settings(CELERY_QUEUE_WARNING=2, CELERY_QUEUE_CRITICAL=5)
    for _ in range(2):
        current_app.send_task("dbhealth.tasks.dbhealth_snapshot_task", queue=idle_queue)

    response = viewer_client.get(PAGE)

    [check] = [c for c in response.context["checks"] if c.name == "Celery queues"]
    assert check.status == "warning"
    assert f"2 waiting in {idle_queue}" in check.summary


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_answers_the_ping(celery_worker, viewer_client):
    # "ready." in its log comes just before it listens for control messages: wait for a pong.
    wait_until(lambda: stats.application.celery(timeout=0.5)["workers"], timeout=20)

    response = viewer_client.get(PAGE)

    assert response.context["data"]["celery"]["workers"] == [
        f"test-{os.getpid()}@{socket.gethostname()}"
    ]
    [check] = [c for c in response.context["checks"] if c.name == "Celery workers"]
    assert (check.status, check.summary) == ("ok", "1 worker(s) answered a ping within 0.5 s")
    assert f"test-{os.getpid()}@".encode() in response.content


def test_no_worker_on_the_broker_is_a_critical_line(private_redis):
    # Given a broker (a Redis of this test's own) that no worker listens to
    probe = Celery("probe", broker=private_redis.url(), set_as_current=False)

    found = stats.application.celery(timeout=0.2, app=probe)

    assert found == {"error": None, "queues": [{"name": "celery", "messages": 0}], "workers": []}
    checks = application.celery_checks(found, {**config(), "CELERY_PING_TIMEOUT_SEC": 0.2})
    assert [(c.name, c.status, c.summary) for c in checks] == [
        ("Celery queues", "ok", "0 waiting in celery"),
        (
            "Celery workers",
            "critical",
            "no worker answered a ping within 0.2 s: enqueued tasks are not run",
        ),
    ]


def test_an_unreachable_broker_is_reported_not_raised():
    probe = Celery("probe", broker="redis://127.0.0.1:1/0", set_as_current=False)

    found = stats.application.celery(timeout=0.2, app=probe)

    assert (found["queues"], found["workers"]) == ([], [])
    assert found["error"].startswith("OperationalError: ")
    checks = application.celery_checks(found, config())
    assert [(c.name, c.status) for c in checks] == [
        ("Celery queues", "critical"),
        ("Celery workers", "critical"),
    ]


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


def test_the_shops_cache_is_counted_by_family_exactly(viewer_client):
    # Given one product read twice through the shop's cache (a miss that fills it, then a hit)
    # and the category tree read once
    product = ProductFactory(name="Walnut desk")
    for _ in range(2):
        shop_cache.cached(Family.PRODUCT, product_key(product.pk), lambda: {"id": product.pk})
    shop_cache.cached(Family.CATEGORY_TREE, category_tree_key(), list)

    # When staff open the Application page
    families = viewer_client.get(PAGE).context["data"]["redis"]["families"]

    # Then each family shows its own hits and misses, every family listed
    assert families == [
        {"name": "category-tree", "hits": 0, "misses": 1, "hit_ratio": 0.0},
        {"name": "order", "hits": 0, "misses": 0, "hit_ratio": None},
        {"name": "order-list", "hits": 0, "misses": 0, "hit_ratio": None},
        {"name": "product", "hits": 1, "misses": 1, "hit_ratio": 0.5},
        {"name": "product-list", "hits": 0, "misses": 0, "hit_ratio": None},
        {"name": "profile", "hits": 0, "misses": 0, "hit_ratio": None},
    ]
