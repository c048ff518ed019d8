"""Idempotency-Keys expire: after IDEMPOTENCY_KEY_TTL_HOURS a key is new again, and the
hourly beat task deletes the expired ones in small batches."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from shop import services
from shop.factories import ProductFactory, UserFactory
from shop.models import IdempotencyKey, Order
from shop.tasks import idempotency_keys_prune
from tests.shop.api.conftest import client_for
from tests.shop.api.test_orders import ORDERS, order_body

pytestmark = pytest.mark.django_db


def age(key: str, hours: float) -> None:
    """Make the key `hours` old (PostgreSQL's clock: the claim compares with its now())."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE shop_idempotencykey SET created_at = now() - make_interval(secs => %s) "
            "WHERE key = %s",
            [hours * 3600, key],
        )


@pytest.fixture
def desk():
    return ProductFactory(name="Walnut desk", price=Decimal("249.50"), stock_quantity=5)


@pytest.fixture
def api():
    return client_for(UserFactory(username="ada"))


def test_the_ttl_is_24_hours_by_default():
    assert settings.IDEMPOTENCY_KEY_TTL_HOURS == 24


def test_a_replay_within_the_ttl_still_replays(api, desk):
    first = api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="k-1")
    age("k-1", 23.9)

    again = api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_an_expired_key_not_yet_pruned_is_new_again(api, desk):
    first = api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="k-1")
    age("k-1", 24.1)

    # Another body, which a live key would refuse with 422: the expired key is a new one.
    again = api.post(ORDERS, order_body((desk, 2)), HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post(ORDERS, order_body((desk, 2)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code, replay.status_code) == (201, 201, 201)
    assert again.has_header("Idempotent-Replayed") is False
    assert again.json()["id"] != first.json()["id"]
    assert replay.json()["id"] == again.json()["id"]  # and it replays the new order from now
    assert Order.objects.count() == 2
    key = IdempotencyKey.objects.get()
    assert key.order_id == again.json()["id"]
    assert timezone.now() - key.created_at < dt.timedelta(minutes=1)


def test_the_task_deletes_exactly_the_expired_keys():
    users = UserFactory.create_batch(2)
    for user in users:
        for n in range(4):
            IdempotencyKey.objects.create(user=user, key=f"k-{n}", fingerprint="f" * 64)
    with connection.cursor() as cursor:  # k-0, k-1: 2 and 25 hours old; k-2, k-3: expired
        cursor.execute(
            "UPDATE shop_idempotencykey SET created_at = now() - CASE key "
            "WHEN 'k-0' THEN interval '2 hours' WHEN 'k-1' THEN interval '23 hours 59 minutes' "
            "WHEN 'k-2' THEN interval '24 hours 1 minute' ELSE interval '30 days' END"
        )

    deleted = idempotency_keys_prune.apply().get()

    assert deleted == 4
    assert sorted(IdempotencyKey.objects.values_list("user_id", "key")) == sorted(
        (user.pk, key) for user in users for key in ("k-0", "k-1")
    )
    assert idempotency_keys_prune.apply().get() == 0  # idempotent: nothing left to delete


def test_the_prune_deletes_in_batches_until_none_is_left():
    user = UserFactory()
    for n in range(7):
        IdempotencyKey.objects.create(user=user, key=f"k-{n}", fingerprint="f" * 64)
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    IdempotencyKey.objects.create(user=user, key="fresh", fingerprint="f" * 64)

    deleted = services.idempotency_keys_prune(
        cutoff=timezone.now() - dt.timedelta(hours=24), batch_size=3
    )

    assert deleted == 7
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_the_beat_schedule_runs_the_prune_hourly():
    assert settings.CELERY_BEAT_SCHEDULE["shop-idempotency-prune"] == {
        "task": "shop.tasks.idempotency_keys_prune",
        "schedule": 3600,
    }
    assert "shop.tasks.idempotency_keys_prune" in app.tasks


def test_the_prune_reads_the_created_at_index():
    with connection.cursor() as cursor:
        # An empty table: forbid the scans a planner prefers on a few rows, so the plan shows
        # which index can serve the prune's query in order (as tests/shop/test_indexes.py).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            "EXPLAIN (COSTS OFF) SELECT id FROM shop_idempotencykey WHERE created_at < now() "
            "ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "shop_idemkey_created_idx" in plan
    assert "Sort" not in plan
