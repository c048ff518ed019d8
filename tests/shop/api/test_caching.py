"""The API behind the cache: fast reads that are never stale after a write, and a Redis
outage that costs speed, not correctness.

Writes invalidate in transaction.on_commit; a test's transaction never commits, so each write
here runs inside django_capture_on_commit_callbacks(execute=True), which runs the callbacks as
a real COMMIT would (and only if the block did not raise).
"""

from decimal import Decimal

import pytest
import redis
from django.core.management import call_command
from django.db import transaction

from scripts.stack import EmbeddedRedis
from shop import cache as shop_cache
from shop import selectors, services
from shop.api import representations, rls
from shop.cache import product_key
from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Product
from shop.tasks import product_cache_warm
from tests.conftest import free_port, wait_until
from tests.shop.api.conftest import client_for
from tests.shop.test_admin import product_form

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def product_url(product) -> str:
    return f"/api/v1/products/{product.pk}/"


def order_body(*lines) -> dict:
    return {
        "items": [{"product": product.pk, "quantity": quantity} for product, quantity in lines],
        "shipping_address": shipping_address_for("Ada Lovelace"),
    }


def test_a_cached_product_detail_costs_no_query(anon, django_assert_num_queries, redis_round_trips):
    product = ProductFactory(name="Walnut desk")

    with django_assert_num_queries(1):
        first = anon.get(product_url(product))
    redis_round_trips.clear()
    with django_assert_num_queries(0):
        second = anon.get(product_url(product))

    # The anonymous and the per-client rate limits, then the entry read with its hit counted
    # (one script each; before: a GET and a SET per limit, a GET and an HINCRBY).
    assert redis_round_trips == [["EVALSHA"], ["EVALSHA"], ["EVALSHA"]]
    assert first.json() == second.json()
    assert second.json()["name"] == "Walnut desk"
    assert shop_cache.stats()["product"] == {"hit": 1, "miss": 1}


def test_a_price_changed_in_the_admin_shows_on_the_very_next_read(
    anon, admin_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(price=Decimal("10.00"))
    assert anon.get(product_url(product)).json()["price"] == "10.00"  # now cached
    assert anon.get("/api/v1/products/").json()["results"][0]["price"] == "10.00"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/shop/product/{product.pk}/change/", product_form(product, price="12.50")
        )

    assert response.status_code == 302
    assert anon.get(product_url(product)).json()["price"] == "12.50"
    assert anon.get("/api/v1/products/").json()["results"][0]["price"] == "12.50"


def test_an_orders_stock_change_shows_through_the_cached_detail(
    api, anon, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock_quantity=5)
    assert anon.get(product_url(product)).json()["stock_quantity"] == 5

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(ORDERS, order_body((product, 2))).status_code == 201

    assert anon.get(product_url(product)).json()["stock_quantity"] == 3


def test_a_new_order_is_written_through_and_my_pages_are_refreshed(
    api, django_capture_on_commit_callbacks, django_assert_num_queries
):
    product = ProductFactory(stock_quantity=5)
    assert api.get(ORDERS).json()["results"] == []  # my (empty) first page, now cached

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(ORDERS, order_body((product, 1))).json()

    with django_assert_num_queries(1):  # the token; the order itself comes from the cache
        detail = api.get(f"{ORDERS}{created['id']}/")
    assert detail.json() == created
    assert [order["id"] for order in api.get(ORDERS).json()["results"]] == [created["id"]]


def test_a_cached_order_is_still_another_users_404(api, django_capture_on_commit_callbacks):
    product = ProductFactory(stock_quantity=5)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(ORDERS, order_body((product, 1))).json()
    assert shop_cache.stats()["order"] == {"hit": 0, "miss": 0}  # written through, not read

    other = client_for(UserFactory())
    response = other.get(f"{ORDERS}{created['id']}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert shop_cache.stats()["order"] == {"hit": 1, "miss": 0}  # found, and refused


def test_a_refused_order_leaves_the_cache_untouched(api, anon, django_capture_on_commit_callbacks):
    product = ProductFactory(stock_quantity=1)
    cached = anon.get(product_url(product)).json()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert api.post(ORDERS, order_body((product, 2))).status_code == 409

    assert callbacks == []  # rolled back: nothing was registered to run
    assert shop_cache.cache.get(product_key(product.pk)) == cached


def test_redis_stopped_mid_test_the_api_answers_from_postgres_and_caching_resumes(
    tmp_path, settings, anon, monkeypatch, django_assert_num_queries
):
    redis = EmbeddedRedis(tmp_path, free_port())
    redis.start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": redis.url()}}
    product = ProductFactory(name="Lamp", stock_quantity=4)
    try:
        assert anon.get(product_url(product)).status_code == 200  # cached

        redis.stop()
        with django_assert_num_queries(3):  # each read answered from PostgreSQL
            down = [anon.get(product_url(product)) for _ in range(3)]
        listing = anon.get("/api/v1/products/")  # throttling's counters are in Redis too

        redis.start()
        monkeypatch.setattr(shop_cache.breaker, "_open_until", 0.0)  # its 5 s have passed
        # A restarted server begins a new epoch: the entry its append-only file brought
        # back is not trusted (an invalidation may have been lost while it was down).
        with django_assert_num_queries(1):
            back = anon.get(product_url(product))
        with django_assert_num_queries(0):
            again = anon.get(product_url(product))
    finally:
        redis.stop()

    assert [r.status_code for r in down] == [200, 200, 200]
    assert {r.json()["name"] for r in down} == {"Lamp"}
    assert listing.status_code == 200
    assert back.status_code == again.status_code == 200
    assert back.json()["stock_quantity"] == again.json()["stock_quantity"] == 4


@pytest.mark.django_db(transaction=True)
def test_the_warm_task_fills_exactly_the_top_n_keys_on_a_real_worker(celery_worker):
    products = ProductFactory.create_batch(5, stock_quantity=100)
    # Units sold: p0: 5, p1: 4, p2: 3, p3: 2, p4: 1 (p4's cancelled order of 50 does not count)
    for rank, product in enumerate(products):
        OrderFactory(lines=[(product, 5 - rank)])
    OrderFactory(lines=[(products[4], 50)], status="cancelled")
    for product in products:
        shop_cache.cache.delete(product_key(product.pk))

    with transaction.atomic():
        transaction.on_commit(lambda: product_cache_warm.delay(limit=3))
    wait_until(lambda: shop_cache.cache.get(product_key(products[2].pk)) is not None)

    cached = [shop_cache.cache.get(product_key(p.pk)) for p in products]
    assert [entry is not None for entry in cached] == [True, True, True, False, False]
    assert [entry["stock_quantity"] for entry in cached[:3]] == [
        Product.objects.get(pk=p.pk).stock_quantity for p in products[:3]
    ]


def test_warming_twice_is_warming_once():
    products = [ProductFactory(stock_quantity=10) for _ in range(2)]
    OrderFactory(lines=[(products[0], 2), (products[1], 1)])

    first = product_cache_warm(limit=1)
    entry = shop_cache.cache.get(product_key(products[0].pk))
    second = product_cache_warm(limit=1)

    assert first == second == [products[0].pk]
    assert shop_cache.cache.get(product_key(products[0].pk)) == entry
    assert shop_cache.cache.get(product_key(products[1].pk)) is None


# --------------------------------------------------------------------------- lost invalidations
# The rule: no read that starts after a write's response was sent returns data older than
# that write, even when Redis stalls or restarts during the write's invalidation.


def change_url(product) -> str:
    return f"/admin/shop/product/{product.pk}/change/"


def test_a_price_changed_while_redis_is_paused_is_fresh_during_and_after_the_pause(
    private_redis, anon, admin_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(price=Decimal("10.00"), stock_quantity=100)
    assert anon.get(product_url(product)).json()["price"] == "10.00"  # now cached
    redis.Redis.from_url(private_redis.url()).execute_command("CLIENT", "PAUSE", 3000, "WRITE")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url(product), product_form(product, price="55.55", stock_quantity=93)
        )
    during = anon.get(product_url(product)).json()
    # Wait out the pause: a write sent now is run when it ends, after what was queued before.
    redis.Redis.from_url(private_redis.url(), socket_timeout=10).set("pause-over", 1)
    shop_cache.breaker.reset()  # as in a process that saw no Redis error
    after = anon.get(product_url(product)).json()

    assert response.status_code == 302
    assert (during["price"], during["stock_quantity"]) == ("55.55", 93)  # from PostgreSQL
    assert (after["price"], after["stock_quantity"]) == ("55.55", 93)
    assert shop_cache.stats()["product"] == {"hit": 0, "miss": 2}  # the first read, the last


def test_redis_restarted_from_its_append_only_file_serves_nothing_older_than_a_write(
    private_redis, anon, admin_client, django_capture_on_commit_callbacks
):
    product = ProductFactory(price=Decimal("10.00"), stock_quantity=100)
    assert anon.get(product_url(product)).json()["price"] == "10.00"  # now cached
    entry = shop_cache.cache.make_key(product_key(product.pk))

    private_redis.stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url(product), product_form(product, price="55.55", stock_quantity=93)
        )
    private_redis.start()
    reloaded = redis.Redis.from_url(private_redis.url()).exists(entry)
    shop_cache.breaker.reset()  # as in a process that saw no Redis error and lost nothing
    after = anon.get(product_url(product)).json()

    assert response.status_code == 302
    assert reloaded == 1  # the append-only file brought the old entry back
    assert (after["price"], after["stock_quantity"]) == ("55.55", 93)


# ------------------------------------------------------------------ overtaken invalidations
# A miss reads PostgreSQL, then a writer commits and invalidates, then the miss stores what it
# read: the builder is patched to run the writer between its read and the store.


def write_after_the_read(monkeypatch, module, name, write) -> None:
    """`module.name` (called by a builder after its PostgreSQL read) first commits `write`."""
    original = getattr(module, name)

    def patched(*args, **kwargs):
        value = original(*args, **kwargs)
        monkeypatch.setattr(module, name, original)  # once
        write()
        return value

    monkeypatch.setattr(module, name, patched)


def cancel(order, django_capture_on_commit_callbacks):
    """Staff cancel the order, as another session would (here inside the racing request,
    so on the staff login, as the admin's cancel runs)."""

    def write() -> None:
        with rls.staff(), django_capture_on_commit_callbacks(execute=True):
            services.order_cancel(order_id=order.pk, owner=None)

    return write


def test_a_product_detail_read_before_a_cancel_committed_is_not_stored_after_it(
    anon, monkeypatch, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock_quantity=5)
    order = OrderFactory(lines=[(product, 2)])
    write_after_the_read(
        monkeypatch,
        representations,
        "build_product_detail",
        cancel(order, django_capture_on_commit_callbacks),
    )

    raced = anon.get(product_url(product)).json()
    after = anon.get(product_url(product)).json()

    assert raced["stock_quantity"] == 5  # read before the cancel committed
    assert after["stock_quantity"] == Product.objects.get(pk=product.pk).stock_quantity == 7


def test_an_order_detail_read_before_a_cancel_committed_is_not_stored_after_it(
    monkeypatch, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock_quantity=5)
    order = OrderFactory(lines=[(product, 1)])
    owner = client_for(order.user)
    write_after_the_read(
        monkeypatch,
        representations,
        "order_entry",
        cancel(order, django_capture_on_commit_callbacks),
    )

    raced = owner.get(f"{ORDERS}{order.pk}/").json()
    after = owner.get(f"{ORDERS}{order.pk}/").json()

    assert raced["status"] == "pending"
    assert after["status"] == "cancelled"


def test_a_profile_read_before_an_update_committed_is_not_stored_after_it(
    user, api, monkeypatch, django_capture_on_commit_callbacks
):
    def write() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.profile_update(user=user, if_match=None, first_name="Grace")

    before = api.get("/api/v1/me/profile/").json()["first_name"]  # the profile row exists
    shop_cache.cache.delete(shop_cache.profile_key(user.pk))
    write_after_the_read(monkeypatch, selectors, "profile_etag", write)

    raced = api.get("/api/v1/me/profile/")
    after = api.get("/api/v1/me/profile/")

    assert before != "Grace"
    assert raced.json()["first_name"] == before  # read before the update committed
    assert after.json()["first_name"] == "Grace"
    assert after.headers["ETag"] != raced.headers["ETag"]


def test_the_warm_task_does_not_store_a_detail_a_cancel_overtook(
    anon, monkeypatch, django_capture_on_commit_callbacks
):
    product = ProductFactory(stock_quantity=5)
    order = OrderFactory(lines=[(product, 2)])
    write_after_the_read(
        monkeypatch,
        representations,
        "build_product_detail",
        cancel(order, django_capture_on_commit_callbacks),
    )

    assert product_cache_warm(limit=1) == [product.pk]
    after = anon.get(product_url(product)).json()

    assert after["stock_quantity"] == Product.objects.get(pk=product.pk).stock_quantity == 7


def test_seeding_retires_every_cached_page(anon, django_capture_on_commit_callbacks):
    # The seed refuses to add a catalogue to one that exists, so the cached page is the
    # empty catalogue's: a page the seed's products must not be hidden behind.
    before = anon.get("/api/v1/products/").json()["results"]  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed", users=1, categories=1, products=3, orders=0, verbosity=0)
    after = [p["id"] for p in anon.get("/api/v1/products/").json()["results"]]

    assert before == []
    assert sorted(after) == sorted(Product.objects.values_list("pk", flat=True))
    assert len(after) == 3
