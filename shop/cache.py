"""Every cache key, TTL and invalidation of the shop, in one place.

Reads are cache-aside (`cached`): look in Redis, else build from PostgreSQL and store. Writes
invalidate after COMMIT (`invalidate_*` register transaction.on_commit callbacks), so a
rolled-back write never touches the cache. List pages are invalidated wholesale by bumping a
generation number that is part of their keys: one INCR instead of finding every page that
might hold the row.

A committed write is never followed by a stale read, even when its invalidation is lost
or overtaken (docs/caching.md, "Never stale after a write"):

- an entry is served only under the *epoch* it was stored in. The epoch starts with the
  Redis server's run_id, so the first read after a restart (its append-only file brings back
  entries whose invalidations were dropped) starts a new epoch and retires all of them; a
  process whose invalidation was lost refuses the cache until it has started a new epoch;
- an invalidation that Redis is too slow to acknowledge (paused, overloaded) is not
  abandoned: it stays queued on its connection, and Redis runs it before any read that
  arrives after the write's response;
- an invalidation leaves a tombstone, and a miss stores what it built only if neither the
  tombstone nor the epoch changed since it looked, so a reader that read PostgreSQL before a
  writer committed cannot store its old value after the writer's invalidation.

Redis is an optimisation, never a dependency: when it is down or slow, every read is answered
from PostgreSQL (logged), and a short circuit breaker (shop/fastpaths/cache_breaker.py)
stops each request from paying the socket timeout again; caching resumes by itself once
Redis answers.

Concurrent misses on one key are collapsed (single flight): one request builds the value
under a short Redis lock while the others wait for it, so a hot key expiring costs one
database read, not N.

A read is one Redis round trip: a script checks the epoch, GETs the entry and counts the hit
or miss. Each invalidation or write-through is one Redis round trip (a pipeline of its
commands), sent once its transaction commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import redis
from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.client import Pipeline
from redis.exceptions import LockError, RedisError, ResponseError

from core import routing
from shop.fastpaths.cache_breaker import Breaker

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
EPOCH_KEY = f"epoch:v{VERSION}"  # the run_id of the Redis server + when the epoch began
EPOCH_LEN = 56  # 40 hex digits of run_id, 10 of seconds, 6 of microseconds
# A miss stores only if it took at most LOCK_SECONDS from its look to its store, so a
# tombstone that lives longer than that is still there when a late store checks for it.
TOMBSTONE_SECONDS = 60
SEND_WAIT = 0.5  # a write waits this long for Redis to acknowledge its invalidations
# An unacknowledged invalidation is waited for in the background this long (the longest
# TTL: past it, every entry it was meant to remove has expired anyway).
DRAIN_SECONDS = 3600


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


def tombstone_key(key: str) -> str:
    """Left by an invalidation of `key`: a miss that looked before it must not store."""
    return f"{key}:inv"


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


# --------------------------------------------------------------------------- epoch


class _Lost:
    """Invalidations this process could not deliver (Redis refused or dropped the connection),
    counted: until a new epoch started after the last of them is acknowledged, this process
    does not trust the cache (another process's next read may not know yet; see
    docs/caching.md for what remains)."""

    def __init__(self) -> None:
        self._count = 0
        self._acknowledged = 0
        self._lock = threading.Lock()

    def add(self, error: Exception) -> None:
        with self._lock:
            self._count += 1
        log.warning("cache invalidation lost, a new epoch is due: %s", error)

    def pending(self) -> int:
        """0 when nothing is owed, else the number to pass to acknowledge()."""
        with self._lock:
            return 0 if self._acknowledged == self._count else self._count

    def acknowledge(self, count: int) -> None:
        with self._lock:
            self._acknowledged = max(self._acknowledged, count)

    def clear(self) -> None:
        with self._lock:
            self._acknowledged = self._count


_lost = _Lost()
# After a Redis error, skip Redis for a while (a fast path: shop/fastpaths/cache_breaker.py);
# reset() also forgets lost invalidations, as in a process that never saw an error.
breaker = Breaker(on_reset=_lost.clear)

# The current epoch, begun anew when the Redis server is not the one that began it (a
# restart, a failover) or when asked to (ARGV[1] == "new"). INFO is the only way a script can
# learn the server's run_id; it costs a few microseconds of the server's time, no round trip.
EPOCH = """
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('GET', KEYS[1])
if ARGV[1] == 'new' or not epoch or string.sub(epoch, 1, 40) ~= run_id then
  local now = redis.call('TIME')
  epoch = string.format('%s%010d%06d', run_id, tonumber(now[1]), tonumber(now[2]))
  redis.call('SET', KEYS[1], epoch)
end
"""

# The entry under the current epoch (false if none, or stored in an earlier epoch), its hit
# or miss counted when ARGV[3] == "1"; on a miss, the epoch and tombstone the store must find
# unchanged. The hit counter makes this script a write, which CLIENT PAUSE WRITE queues
# behind an invalidation sent before it: keep it a write.
READ = (
    EPOCH.replace("ARGV[1] == 'new'", "false").replace("KEYS[1]", "KEYS[3]")
    + f"""
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, -{EPOCH_LEN}) ~= epoch then value = false end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], value and ARGV[1] or ARGV[2], 1) end
if value then return {{value}} end
return {{false, epoch, redis.call('GET', KEYS[4]) or ''}}
"""
)

# Store ARGV[1] (tagged with its epoch) only if the epoch and the tombstone are those the
# miss saw before it read PostgreSQL: otherwise a write committed in between and its
# invalidation already ran, and this value may predate it.
STORE = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[4] then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. ARGV[3], 'EX', ARGV[2])
return 1
"""

# Write-through: a value just committed, stored under the current epoch.
WRITE_THROUGH = (
    EPOCH.replace("ARGV[1] == 'new'", "false").replace("KEYS[1]", "KEYS[2]")
    + """
redis.call('SET', KEYS[1], ARGV[1] .. epoch, 'EX', ARGV[2])
"""
)

NEW_EPOCH = EPOCH + "return epoch"

# What a store made later must find unchanged: the epoch, and the key's tombstone.
LOOK = (
    EPOCH.replace("ARGV[1] == 'new'", "false") + "return {epoch, redis.call('GET', KEYS[2]) or ''}"
)


def _new_epoch(pipe: Pipeline) -> None:
    pipe.eval(NEW_EPOCH, 1, cache.make_key(EPOCH_KEY), "new")


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class _Found:
    hit: bool
    value: Any = None
    epoch: bytes = b""  # on a miss: what the store must find unchanged
    tombstone: bytes = b""


def cached(family: Family, key: str, build: Callable[[], T]) -> T:
    """Cache-aside read of `key`, built by `build()` from PostgreSQL on a miss.

    Every shopper reads the entry, so a build reads a replica only once it has replayed all
    the primary had committed when the build began (core/routing.py): a write's
    invalidation is then never undone by a replica's older rows.
    """
    with routing.as_fresh_as_primary():
        return _cached(family, key, build)


def _cached(family: Family, key: str, build: Callable[[], T]) -> T:
    if not breaker.closed() or not _recovered():
        return build()
    try:
        found = _read(family, key, count=True)
        if found.hit:
            return found.value
        # Single flight: one builder per key; the others wait on the lock, then find the
        # value it stored.
        with cache.lock(f"lock:{key}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):
            looked = time.monotonic()
            found = _read(family, key, count=False)
            if found.hit:
                return found.value
            value = build()
            if time.monotonic() - looked <= LOCK_SECONDS:  # else its tombstone may be gone
                _store(family, key, value, found)
            return value
    except LockError:
        return build()  # the builder took too long: answer without caching
    except RedisError as error:
        breaker.trip(error)
        return build()


def _recovered() -> bool:
    """True unless this process lost an invalidation and cannot start a new epoch yet."""
    owed = _lost.pending()
    if not owed:
        return True
    if _send([_new_epoch], on_acknowledged=lambda: _lost.acknowledge(owed)):
        log.warning("cache epoch renewed after a lost invalidation")
        return True
    return False


def _read(family: Family, key: str, *, count: bool) -> _Found:
    script = get_redis_connection("default").register_script(READ)
    reply = script(
        keys=[
            cache.make_key(key),
            cache.make_key(STATS_KEY),
            cache.make_key(EPOCH_KEY),
            cache.make_key(tombstone_key(key)),
        ],
        args=[f"{family}:hit", f"{family}:miss", "1" if count else "0"],
    )
    if reply[0] is None:
        return _Found(hit=False, epoch=reply[1], tombstone=reply[2])
    return _Found(hit=True, value=_decode(reply[0]))


def _decode(raw: bytes) -> Any:
    return cache.client.decode(raw[:-EPOCH_LEN])


def _store(family: Family, key: str, value: Any, found: _Found) -> bool:
    script = get_redis_connection("default").register_script(STORE)
    stored = script(
        keys=[cache.make_key(key), cache.make_key(EPOCH_KEY), cache.make_key(tombstone_key(key))],
        args=[cache.client.encode(value), TTL[family], found.epoch, found.tombstone],
    )
    return bool(stored)


def refresh(family: Family, key: str, build: Callable[[], Any]) -> bool:
    """Build `key`'s value from PostgreSQL now and store it (cache warming), unless a write
    invalidated it in between (its next read builds it then). False if it was not stored;
    an outage is ignored."""
    if not breaker.closed() or not _recovered():
        return False
    try:
        looked = time.monotonic()
        script = get_redis_connection("default").register_script(LOOK)
        epoch, tombstone = script(
            keys=[cache.make_key(EPOCH_KEY), cache.make_key(tombstone_key(key))]
        )
        value = build()
        if time.monotonic() - looked > LOCK_SECONDS:  # its tombstone may be gone
            return False
        return _store(family, key, value, _Found(hit=False, epoch=epoch, tombstone=tombstone))
    except RedisError as error:
        breaker.trip(error)
        return False


def write_through(family: Family, key: str, value: Any) -> None:
    """Store a value just written to PostgreSQL, once the transaction commits."""
    encoded = cache.client.encode(value)
    made = cache.make_key(key)
    epoch = cache.make_key(EPOCH_KEY)
    _after_commit(lambda pipe: pipe.eval(WRITE_THROUGH, 2, made, epoch, encoded, TTL[family]))


def stats() -> dict[str, dict[str, int]]:
    """{"product": {"hit": 3, "miss": 1}, ...} since the counters were last reset."""
    raw = get_redis_connection("default").hgetall(cache.make_key(STATS_KEY))
    result = {family.value: {"hit": 0, "miss": 0} for family in Family}
    for field, count in raw.items():
        family, outcome = field.decode().split(":")
        result.setdefault(family, {"hit": 0, "miss": 0})[outcome] = int(count)
    return result


# --------------------------------------------------------------------------- invalidation


# An action adds its commands to a pipeline: Redis gets them in one round trip.
Action = Callable[[Pipeline], Any]

# Connections for invalidations, apart from the cache's: one may be held for up to
# DRAIN_SECONDS by a thread waiting for Redis to answer (an invalidation is never abandoned
# on a timeout, which would drop it from Redis's queue). Their own timeouts stay short, so
# connecting and redis-py's health checks still fail fast. One pool per cache client (tests
# point the cache at servers of their own).
_pools: dict[int, tuple[redis.ConnectionPool, redis.ConnectionPool]] = {}
_pools_lock = threading.Lock()


def _sender_pool() -> redis.ConnectionPool:
    base = get_redis_connection("default").connection_pool
    with _pools_lock:
        if id(base) not in _pools:
            pool = redis.ConnectionPool(
                connection_class=base.connection_class, **base.connection_kwargs
            )
            _pools[id(base)] = (base, pool)  # holds base: its id is not reused
        return _pools[id(base)][1]


def _send(actions: list[Action], on_acknowledged: Callable[[], None] | None = None) -> bool:
    """Send the actions' commands in one round trip; True once Redis acknowledged them.

    If Redis has not answered within SEND_WAIT, the write goes on (Redis is not a
    dependency) but the commands stay queued on their connection, which a thread keeps
    until Redis answers: Redis runs them before the reads that reach it later. If the
    connection fails, they may be lost: a new epoch is due (_lost)."""
    pipe = get_redis_connection("default").pipeline(transaction=False)
    for action in actions:
        action(pipe)
    commands = [args for args, _options in pipe.command_stack]
    pool = _sender_pool()
    try:
        connection = pool.get_connection()
    except RedisError as error:
        return _failed(error, on_acknowledged)
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        answered = connection.can_read(timeout=SEND_WAIT)
    except RedisError as error:
        pool.release(connection)
        return _failed(error, on_acknowledged)
    if not answered:
        breaker.trip(TimeoutError(f"no answer from Redis in {SEND_WAIT} s, waiting on"))
        threading.Thread(
            target=_drain,
            args=(pool, connection, len(commands), on_acknowledged),
            name="cache-invalidation",
            daemon=True,
        ).start()
        return False
    return _drain(pool, connection, len(commands), on_acknowledged)


def _drain(
    pool: redis.ConnectionPool,
    connection: redis.Connection,
    replies: int,
    on_acknowledged: Callable[[], None] | None,
) -> bool:
    """Read the replies of commands already sent; True if Redis acknowledged them all."""
    try:
        for _ in range(replies):
            try:
                connection.read_response(timeout=DRAIN_SECONDS)
            except ResponseError as error:  # a command refused: a bug, not an outage
                log.error("cache command refused: %s", error)
    except RedisError as error:
        return _failed(error, on_acknowledged)
    finally:
        pool.release(connection)
    if on_acknowledged is not None:
        on_acknowledged()
    return True


def _failed(error: Exception, on_acknowledged: Callable[[], None] | None) -> bool:
    breaker.trip(error)
    if on_acknowledged is None:  # an invalidation, not the new epoch that repairs one
        _lost.add(error)
        _recovered()  # Redis may be back at once (a dropped connection): repair now
    return False


def _after_commit(action: Action) -> None:
    transaction.on_commit(lambda: _send([action]))


def _bump(pipe: Pipeline, family: Family, scope: str = "all") -> None:
    # A plain Redis counter that never expires (an expired generation would restart at 0
    # and bring stale pages back). INCR creates it at 1.
    pipe.incr(cache.make_key(_generation_key(family, scope)))


def _delete(pipe: Pipeline, keys: list[str]) -> None:
    """DEL the entries and leave a tombstone for each: a miss that looked at a key before
    this must not store what it built (it may predate the write)."""
    if keys:
        pipe.delete(*(cache.make_key(key) for key in keys))
    for key in keys:
        pipe.set(cache.make_key(tombstone_key(key)), uuid.uuid4().hex, ex=TOMBSTONE_SECONDS)


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


def invalidate_profiles(user_ids: Iterable[int]) -> None:
    """These users' profiles changed: their entries go, in one round trip at COMMIT."""
    keys = [profile_key(pk) for pk in sorted(set(user_ids))]
    _after_commit(lambda pipe: _delete(pipe, keys))


def invalidate_orders(user_id: int, order_ids: Iterable[int] = ()) -> None:
    """A user's orders changed: those orders' details and all of the user's list pages."""
    keys = [order_key(pk) for pk in sorted(set(order_ids))]

    def action(pipe: Pipeline) -> None:
        _delete(pipe, keys)
        _bump(pipe, Family.ORDER_LIST, str(user_id))

    _after_commit(action)


def invalidate_everything() -> None:
    """After a bulk write that bypassed the services (manage.py seed): a new epoch retires
    every entry (details too); the tree and the list generations go as well."""

    def action(pipe: Pipeline) -> None:
        _new_epoch(pipe)
        _delete(pipe, [category_tree_key()])
        _bump(pipe, Family.PRODUCT_LIST)
        _bump(pipe, Family.ORDER_LIST)

    _after_commit(action)
