"""Read-your-writes by LSN against the suite's real streaming replica (core/routing.py,
shop/api/replicas.py): a paused replica makes the lag as long as the test needs."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection

from core import routing
from shop import selectors
from shop.cache import order_key
from shop.factories import ProductFactory, UserFactory, shipping_address_for
from shop.models import Order
from tests.replicas.conftest import primary_lsn
from tests.shop.api.conftest import client_for

from ..conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica1"])

ORDERS = "/api/v1/orders/"
PROFILE = "/api/v1/me/profile/"


def order_body(product, quantity: int) -> dict:
    return {
        "items": [{"product": product.pk, "quantity": quantity}],
        "shipping_address": shipping_address_for("Ada"),
    }


def as_shopper(user, read):
    """What `read()` returns, and where it read, inside a shopper's read-only request."""
    before = dict(routing.counts)
    with routing.shopper_reads(lambda: user.pk if user else None):
        value = read()
    return value, [alias for alias in routing.counts if routing.counts[alias] != before.get(alias)]


def test_a_shopper_reads_their_own_new_order_and_profile_while_the_replica_is_paused(replica):
    ada = UserFactory(username="ada")
    desk = ProductFactory(name="Walnut desk", price=Decimal("100.00"), stock_quantity=5)
    api = client_for(ada)
    replica.pause()

    created = api.post(ORDERS, order_body(desk, 2))
    etag = api.get(PROFILE)["ETag"]
    changed = api.patch(PROFILE, {"first_name": "Augusta"}, HTTP_IF_MATCH=etag)

    assert (created.status_code, changed.status_code) == (201, 200)
    order_id = created.json()["id"]
    # The replica really is behind: it has neither the order nor the new name.
    assert replica.query("SELECT count(*) FROM shop_order WHERE id = %s", [order_id]) == [(0,)]
    assert replica.query("SELECT count(*) FROM shop_userprofile WHERE user_id = %s", [ada.pk]) == [
        (0,)
    ]
    # Through the API (cache filled from the primary, the shopper's floor not reached)...
    assert api.get(f"{ORDERS}{order_id}/").json()["total_amount"] == "200.00"
    assert [row["id"] for row in api.get(ORDERS).json()["results"]] == [order_id]
    assert api.get(PROFILE).json()["first_name"] == "Augusta"
    # ...and by the selectors themselves, uncached: the primary, as the replica is behind.
    order, where = as_shopper(ada, lambda: selectors.order_get(order_id=order_id, user_id=ada.pk))
    assert (order.total_amount, where) == (Decimal("200.00"), ["default"])
    profile, where = as_shopper(ada, lambda: selectors.profile_get(user=ada))
    assert (profile.first_name, where) == ("Augusta", ["default"])

    replica.resume()
    replica.caught_up()
    order, where = as_shopper(ada, lambda: selectors.order_get(order_id=order_id, user_id=ada.pk))
    assert (order.total_amount, [item.quantity for item in order.item_list], where) == (
        Decimal("200.00"),
        [2],
        ["replica1"],
    )


def test_another_shopper_may_read_the_catalogue_stale_from_the_replica_but_not_the_cache(replica):
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    desk = ProductFactory(name="Walnut desk", price=Decimal("100.00"), stock_quantity=5)
    replica.pause()

    assert client_for(ada).post(ORDERS, order_body(desk, 2)).status_code == 201

    # Ada waits for her own write; Bob, who wrote nothing, is served by the replica, which
    # has not replayed Ada's order: the stock he reads is stale (docs/scaling.md says so).
    mine, where = as_shopper(ada, lambda: selectors.product_get(product_id=desk.pk))
    assert (mine.stock_quantity, where) == (3, ["default"])
    his, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
    assert (his.stock_quantity, where) == (5, ["replica1"])
    anonymous, where = as_shopper(None, lambda: selectors.product_get(product_id=desk.pk))
    assert (anonymous.stock_quantity, where) == (5, ["replica1"])
    # A cache entry is read by everybody: it is built only from a server that has every
    # commit, so the API's product page is not stale, for Bob either.
    assert client_for(bob).get(f"/api/v1/products/{desk.pk}/").json()["stock_quantity"] == 3


def test_a_replica_lagging_past_the_bound_is_skipped(replica, settings):
    bob = UserFactory(username="bob")
    desk = ProductFactory(name="Walnut desk", stock_quantity=5)
    replica.pause()
    settings.DB_REPLICA_MAX_LAG_BYTES = 4096
    ProductFactory.create_batch(20)  # more WAL than the bound, received and not replayed
    target = primary_lsn()
    wait_until(lambda: replica.received() >= target)
    assert replica.received() - replica.replayed() > 4096

    product, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
    assert (product.pk, where) == (desk.pk, ["default"])

    # The same read with a bound above the backlog: the replica serves it.
    settings.DB_REPLICA_MAX_LAG_BYTES = 64 * 1024 * 1024
    product, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
    assert (product.pk, where) == (desk.pk, ["replica1"])


def test_a_stopped_replica_is_skipped_and_reads_go_to_the_primary(replica):
    bob = UserFactory(username="bob")
    desk = ProductFactory(name="Walnut desk", stock_quantity=5)
    product, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
    assert where == ["replica1"]  # its connection is open when the server goes away

    replica.stop()
    try:
        for _ in range(3):
            product, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
            assert (product.pk, where) == (desk.pk, ["default"])
        response = client_for(bob).get(f"/api/v1/products/{desk.pk}/")
        assert (response.status_code, response.json()["id"]) == (200, desk.pk)
    finally:
        replica.start()
    routing.forget()  # its retry time over
    replica.caught_up()
    product, where = as_shopper(bob, lambda: selectors.product_get(product_id=desk.pk))
    assert where == ["replica1"]


def test_row_level_security_holds_on_a_replica_read(replica):
    """Through the API, as the application login (SET LOCAL ROLE on the hot standby), with
    the shopper's scope: Bob cannot read Ada's order on the replica, Ada can."""
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    desk = ProductFactory(name="Walnut desk", stock_quantity=5)
    order_id = client_for(ada).post(ORDERS, order_body(desk, 1)).json()["id"]
    replica.caught_up()

    def served_by_replica(client):
        """A cache-missing GET of the order, retried until the replica served it (a cache
        fill needs the replica to have everything the primary wrote: an idle moment)."""

        def attempt():
            cache.delete(order_key(order_id))
            before = routing.counts["replica1"]
            response = client.get(f"{ORDERS}{order_id}/")
            return response if routing.counts["replica1"] > before else None

        return wait_until(attempt, timeout=30)

    assert served_by_replica(client_for(bob)).status_code == 404
    assert served_by_replica(client_for(ada)).json()["id"] == order_id
    # The owner connection of the test sees the order; the replica had it all along.
    assert Order.objects.filter(pk=order_id).count() == 1
    assert connection.in_atomic_block is False
