"""Checkout under real concurrency: many HTTP requests at once against a live server.

Every request thread of the live server has its own PostgreSQL connection (from the
process's pool, 16 in the test settings), so these requests really do contend for the
same product rows. A barrier releases all client threads together. Nothing here depends
on timing: the assertions are what the database must hold whatever the interleaving.
"""

import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from rest_framework.authtoken.models import Token

from shop import services
from shop.factories import ProductFactory, UserFactory, shipping_address_for
from shop.models import Order, OrderItem, Product
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = shipping_address_for("Ada Lovelace")
TIMEOUT = 60  # seconds; a deadlocked test fails instead of hanging


def tokens(count: int) -> list[str]:
    return [
        Token.objects.create(user=UserFactory(username=f"shopper{n}")).key for n in range(count)
    ]


def post(url: str, body: dict, token: str, key: str | None = None) -> tuple[int, dict, dict]:
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(  # noqa: S310 (the live server's http URL)
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, dict(failure.headers), json.loads(failure.read())


def fire(url: str, requests: list[tuple[dict, str, str | None]]) -> list[tuple[int, dict, dict]]:
    """Send every (body, token, key) at once, one thread each; answers in request order."""
    barrier = threading.Barrier(len(requests), timeout=TIMEOUT)

    def one(args):
        barrier.wait()
        return post(url, *args)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(one, requests, timeout=TIMEOUT))


def lines(*pairs) -> dict:
    return {
        "items": [{"product": product.pk, "quantity": quantity} for product, quantity in pairs],
        "shipping_address": ADDRESS,
    }


def ordered(product: Product) -> int:
    return OrderItem.objects.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0


def test_thirty_shoppers_racing_for_seven_items_get_exactly_seven(live_server):
    lamp = ProductFactory(stock_quantity=7, price=Decimal("30.00"))
    keys = tokens(30)

    answers = fire(f"{live_server.url}/api/v1/orders/", [(lines((lamp, 1)), k, None) for k in keys])

    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {201: 7, 409: 23}
    assert {body["code"] for status, _, body in answers if status == 409} == {"out_of_stock"}
    lamp.refresh_from_db()
    assert lamp.stock_quantity == 0
    assert Order.objects.count() == 7
    assert ordered(lamp) == 7


def test_baskets_naming_two_products_in_either_order_neither_deadlock_nor_oversell(live_server):
    desk = ProductFactory(stock_quantity=5)
    lamp = ProductFactory(stock_quantity=8)
    keys = tokens(30)
    # Half the baskets list the desk first, half the lamp: without ordered locks, two such
    # transactions would each hold one row and wait for the other's.
    requests = [
        (lines((desk, 1), (lamp, 1)) if n % 2 else lines((lamp, 1), (desk, 1)), key, None)
        for n, key in enumerate(keys)
    ]

    answers = fire(f"{live_server.url}/api/v1/orders/", requests)

    assert Counter(status for status, _, _ in answers) == {201: 5, 409: 25}
    desk.refresh_from_db()
    lamp.refresh_from_db()
    assert (desk.stock_quantity, lamp.stock_quantity) == (0, 3)
    assert (ordered(desk), ordered(lamp)) == (5, 5)


def test_random_baskets_conserve_stock_exactly(live_server):
    products = [ProductFactory(stock_quantity=10) for _ in range(3)]
    initial = {p.pk: 10 for p in products}
    rng = random.Random(4)  # a fixed mix of baskets: reproducible
    keys = tokens(40)
    requests = [
        (
            lines(*[(p, rng.randint(1, 3)) for p in rng.sample(products, rng.randint(1, 3))]),
            key,
            None,
        )
        for key in keys
    ]

    demand = Counter()
    for body, _, _ in requests:
        demand.update({line["product"]: line["quantity"] for line in body["items"]})
    assert min(demand.values()) > 10

    answers = fire(f"{live_server.url}/api/v1/orders/", requests)

    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) <= {201, 409}  # no 500, no deadlock or serialization error
    assert statuses[201] == Order.objects.count()
    # Certain whatever the interleaving: the first basket to lock its rows finds all it
    # needs (3 at most of 10), and every product is asked for more than it has.
    assert statuses[201] >= 1
    assert statuses[409] >= 1
    for product in Product.objects.filter(pk__in=initial):
        assert product.stock_quantity >= 0
        assert ordered(product) + product.stock_quantity == initial[product.pk]
    # Each accepted order holds exactly the basket that was asked for.
    for (body, _, _), (status, _, answer) in zip(requests, answers, strict=True):
        if status == 201:
            assert sorted((i["product"]["id"], i["quantity"]) for i in answer["items"]) == sorted(
                (line["product"], line["quantity"]) for line in body["items"]
            )


def test_twenty_racing_replays_of_one_idempotency_key_make_one_order(live_server):
    desk = ProductFactory(stock_quantity=50)
    (key,) = tokens(1)

    answers = fire(
        f"{live_server.url}/api/v1/orders/", [(lines((desk, 2)), key, "checkout-1")] * 20
    )

    assert Counter(status for status, _, _ in answers) == {201: 20}
    assert {body["id"] for _, _, body in answers} == {Order.objects.get().pk}
    fresh = [headers for _, headers, _ in answers if "Idempotent-Replayed" not in headers]
    assert len(fresh) == 1
    desk.refresh_from_db()
    assert desk.stock_quantity == 48


def test_one_key_racing_with_two_bodies_makes_one_order_and_refuses_the_other(live_server):
    desk = ProductFactory(stock_quantity=50)
    (key,) = tokens(1)
    requests = [(lines((desk, 1 + n % 2)), key, "checkout-1") for n in range(20)]

    answers = fire(f"{live_server.url}/api/v1/orders/", requests)

    order = Order.objects.get()
    won = order.items.get().quantity
    for (body, _, _), (status, _, answer) in zip(requests, answers, strict=True):
        if body["items"][0]["quantity"] == won:
            assert (status, answer["id"]) == (201, order.pk)
        else:
            assert (status, answer["code"]) == (422, "idempotency_key_reused")
    desk.refresh_from_db()
    assert desk.stock_quantity == 50 - won


# --------------------------------------------------------------------------- deadlocks


class OtherWriter(threading.Thread):
    """Another transaction that locks product `first`, waits until someone is blocked
    behind it, then asks for `second`: a lock cycle with whoever holds `second`.

    Its deadlock_timeout is long, so PostgreSQL's detector fires first in the other
    session (the one that has waited longest), which it then aborts: the service's.
    """

    def __init__(self, first: int, second: int):
        super().__init__()
        self.first, self.second = first, second
        self.locked = threading.Event()
        self.error = None

    def run(self):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '20s'")
                lock = "SELECT id FROM shop_product WHERE id = %s FOR UPDATE"
                cursor.execute(lock, [self.first])
                self.locked.set()
                wait_until_someone_waits_for_a_lock(cursor)
                cursor.execute(lock, [self.second])
        except Exception as error:  # reported by the test
            self.error = error
        finally:
            connection.close()


def wait_until_someone_waits_for_a_lock(cursor) -> None:
    def one_waits() -> bool:
        """one session of this database waits for a lock"""
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] == 1

    # Bounded in time, not in polls: on a loaded machine (or through PgBouncer) the other
    # transaction may take longer than a fixed number of round trips to reach its lock.
    wait_until(one_waits, timeout=TIMEOUT / 2, interval=0.005)


def test_a_deadlock_is_retried_inside_the_service(caplog):
    desk, lamp = ProductFactory(stock_quantity=5), ProductFactory(stock_quantity=5)
    user = UserFactory()
    # The service locks desk then lamp (pk order); the other writer holds lamp, then
    # asks for desk once the service is queued behind it.
    other = OtherWriter(first=lamp.pk, second=desk.pk)
    other.start()
    assert other.locked.wait(TIMEOUT)

    order, created = services.order_create(
        user=user,
        lines=[
            services.OrderLine(product_id=desk.pk, quantity=2),
            services.OrderLine(product_id=lamp.pk, quantity=1),
        ],
        shipping_address=ADDRESS,
    )
    other.join(TIMEOUT)

    assert other.error is None
    assert created is True
    assert [r.getMessage() for r in caplog.records if r.name == "shop.services"] == [
        "order_create: DeadlockDetected on attempt 1 of 3"
    ]
    assert Order.objects.get() == order
    desk.refresh_from_db()
    lamp.refresh_from_db()
    assert (desk.stock_quantity, lamp.stock_quantity) == (3, 4)


def test_a_deadlock_that_outlasts_the_retries_is_a_503_not_a_500(live_server, monkeypatch):
    monkeypatch.setattr(services, "RETRY_ATTEMPTS", 1)
    desk, lamp = ProductFactory(stock_quantity=5), ProductFactory(stock_quantity=5)
    (key,) = tokens(1)
    other = OtherWriter(first=lamp.pk, second=desk.pk)
    other.start()
    assert other.locked.wait(TIMEOUT)

    status, headers, body = post(
        f"{live_server.url}/api/v1/orders/", lines((desk, 1), (lamp, 1)), key
    )
    other.join(TIMEOUT)

    assert other.error is None
    assert (status, headers["Retry-After"], body["code"]) == (503, "1", "busy")
    assert body["message"] == "The shop is busy; please try again in a moment."
    assert Order.objects.count() == 0
    assert list(Product.objects.order_by("pk").values_list("stock_quantity", flat=True)) == [5, 5]
