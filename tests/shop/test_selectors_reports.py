"""Reports: top spenders of a window and daily revenue, exact values and one query each."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from shop import selectors
from shop.factories import OrderFactory, ProductFactory, UserFactory
from shop.models import Order

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


def order(user, product, quantity, *, days_ago: float, status="delivered") -> Order:
    placed = OrderFactory(user=user, status=status, lines=[(product, quantity)])
    Order.objects.filter(pk=placed.pk).update(created_at=NOW - dt.timedelta(days=days_ago))
    return placed


def test_top_spenders_counts_only_earning_orders_in_the_window(django_assert_num_queries):
    ten = ProductFactory(price=Decimal("10.00"))
    big, small, old, cancels = UserFactory.create_batch(4)
    for _ in range(6):
        order(big, ten, 3, days_ago=1)  # 6 orders, 180.00
        order(small, ten, 1, days_ago=2)  # 6 orders, 60.00
        order(old, ten, 9, days_ago=40)  # outside the window
    for _ in range(5):
        order(cancels, ten, 9, days_ago=1)  # 5 earning orders: not more than 5
    order(cancels, ten, 9, days_ago=1, status="cancelled")

    with django_assert_num_queries(1):
        rows = [
            (u.username, u.order_count, u.spent)
            for u in selectors.top_spenders(since=NOW - dt.timedelta(days=30))
        ]

    assert rows == [
        (big.username, 6, Decimal("180.00")),
        (small.username, 6, Decimal("60.00")),
    ]


def test_daily_revenue_lists_every_day_with_zeros(django_assert_num_queries):
    ten = ProductFactory(price=Decimal("10.00"))
    user = UserFactory()
    order(user, ten, 1, days_ago=0)  # 2026-03-31
    order(user, ten, 2, days_ago=0)
    order(user, ten, 5, days_ago=2)  # 2026-03-29
    order(user, ten, 7, days_ago=2, status="cancelled")
    order(user, ten, 4, days_ago=5)  # 2026-03-26: before the range

    with django_assert_num_queries(1):
        days = selectors.daily_revenue(first=dt.date(2026, 3, 28), last=dt.date(2026, 3, 31))

    assert [(d.day.isoformat(), d.orders, d.revenue) for d in days] == [
        ("2026-03-28", 0, Decimal("0.00")),
        ("2026-03-29", 1, Decimal("50.00")),
        ("2026-03-30", 0, Decimal("0.00")),
        ("2026-03-31", 2, Decimal("30.00")),
    ]


def explain(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: show the index's use
    return queryset.explain()


def test_time_windows_are_index_backed():
    OrderFactory(lines=[(ProductFactory(), 1)])
    since = NOW - dt.timedelta(days=30)

    # Which index wins depends on the data (docs/query-patterns.md shows the plans at a
    # million orders); here: orders are never read by a sequential scan.
    for queryset in (
        selectors.top_spenders(since=since),
        selectors.daily_revenue_rows(first=since.date(), last=NOW.date()),
    ):
        plan = explain(queryset)
        assert "Seq Scan on shop_order" not in plan, plan
        assert "Index Scan on shop_order" in plan or "shop_order_" in plan, plan


def test_open_orders_oldest_first_with_their_customer(django_assert_num_queries):
    product = ProductFactory(price=Decimal("10.00"))
    newer = order(UserFactory(), product, 1, days_ago=1, status="processing")
    older = order(UserFactory(), product, 1, days_ago=3, status="pending")
    order(UserFactory(), product, 1, days_ago=5, status="shipped")
    order(UserFactory(), product, 1, days_ago=6, status="cancelled")

    with django_assert_num_queries(1):
        rows = [(o.pk, o.status, o.user.username) for o in selectors.orders_open()]

    assert rows == [
        (older.pk, "pending", older.user.username),
        (newer.pk, "processing", newer.user.username),
    ]


def test_open_orders_read_the_partial_index_in_order():
    OrderFactory(lines=[(ProductFactory(), 1)])
    with connection.cursor() as cursor:
        # Statistics of this table, not the ones an earlier test's load left behind (ANALYZE
        # and index builds write pg_class in place: a rollback does not undo them).
        cursor.execute("ANALYZE shop_order")

    plan = explain(selectors.orders_open()[:50])

    assert "shop_order_open_created_idx" in plan, plan
