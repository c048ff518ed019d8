"""Orders: create (prices from the database, stock all or nothing, Idempotency-Key), my
orders, detail, address change with If-Match, cancel; staff transitions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache

from shop.cache import order_key
from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import IdempotencyKey, Order, OrderItem, Product

from .conftest import client_for, error, row_counts

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
ADDRESS = shipping_address_for("Ada Lovelace")


def stock(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).stock_quantity for p in products]


@pytest.fixture
def desk():
    return ProductFactory(name="Walnut desk", price=Decimal("249.50"), stock_quantity=5)


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass lamp", price=Decimal("30.00"), stock_quantity=2)


def order_body(*lines, address=ADDRESS) -> dict:
    return {
        "items": [{"product": product.pk, "quantity": quantity} for product, quantity in lines],
        "shipping_address": address,
    }


# --------------------------------------------------------------------------- create


def test_a_price_sent_by_the_client_is_a_400_naming_it_and_nothing_is_written(api, desk):
    """Prices are never the client's: a unit_price in a line was silently ignored, and is
    now refused as any unknown key is (the test above sent one and expected it ignored)."""
    body = order_body((desk, 2))
    body["items"][0]["unit_price"] = "0.01"
    before = row_counts()

    body = error(api.post(ORDERS, body), 400, "invalid")

    assert body == {
        "code": "invalid",
        "message": "Unknown field. Known: product, quantity.",
        "fields": {"items.0.unit_price": ["Unknown field. Known: product, quantity."]},
    }
    assert row_counts() == before


def test_create_prices_from_the_database_and_takes_the_stock(
    api, user, desk, lamp, immediate_constraints, django_assert_num_queries
):
    body = order_body((desk, 2), (lamp, 1))

    # token, SAVEPOINT, lock products, UPDATE stock, INSERT order, INSERT items, RELEASE;
    # the response is built from what the INSERTs returned (no reading back); and one to
    # clear the audit context, which only happens here because the test's own transaction
    # outlives the request.
    with django_assert_num_queries(8):
        response = api.post(ORDERS, body)
    immediate_constraints()  # the deferred total check passes

    assert response.status_code == 201
    order = Order.objects.get()
    data = response.json()
    assert data == {
        "id": order.pk,
        "status": "pending",
        "total_amount": "529.00",
        "version": 1,
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
        "shipping_address": ADDRESS,
        "items": [
            {
                "product": {"id": desk.pk, "name": "Walnut desk"},
                "quantity": 2,
                "unit_price": "249.50",
                "subtotal": "499.00",
            },
            {
                "product": {"id": lamp.pk, "name": "Brass lamp"},
                "quantity": 1,
                "unit_price": "30.00",
                "subtotal": "30.00",
            },
        ],
    }
    assert response["Location"] == f"http://testserver/api/v1/orders/{order.pk}/"
    assert response["ETag"] == f'"order-{order.pk}-v1"'
    assert order.user == user
    assert stock(desk, lamp) == [3, 1]


def test_the_201_body_is_the_order_as_postgresql_has_it(api, desk, lamp, immediate_constraints):
    # Lines out of product order: both list the items by their own id, the request's order.
    created = api.post(ORDERS, order_body((lamp, 1), (desk, 2)))
    immediate_constraints()
    cache.delete(order_key(created.json()["id"]))  # the next GET reads PostgreSQL

    read = api.get(f"{ORDERS}{created.json()['id']}/")

    assert created.status_code == 201
    assert created.json() == read.json()
    assert created["ETag"] == read["ETag"]
    assert [item["product"]["id"] for item in created.json()["items"]] == [lamp.pk, desk.pk]


@pytest.mark.django_db(transaction=True)
def test_a_committed_checkout_costs_seven_queries_and_five_redis_round_trips(
    api, desk, lamp, django_assert_num_queries, redis_round_trips
):
    # As in production: the request's own transaction commits (no test transaction around
    # it), so the invalidations run at COMMIT, then the write-through.
    assert api.post(ORDERS, order_body((desk, 1))).status_code == 201  # loads the Lua script
    redis_round_trips.clear()

    # token; BEGIN, lock products, UPDATE stock, INSERT order, INSERT items, COMMIT. (Before:
    # 9, with the order and its items read back after COMMIT.) bench/pgbench.py's CHECKOUT_SQL
    # mirrors the six of the transaction.
    # With a replica (make test always has one), the shopper's write LSN after COMMIT, for
    # their next reads (shop/api/replicas.py): one more query, one more Redis round trip.
    lsn = 1 if settings.DATABASE_REPLICAS else 0
    with django_assert_num_queries(7 + lsn):
        response = api.post(ORDERS, order_body((desk, 2), (lamp, 1)))

    assert response.status_code == 201
    # The rate limit (one script); the cache: the products' invalidation (their details' DEL,
    # two tombstones, the catalogue's generation) and the orders' (the shopper's generation),
    # one pipeline each, then the write-through (a script that stores under the current
    # epoch; docs/caching.md); the statement counts of dbhealth/origins.py. (Before: 7, the
    # rate limit's GET and SET and the cache's DEL, INCR, INCR and SET each on its own.)
    assert [trip[0] for trip in redis_round_trips] == [
        "EVALSHA", "DEL", "INCRBY", "EVAL", *["EVAL"] * lsn, "SADD"
    ]  # fmt: skip
    assert redis_round_trips[1:4] == [["DEL", "SET", "SET", "INCRBY"], ["INCRBY"], ["EVAL"]]
    order = Order.objects.get(pk=response.json()["id"])
    assert cache.get(order_key(order.pk))["data"] == response.json()  # written through
    assert stock(desk, lamp) == [2, 1]


def test_out_of_stock_is_409_naming_every_short_line_and_nothing_is_written(api, desk, lamp):
    other = ProductFactory(stock_quantity=10)
    before = row_counts()

    response = api.post(ORDERS, order_body((other, 1), (desk, 6), (lamp, 3)))

    body = error(response, 409, "out_of_stock")
    assert body["message"] == (
        f"Not enough stock for Walnut desk (product {desk.pk}): 6 requested, 5 in stock; "
        f"Brass lamp (product {lamp.pk}): 3 requested, 2 in stock."
    )
    assert body["fields"] == {
        "items.1.quantity": ["Only 5 in stock."],
        "items.2.quantity": ["Only 2 in stock."],
    }
    assert row_counts() == before
    assert stock(other, desk, lamp) == [10, 5, 2]


@pytest.mark.parametrize("which", ["unknown", "inactive"])
def test_unknown_and_inactive_products_are_400_and_nothing_is_written(api, desk, which):
    hidden = ProductFactory(is_active=False, stock_quantity=9)
    pk = hidden.pk if which == "inactive" else hidden.pk + 1000
    before = row_counts()

    response = api.post(
        ORDERS,
        {
            "items": [{"product": desk.pk, "quantity": 1}, {"product": pk, "quantity": 1}],
            "shipping_address": ADDRESS,
        },
    )

    body = error(response, 400, "product_unavailable")
    assert body["fields"] == {
        "items.1.product": [f"Product {pk} does not exist or is not for sale."]
    }
    assert row_counts() == before
    assert stock(desk, hidden) == [5, 9]


def test_an_absurd_total_is_400_not_a_numeric_overflow(api):
    gold = ProductFactory(price=Decimal("99999999.99"), stock_quantity=1000)
    before = row_counts()

    body = error(api.post(ORDERS, order_body((gold, 200))), 400, "invalid")

    assert body["message"] == "An order's total cannot exceed 9,999,999,999.99."
    assert row_counts() == before
    assert stock(gold) == [1000]


def line(product="DESK", quantity=1):
    return {"product": product, "quantity": quantity}


@pytest.mark.parametrize(
    ("items", "address", "where"),
    [
        ([line(quantity=0)], ADDRESS, "items.0.quantity"),
        ([line(quantity=-1)], ADDRESS, "items.0.quantity"),
        ([line(quantity=1001)], ADDRESS, "items.0.quantity"),
        ([line(quantity=10**20)], ADDRESS, "items.0.quantity"),
        ([line(quantity="two")], ADDRESS, "items.0.quantity"),
        ([line(quantity=1.5)], ADDRESS, "items.0.quantity"),
        ([line(quantity=None)], ADDRESS, "items.0.quantity"),
        ([{"product": "DESK"}], ADDRESS, "items.0.quantity"),
        ([line(product="desk")], ADDRESS, "items.0.product"),
        ([line(product=0)], ADDRESS, "items.0.product"),
        ([line(product=2**63)], ADDRESS, "items.0.product"),
        ([line(), line(quantity=2)], ADDRESS, "items.1.product"),  # a duplicate line
        ([], ADDRESS, "items"),
        ("DESK", ADDRESS, "items"),
        ([line(product=n) for n in range(1, 102)], ADDRESS, "items"),
        ([line()], {**ADDRESS, "country": "gb"}, "shipping_address.country"),
        ([line()], {k: v for k, v in ADDRESS.items() if k != "city"}, "shipping_address.city"),
        ([line()], "1 High Street", "shipping_address.non_field_errors"),
        ([line()], None, "shipping_address"),
    ],
)
def test_bad_order_input_is_400_naming_the_field_and_nothing_is_written(
    api, desk, items, address, where
):
    def resolve(value):
        return desk.pk if value == "DESK" else value

    if isinstance(items, list):
        items = [{k: resolve(v) for k, v in item.items()} for item in items]
    before = row_counts()

    body = error(api.post(ORDERS, {"items": items, "shipping_address": address}), 400, "invalid")

    # One flat shape whatever went wrong: the field's dotted path -> its messages, and the
    # message is the first of them, not prefixed with the path.
    shown = where.replace(".non_field_errors", "")
    assert list(body["fields"]) == [shown], body
    assert body["message"] == body["fields"][shown][0], body
    assert not body["message"].startswith(shown.split(".")[0]), body
    assert row_counts() == before
    assert stock(desk) == [5]


def test_malformed_json_is_400_and_nothing_is_written(api, desk):
    before = row_counts()

    response = api.post(ORDERS, data='{"items": [', content_type="application/json")

    error(response, 400, "parse_error")
    assert row_counts() == before


def test_creating_an_order_needs_a_login(anon, desk):
    error(anon.post(ORDERS, order_body((desk, 1))), 401, "not_authenticated")

    assert stock(desk) == [5]


# --------------------------------------------------------------------------- idempotency


def test_the_same_key_and_body_replay_the_same_order(api, desk, lamp):
    first = api.post(ORDERS, order_body((desk, 1), (lamp, 1)), HTTP_IDEMPOTENCY_KEY="k-1")
    # The same order written differently (lines swapped) is the same request.
    again = api.post(ORDERS, order_body((lamp, 1), (desk, 1)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first.has_header("Idempotent-Replayed") is False
    assert Order.objects.count() == 1
    assert stock(desk, lamp) == [4, 1]
    assert IdempotencyKey.objects.get().order_id == first.json()["id"]


def test_a_replay_is_answered_from_the_order_the_service_returns(
    api, desk, lamp, django_assert_num_queries
):
    first = api.post(ORDERS, order_body((desk, 1), (lamp, 1)), HTTP_IDEMPOTENCY_KEY="k-1")

    # token, SAVEPOINT, claim the key (ON CONFLICT: taken), read the key, the order, its
    # items, RELEASE; and the audit context's reset (the test's transaction outlives the
    # request). The view reads nothing itself: services.order_create returned it whole.
    with django_assert_num_queries(8):
        again = api.post(ORDERS, order_body((desk, 1), (lamp, 1)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]


def test_the_same_key_with_another_body_is_422_and_nothing_is_written(api, desk):
    api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="k-1")
    before = row_counts()

    response = api.post(ORDERS, order_body((desk, 2)), HTTP_IDEMPOTENCY_KEY="k-1")

    error(response, 422, "idempotency_key_reused")
    assert row_counts() == before
    assert stock(desk) == [4]


def test_keys_belong_to_their_user(api, desk):
    other = client_for(UserFactory(username="grace"))

    mine = api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="same")
    theirs = other.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY="same")

    assert mine.json()["id"] != theirs.json()["id"]
    assert stock(desk) == [3]


def test_a_refused_order_does_not_use_up_its_key(api, desk):
    refused = api.post(ORDERS, order_body((desk, 9)), HTTP_IDEMPOTENCY_KEY="k-1")
    Product.objects.filter(pk=desk.pk).update(stock_quantity=9)

    accepted = api.post(ORDERS, order_body((desk, 9)), HTTP_IDEMPOTENCY_KEY="k-1")

    assert (refused.status_code, accepted.status_code) == (409, 201)
    assert stock(desk) == [0]


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "tab\there"])
def test_a_malformed_idempotency_key_is_400(api, desk, key):
    before = row_counts()

    body = error(api.post(ORDERS, order_body((desk, 1)), HTTP_IDEMPOTENCY_KEY=key), 400, "invalid")

    assert list(body["fields"]) == ["Idempotency-Key"]
    assert row_counts() == before


# --------------------------------------------------------------------------- my orders


def test_my_orders_newest_first_and_only_mine(api, user):
    T0 = datetime(2025, 1, 1, tzinfo=UTC)
    old = OrderFactory(user=user, created_at=T0)
    new = OrderFactory(user=user, created_at=T0 + timedelta(days=1), status="processing")
    OrderFactory(created_at=T0 + timedelta(days=2))  # someone else's

    body = api.get(ORDERS).json()
    processing = api.get(f"{ORDERS}?status=processing").json()

    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]
    assert body["results"][1] == {
        "id": old.pk,
        "status": "pending",
        "total_amount": "0.00",
        "version": 1,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": body["results"][1]["updated_at"],
    }
    assert [row["id"] for row in processing["results"]] == [new.pk]


@pytest.mark.parametrize("page_size", [5, 20])
def test_my_orders_cost_two_queries_whatever_the_page(
    api, user, page_size, django_assert_num_queries
):
    orders = OrderFactory.create_batch(2 * page_size + 1, user=user)

    with django_assert_num_queries(2):  # token, orders
        first = api.get(f"{ORDERS}?page_size={page_size}").json()
    with django_assert_num_queries(2):
        second = api.get(first["next"]).json()

    ids = [row["id"] for row in first["results"] + second["results"]]
    assert ids == sorted((o.pk for o in orders), reverse=True)[: 2 * page_size]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=lost", "status"), ("user=1", "user"), ("page_size=1000", "page_size")],
)
def test_bad_order_list_parameters_are_400(api, query, field):
    body = error(api.get(f"{ORDERS}?{query}"), 400, "invalid")

    assert list(body["fields"]) == [field]


def test_my_orders_need_a_login(anon):
    error(anon.get(ORDERS), 401, "not_authenticated")


def test_order_detail_costs_three_queries(api, user, desk, django_assert_num_queries):
    order = OrderFactory(user=user, lines=[(desk, 2)])

    with django_assert_num_queries(3):  # token, order, items with their products
        response = api.get(f"{ORDERS}{order.pk}/")

    assert response.json()["items"][0]["product"] == {"id": desk.pk, "name": "Walnut desk"}
    assert response["ETag"] == f'"order-{order.pk}-v1"'


def test_another_users_order_is_404_everywhere(api, desk):
    theirs = OrderFactory(lines=[(desk, 1)])
    before = row_counts()
    url = f"{ORDERS}{theirs.pk}/"

    error(api.get(url), 404, "not_found")
    error(api.post(f"{url}cancel/"), 404, "not_found")
    error(api.patch(url, {"shipping_address": ADDRESS}, HTTP_IF_MATCH="*"), 404, "not_found")

    assert Order.objects.get(pk=theirs.pk).status == "pending"
    assert row_counts() == before


# --------------------------------------------------------------------------- change, cancel


def test_change_the_address_of_a_pending_order_with_if_match(api, user):
    order = OrderFactory(user=user)
    url = f"{ORDERS}{order.pk}/"
    etag = api.get(url)["ETag"]
    moved = {**ADDRESS, "line1": "2 Low Road", "line2": "Flat 3"}

    response = api.patch(url, {"shipping_address": moved}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["shipping_address"] == moved
    assert response["ETag"] == f'"order-{order.pk}-v2"'
    assert Order.objects.get().shipping_address == moved


def test_a_stale_if_match_on_an_order_is_412_and_nothing_is_written(api, user):
    order = OrderFactory(user=user, shipping_address=ADDRESS)
    url = f"{ORDERS}{order.pk}/"
    stale = api.get(url)["ETag"]
    Order.objects.filter(pk=order.pk).update(status="processing")  # staff moved it

    moved = {**ADDRESS, "line1": "2 Low Road"}
    error(
        api.patch(url, {"shipping_address": moved}, HTTP_IF_MATCH=stale), 412, "precondition_failed"
    )
    error(api.post(f"{url}cancel/", HTTP_IF_MATCH=stale), 412, "precondition_failed")
    error(api.patch(url, {"shipping_address": moved}), 428, "precondition_required")

    order.refresh_from_db()
    assert (order.status, order.shipping_address, order.version) == ("processing", ADDRESS, 2)


def test_only_a_pending_orders_address_can_change(api, user):
    order = OrderFactory(user=user, status="processing", shipping_address=ADDRESS)
    url = f"{ORDERS}{order.pk}/"

    response = api.patch(
        url, {"shipping_address": {**ADDRESS, "city": "Leeds"}}, HTTP_IF_MATCH=api.get(url)["ETag"]
    )

    error(response, 409, "order_not_editable")
    assert Order.objects.get().shipping_address == ADDRESS


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_cancel_returns_the_stock(api, user, desk, lamp, status, immediate_constraints):
    order = OrderFactory(user=user, status=status, lines=[(desk, 2), (lamp, 1)])
    Product.objects.filter(pk__in=[desk.pk, lamp.pk]).update(stock_quantity=0)

    response = api.post(f"{ORDERS}{order.pk}/cancel/")
    immediate_constraints()

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert stock(desk, lamp) == [2, 1]
    assert OrderItem.objects.filter(order=order).count() == 2  # the record stays


@pytest.mark.parametrize("status", ["shipped", "delivered", "cancelled"])
def test_cancel_after_shipping_is_409_and_nothing_moves(api, user, desk, status):
    order = OrderFactory(user=user, status=status, lines=[(desk, 1)])

    body = error(api.post(f"{ORDERS}{order.pk}/cancel/"), 409, "order_not_cancellable")

    assert body["message"] == (
        f"Order {order.pk} is {status}: only pending or processing orders can be cancelled."
    )
    assert Order.objects.get().status == status
    assert stock(desk) == [5]


# --------------------------------------------------------------------------- staff


def staff_url(order, action=""):
    return f"/api/v1/staff/orders/{order.pk}/{action}"


def test_staff_move_an_order_along_the_workflow(staff, desk):
    order = OrderFactory(lines=[(desk, 1)])

    statuses = []
    for step in ["processing", "shipped", "delivered"]:
        response = staff.post(staff_url(order, "transition/"), {"status": step})
        assert response.status_code == 200, response.json()
        statuses.append(response.json()["status"])

    assert statuses == ["processing", "shipped", "delivered"]
    assert Order.objects.get().version == 4
    assert stock(desk) == [5]


@pytest.mark.parametrize(
    ("current", "target", "message", "field"),
    [
        ("pending", "shipped", "pending: it can move to processing or cancelled, not shipped.",
         "Not allowed from pending; allowed: processing, cancelled."),
        ("pending", "delivered", "pending: it can move to processing or cancelled, not delivered.",
         "Not allowed from pending; allowed: processing, cancelled."),
        ("processing", "delivered",
         "processing: it can move to shipped or cancelled, not delivered.",
         "Not allowed from processing; allowed: shipped, cancelled."),
        ("shipped", "cancelled", "shipped: it can move to delivered, not cancelled.",
         "Not allowed from shipped; allowed: delivered."),
        ("delivered", "shipped", "delivered, a final status: it cannot move to shipped.",
         "Not allowed from delivered, a final status."),
        ("cancelled", "processing", "cancelled, a final status: it cannot move to processing.",
         "Not allowed from cancelled, a final status."),
        # Back to pending is no step at all: the same 409, not a 400 "not a valid choice".
        ("delivered", "pending", "delivered, a final status: it cannot move to pending.",
         "Not allowed from delivered, a final status."),
        ("processing", "pending", "processing: it can move to shipped or cancelled, not pending.",
         "Not allowed from processing; allowed: shipped, cancelled."),
    ],
)  # fmt: skip
def test_illegal_transitions_are_409_name_the_next_statuses_and_change_nothing(
    staff, desk, current, target, message, field
):
    order = OrderFactory(status=current, lines=[(desk, 1)])

    body = error(
        staff.post(staff_url(order, "transition/"), {"status": target}), 409, "illegal_transition"
    )

    assert body["message"] == f"Order {order.pk} is {message}"
    assert body["fields"] == {"status": [field]}
    assert Order.objects.get().status == current
    assert stock(desk) == [5]


def test_staff_cancel_returns_the_stock(staff, desk):
    order = OrderFactory(status="processing", lines=[(desk, 3)])

    response = staff.post(staff_url(order, "transition/"), {"status": "cancelled"})

    assert response.json()["status"] == "cancelled"
    assert stock(desk) == [8]


def test_staff_transition_honours_if_match(staff):
    order = OrderFactory()
    stale = staff.get(staff_url(order))["ETag"]
    Order.objects.filter(pk=order.pk).update(shipping_address={**ADDRESS, "city": "Leeds"})

    response = staff.post(
        staff_url(order, "transition/"), {"status": "processing"}, HTTP_IF_MATCH=stale
    )

    error(response, 412, "precondition_failed")
    assert Order.objects.get().status == "pending"


@pytest.mark.parametrize("status", ["lost", "", None, "PENDING"])
def test_staff_transition_refuses_what_is_no_status(staff, status):
    order = OrderFactory()

    body = error(staff.post(staff_url(order, "transition/"), {"status": status}), 400, "invalid")

    assert list(body["fields"]) == ["status"]
    assert Order.objects.get().status == "pending"


def test_staff_endpoints_are_for_staff_only(api, anon):
    order = OrderFactory()

    error(api.get(staff_url(order)), 403, "permission_denied")
    error(
        api.post(staff_url(order, "transition/"), {"status": "processing"}),
        403,
        "permission_denied",
    )
    error(anon.get(staff_url(order)), 401, "not_authenticated")
    assert Order.objects.get().status == "pending"


def test_staff_see_any_order_and_unknown_is_404(staff, desk, django_assert_num_queries):
    order = OrderFactory(lines=[(desk, 1)])

    with django_assert_num_queries(3):  # token, order, items
        assert staff.get(staff_url(order)).json()["id"] == order.pk
    error(staff.get(f"/api/v1/staff/orders/{order.pk + 1}/"), 404, "not_found")
