"""The admin at a million orders: searches match exactly on indexed columns, every filter
and default ordering has an index path, and counts stop at ShopCountPaginator.CAP.

Timings are in bench/run.py (growth); here, what makes them flat: the plans and the counts.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory

from shop.admin import ShopCountPaginator
from shop.factories import OrderFactory, ProductFactory, UserFactory
from shop.models import Order, OrderItem, Product, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def test_user_search_is_exact_username_or_email_any_case(staff_client):
    ada = UserFactory(username="ada", email="Ada@Example.com")
    UserFactory(username="adam", email="adam@example.com")

    assert listed(staff_client.get("/admin/shop/user/", {"q": "ada"})) == [ada]
    assert listed(staff_client.get("/admin/shop/user/", {"q": "ADA@example.COM"})) == [ada]
    assert listed(staff_client.get("/admin/shop/user/", {"q": "ad"})) == []  # no substrings


def test_order_search_by_number_customer_or_email(staff_client):
    ada = UserFactory(username="ada", email="ada@example.com")
    first = OrderFactory(user=ada)
    second = OrderFactory(user=ada)
    other = OrderFactory(user=UserFactory(username="adam"))

    assert listed(staff_client.get("/admin/shop/order/", {"q": "ada"})) == [second, first]
    assert listed(staff_client.get("/admin/shop/order/", {"q": "Ada@example.com"})) == [
        second,
        first,
    ]
    assert listed(staff_client.get("/admin/shop/order/", {"q": f"#{other.pk}"})) == [other]


def test_order_item_search_by_product_words_or_order_number(staff_client):
    desk = ProductFactory(name="Walnut desk", price=Decimal("10.00"))
    lamp = ProductFactory(name="Brass lamp", price=Decimal("10.00"))
    order = OrderFactory(lines=[(desk, 1), (lamp, 1)])
    other = OrderFactory(lines=[(lamp, 2)])
    items = {item.product_id: item for item in OrderItem.objects.filter(order=order)}

    assert listed(staff_client.get("/admin/shop/orderitem/", {"q": "desks"})) == [items[desk.pk]]
    assert listed(staff_client.get("/admin/shop/orderitem/", {"q": str(other.pk)})) == list(
        OrderItem.objects.filter(order=other)
    )


def test_order_items_list_newest_order_first_with_its_lines_together(staff_client):
    a, b = (ProductFactory(price=Decimal("1.00")) for _ in range(2))
    older = OrderFactory(lines=[(a, 1)])
    newer = OrderFactory(lines=[(a, 1), (b, 1)])
    late_line = OrderItem.objects.create(order=older, product=b, quantity=1, unit_price=1)
    Order.objects.filter(pk=older.pk).update(total_amount=2)  # the late line, in balance

    rows = listed(staff_client.get("/admin/shop/orderitem/"))

    # (order_id, id) descending: the order's lines stay together whatever their ids.
    newer_lines = sorted(newer.items.all(), key=lambda item: -item.pk)
    assert rows == [*newer_lines, late_line, older.items.get(product=a)]


BIG_SEQ_SCAN = re.compile(r"Seq Scan on (shop_order|shop_orderitem|shop_product|shop_user)\b")


def changelist_page(model, params: dict):
    request = RequestFactory().get("/", params)
    request.user = User.objects.get(username="boss")
    changelist = site._registry[model].get_changelist_instance(request)
    return changelist.get_queryset(request)[:100]


# Each changelist and filter at a million orders (bench/run.py growth): no sequential scan
# of the big tables is even possible for the page query.
PAGES = [
    (Order, {}),
    (Order, {"status__exact": "pending"}),
    (Order, {"created_at__gte": "2026-01-01 00:00:00+00:00"}),
    (Order, {"q": "ada"}),
    (OrderItem, {}),
    (OrderItem, {"order__status__exact": "pending"}),
    (Product, {}),
    (Product, {"is_active__exact": "0"}),
    (Product, {"q": "desk"}),
    (User, {}),
    (User, {"is_staff__exact": "1"}),
    (User, {"q": "ada@example.com"}),
]


@pytest.mark.parametrize(("model", "params"), PAGES, ids=lambda p: str(p))
def test_every_changelist_page_has_an_index_path(staff_client, model, params):
    OrderFactory(lines=[(ProductFactory(), 1)])
    queryset = changelist_page(model, params)

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain()

    assert not BIG_SEQ_SCAN.search(plan), plan


def test_counts_stop_at_the_cap_and_use_the_estimate_past_it(django_assert_num_queries):
    paginator = ShopCountPaginator(Order.objects.order_by("-pk"), 100)
    with connection.cursor() as cursor:
        # CAP + 2 orders without their items: rows in a rolled-back test, totals unchecked.
        user = UserFactory()
        cursor.execute(
            "INSERT INTO shop_order (user_id, shipping_address) SELECT %s, "
            """'{"name": "A", "line1": "1", "city": "L", "postal_code": "N1", "country": "GB"}'"""
            " FROM generate_series(1, %s)",
            [user.pk, ShopCountPaginator.CAP + 2],
        )
        cursor.execute("ANALYZE shop_order")

    with django_assert_num_queries(2):  # the capped count, then EXPLAIN for the estimate
        count = paginator.count

    assert count == ShopCountPaginator.CAP + 2  # the planner's estimate, fresh from ANALYZE


def test_counts_are_exact_up_to_the_cap(django_assert_num_queries):
    OrderFactory.create_batch(3)
    paginator = ShopCountPaginator(Order.objects.order_by("-pk"), 100)

    with django_assert_num_queries(1):
        assert paginator.count == 3
