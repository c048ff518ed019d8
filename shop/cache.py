"""Every cache key, TTL and invalidation of the shop, in one place.

Reads are cache-aside (`cached`): look in Redis, else build from PostgreSQL and store. Writes
invalidate after COMMIT (`invalidate_*` register transaction.on_commit callbacks), so a
rolled-back write never touches the cache and a committed one is never followed by a stale
read. List pages are invalidated wholesale by bumping a generation number that is part of
their keys: one INCR instead of finding every page that might hold the row.

Redis is an optimisation, never a dependency: when it is down or slow, every read is answered
from PostgreSQL (logged), and a short circuit breaker stops each request from paying the
socket timeout again; caching resumes by itself once Redis answers.

Concurrent misses on one key are collapsed (single flight): one request builds the value
under a short Redis lock while the others wait for it, so a hot key expiring costs one
database read, not N.

A read is one Redis round trip: a script GETs the entry and counts the hit or miss.
Each invalidation or write-through is one Redis round trip (a pipeline of its commands);
inside `batched()` (a checkout: its invalidations at COMMIT, then the new order's
write-through) they all go out together in one round trip when the block ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.client import Pipeline
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")
VERSION = 1  # bump to orphan every key when the cached shapes change


class Family(StrEnum):
    """Key families: the unit of TTLs, invalidation and hit/miss counting."""

    PRODUCT = "product"  # one product's detail, by id
    PRODUCT_LIST = "product-list"  # a page of the catalogue, by its query
    CATEGORY_TREE = "category-tree"  # the whole tree
    PROFILE = "profile"  # one user's user + profile representation
    ORDER = "order"  # one order's detail, written through on creation
    ORDER_LIST = "order-list"  # a page of one user's orders


# Seconds. Invalidation keeps entries correct; TTLs only bound memory and the damage of a
# write that bypassed the services (raw SQL), so they are short where that matters most.
TTL = {
    Family.PRODUCT: 300,
    Family.PRODUCT_LIST: 60,
    Family.CATEGORY_TREE: 3600,
    Family.PROFILE: 300,
    Family.ORDER: 300,
    Family.ORDER_LIST: 30,
}

STATS_KEY = f"stats:v{VERSION}"  # a Redis hash: "<family>:hit" / "<family>:miss" counters
LOCK_SECONDS = 5  # a builder holding the single-flight lock longer than this loses it
BREAKER_SECONDS = 5.0  # after a Redis error, skip the cache for this long


# --------------------------------------------------------------------------- breaker


class _Breaker:
    """Open for BREAKER_SECONDS after a Redis error: reads go straight to PostgreSQL."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def closed(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self, error: Exception) -> None:
        with self._lock:
            if self.closed():
                log.warning("cache unavailable, serving from PostgreSQL: %s", error)
            self._open_until = time.monotonic() + BREAKER_SECONDS

    def reset(self) -> None:
        self._open_until = 0.0


breaker = _Breaker()
_MISSING = object()


# --------------------------------------------------------------------------- keys


def _digest(params: dict[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def product_key(product_id: int) -> str:
    return f"{Family.PRODUCT}:v{VERSION}:{product_id}"


def category_tree_key() -> str:
    return f"{Family.CATEGORY_TREE}:v{VERSION}"


def profile_key(user_id: int) -> str:
    return f"{Family.PROFILE}:v{VERSION}:{user_id}"


def order_key(order_id: int) -> str:
    return f"{Family.ORDER}:v{VERSION}:{order_id}"


def _generation_key(family: Family, scope: str = "all") -> str:
    return f"{family}:v{VERSION}:gen:{scope}"


def _generation(family: Family, scope: str = "all") -> int:
    if not breaker.closed():
        return -1  # not read: nothing is cached while the breaker is open
    try:
        return int(
            get_redis_connection("default").get(cache.make_key(_generation_key(family, scope))) or 0
        )
    except RedisError as error:
        breaker.trip(error)
        return -1


def product_list_key(params: dict[str, Any]) -> str:
    """A catalogue page: its query, under the catalogue's current generation."""
    return f"{Family.PRODUCT_LIST}:v{VERSION}:{_generation(Family.PRODUCT_LIST)}:{_digest(params)}"


def order_list_key(user_id: int, params: dict[str, Any]) -> str:
    """A page of one user's orders, under that user's generation and the global one."""
    everyone = _generation(Family.ORDER_LIST)
    mine = _generation(Family.ORDER_LIST, str(user_id))
    return f"{Family.ORDER_LIST}:v{VERSION}:{user_id}:{everyone}.{mine}:{_digest(params)}"


# --------------------------------------------------------------------------- reads


def cached(family: Family, key: str, build: Callable[[], T]) -> T:
    """Cache-aside read of `key`, built by `build()` from PostgreSQL on a miss."""
    if not breaker.closed():
        return build()
    try:
        value = _get_counted(family, key)
        if value is not _MISSING:
            return value
        # Single flight: one builder per key; the others wait on the lock, then find the
        # value it stored.
        with cache.lock(f"lock:{key}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):
            value = cache.get(key, _MISSING)
            if value is _MISSING:
                value = build()
                cache.set(key, value, TTL[family])
            return value
    except LockError:
        return build()  # the builder took too long: answer without caching
    except RedisError as error:
        breaker.trip(error)
        return build()


# GET the key and count the hit or the miss in the statistics hash: one round trip.
GET_COUNTED = """
local value = redis.call('GET', KEYS[1])
redis.call('HINCRBY', KEYS[2], value and ARGV[1] or ARGV[2], 1)
return value
"""


def _get_counted(family: Family, key: str) -> Any:
    """The cached value of key (or _MISSING), its hit or miss counted."""
    script = get_redis_connection("default").register_script(GET_COUNTED)
    raw = script(
        keys=[cache.make_key(key), cache.make_key(STATS_KEY)],
        args=[f"{family}:hit", f"{family}:miss"],
    )
    return _MISSING if raw is None else cache.client.decode(raw)


def refresh(family: Family, key: str, value: Any) -> None:
    """Store a value read from PostgreSQL just now (cache warming), ignoring an outage."""
    _safely(cache.set, key, value, TTL[family])


def write_through(family: Family, key: str, value: Any) -> None:
    """Store a value just written to PostgreSQL, once the transaction commits."""
    encoded = cache.client.encode(value)
    _after_commit(lambda pipe: pipe.set(cache.make_key(key), encoded, ex=TTL[family]))


def stats() -> dict[str, dict[str, int]]:
    """{"product": {"hit": 3, "miss": 1}, ...} since the counters were last reset."""
    raw = get_redis_connection("default").hgetall(cache.make_key(STATS_KEY))
    result = {family.value: {"hit": 0, "miss": 0} for family in Family}
    for field, count in raw.items():
        family, outcome = field.decode().split(":")
        result.setdefault(family, {"hit": 0, "miss": 0})[outcome] = int(count)
    return result


# --------------------------------------------------------------------------- invalidation


def _safely(operation: Callable[..., Any], *args: Any) -> None:
    try:
        operation(*args)
    except RedisError as error:  # the TTL bounds how long a missed invalidation lasts
        breaker.trip(error)


# An action adds its commands to a pipeline: Redis gets them in one round trip, with those of
# the other actions of the same batch.
Action = Callable[[Pipeline], Any]
_batch: ContextVar[list[Action] | None] = ContextVar("cache_batch", default=None)


def _send(actions: list[Action]) -> None:
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        for action in actions:
            action(pipe)
        pipe.execute()
    except RedisError as error:  # the TTL bounds how long a missed invalidation lasts
        breaker.trip(error)


def _run(action: Action) -> None:
    batch = _batch.get()
    if batch is None:
        _send([action])
    else:
        batch.append(action)


def _after_commit(action: Action) -> None:
    transaction.on_commit(lambda: _run(action))


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Invalidations and write-throughs that become due inside the block (each still only
    after its transaction commits; a rolled-back one never) are sent together, in one round
    trip, when the block ends, even by an exception. Nested blocks join the outer one."""
    if _batch.get() is not None:
        yield
        return
    actions: list[Action] = []
    token = _batch.set(actions)
    try:
        yield
    finally:
        _batch.reset(token)
        if actions:
            _send(actions)


def _bump(pipe: Pipeline, family: Family, scope: str = "all") -> None:
    # A plain Redis counter that never expires (an expired generation would restart at 0
    # and bring stale pages back). INCR creates it at 1.
    pipe.incr(cache.make_key(_generation_key(family, scope)))


def _delete(pipe: Pipeline, keys: list[str]) -> None:
    if keys:
        pipe.delete(*(cache.make_key(key) for key in keys))


def invalidate_products(product_ids: Iterable[int]) -> None:
    """Product rows changed (price, stock, activity ...): their details and every list page."""
    keys = [product_key(pk) for pk in sorted(set(product_ids))]

    def action(pipe: Pipeline) -> None:
        _delete(pipe, keys)
        _bump(pipe, Family.PRODUCT_LIST)

    _after_commit(action)


def invalidate_category_tree() -> None:
    def action(pipe: Pipeline) -> None:
        _delete(pipe, [category_tree_key()])
        _bump(pipe, Family.PRODUCT_LIST)  # category filters cover descendants

    _after_commit(action)


def invalidate_profile(user_id: int) -> None:
    _after_commit(lambda pipe: _delete(pipe, [profile_key(user_id)]))


def invalidate_orders(user_id: int, order_ids: Iterable[int] = ()) -> None:
    """A user's orders changed: those orders' details and all of the user's list pages."""
    keys = [order_key(pk) for pk in sorted(set(order_ids))]

    def action(pipe: Pipeline) -> None:
        _delete(pipe, keys)
        _bump(pipe, Family.ORDER_LIST, str(user_id))

    _after_commit(action)


def invalidate_everything() -> None:
    """After a bulk write that bypassed the services (manage.py seed): every list page and
    the category tree. Details of rows that existed before are left to their TTLs."""

    def action(pipe: Pipeline) -> None:
        _delete(pipe, [category_tree_key()])
        _bump(pipe, Family.PRODUCT_LIST)
        _bump(pipe, Family.ORDER_LIST)

    _after_commit(action)
