"""The API's cached representations: what a cache entry holds, built from PostgreSQL.

Keys, TTLs and invalidation are in shop/cache.py; this module only says what is stored, so
the views and the cache-warming task (shop/tasks.py) build exactly the same thing. Values
are plain dicts and lists (JSON-shaped), never model instances.
"""

from typing import Any

from shop import cache, selectors
from shop.api import serializers as s
from shop.cache import Family
from shop.errors import ErrorCode, ShopError
from shop.fastpaths import serializer_reuse


def plain(value: Any) -> Any:
    """DRF's ReturnDict/ReturnList (which hold their serializer) as plain dicts and lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def build_product_detail(product_id: int) -> dict:
    return plain(s.ProductOutput(selectors.product_get(product_id=product_id)).data)


def product_detail(product_id: int) -> dict:
    """An active product's detail (404 for others: a miss that raises caches nothing)."""
    key = cache.product_key(product_id)
    return cache.cached(Family.PRODUCT, key, lambda: build_product_detail(product_id))


def category_tree() -> list:
    def build() -> list:
        return plain(s.CategoryTreeOutput(selectors.category_tree(), many=True).data)

    return cache.cached(Family.CATEGORY_TREE, cache.category_tree_key(), build)


def profile(user) -> dict:
    """{"data": ..., "etag": ...}: the ETag is cached with the representation it describes."""

    def build() -> dict:
        found = selectors.profile_get(user=user)
        data = plain(s.ProfileSerializer(found).data)
        return {"data": data, "etag": selectors.profile_etag(found)}

    return cache.cached(Family.PROFILE, cache.profile_key(user.pk), build)


def order_detail(order_id: int, user_id: int) -> dict:
    """{"data", "etag", "user_id"} of one order. The owner is part of the cached value and is
    checked by the caller: an order id alone never hands an order to another user."""

    def build() -> dict:
        return order_entry(selectors.order_get(order_id=order_id, user_id=user_id))

    entry = cache.cached(Family.ORDER, cache.order_key(order_id), build)
    if entry["user_id"] != user_id:
        raise ShopError(ErrorCode.NOT_FOUND, "No such order.")
    return entry


def order_entry(order) -> dict:
    return {
        "data": plain(serializer_reuse.shared(s.OrderOutput).to_representation(order)),
        "etag": selectors.order_etag(order),
        "user_id": order.user_id,
    }


def order_created(order) -> dict:
    """Write-through: a new order is cached as it is returned, once its transaction commits."""
    entry = order_entry(order)
    cache.write_through(Family.ORDER, cache.order_key(order.pk), entry)
    return entry


def page_params(request) -> dict:
    """What a list page depends on: its query string, and the host its links are built on."""
    return {"query": sorted(request.query_params.lists()), "host": request.get_host()}
