"""Row-level security on orders (shop/migrations/0010, shop/api/rls.py), as the application
role, which the policies bind (the suite's owner role is exempt, as PostgreSQL intends)."""

import psycopg
import pytest
from django.db import connections
from rest_framework.test import APIClient

from shop import selectors
from shop.factories import OrderFactory, ProductFactory, UserFactory
from shop.models import Order
from tests.security.conftest import PASSWORD, ROLE
from tests.shop.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_shoppers():
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    product = ProductFactory(stock_quantity=50)
    orders = {
        "ada": [OrderFactory(user=ada, lines=[(product, 1)]).pk for _ in range(2)],
        "bob": [OrderFactory(user=bob, lines=[(product, 2)]).pk],
    }
    return ada, bob, orders


def test_a_scoped_statement_sees_only_its_shoppers_orders_and_items(app_db, two_shoppers):
    ada, bob, orders = two_shoppers
    app_db.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(ada.pk)])

    seen = app_db.execute("SELECT id FROM shop_order ORDER BY id").fetchall()  # no WHERE
    items = app_db.execute("SELECT DISTINCT order_id FROM shop_orderitem ORDER BY 1").fetchall()

    assert [row[0] for row in seen] == orders["ada"]
    assert [row[0] for row in items] == orders["ada"]


def test_a_scoped_statement_cannot_write_another_shoppers_order(app_db, two_shoppers):
    ada, bob, orders = two_shoppers
    app_db.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(ada.pk)])

    updated = app_db.execute(
        "UPDATE shop_order SET shipping_address = shipping_address WHERE id = %s",
        [orders["bob"][0]],
    ).rowcount
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        app_db.execute(
            "INSERT INTO shop_order (user_id, shipping_address) VALUES (%s, %s::jsonb)",
            [
                bob.pk,
                '{"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "x"}',
            ],
        )

    assert updated == 0  # bob's row is invisible, so nothing matches
    assert "row-level security policy" in str(refused.value)
    assert Order.objects.filter(user=bob).count() == 1


def test_without_a_shopper_scope_staff_and_jobs_see_every_order(app_db, two_shoppers):
    _, _, orders = two_shoppers

    seen = app_db.execute("SELECT id FROM shop_order ORDER BY id").fetchall()

    assert [row[0] for row in seen] == sorted(orders["ada"] + orders["bob"])


@pytest.fixture
def api_as_application_role(app_db):
    """Django's own connection, as the application role (no pool: a fresh connection)."""
    original = connections["default"]
    settings = {
        **original.settings_dict,
        "USER": ROLE,
        "PASSWORD": PASSWORD,
        "OPTIONS": {**original.settings_dict["OPTIONS"], "pool": False},
    }
    connections["default"] = original.__class__(settings, alias="default")
    yield
    connections["default"].close()
    connections["default"] = original


def test_even_a_wrong_query_in_the_api_returns_only_the_shoppers_orders(
    two_shoppers, api_as_application_role, monkeypatch
):
    ada, bob, orders = two_shoppers
    # A selector that forgot "WHERE user_id = ...": PostgreSQL still filters.
    monkeypatch.setattr(
        selectors,
        "order_list_for_user",
        lambda *, user_id, status=None: Order.objects.order_by("-created_at", "-id"),
    )

    mine = client_for(ada).get("/api/v1/orders/?page_size=10")
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=client_for(UserFactory(is_staff=True))._credentials[
        "HTTP_AUTHORIZATION"
    ])  # fmt: skip
    bobs_as_staff = staff.get(f"/api/v1/staff/orders/{orders['bob'][0]}/")

    assert mine.status_code == 200
    assert sorted(order["id"] for order in mine.json()["results"]) == orders["ada"]
    assert bobs_as_staff.status_code == 200  # staff are not scoped
