"""Streaming replicas for reads, with read-your-writes by LSN (docs/scaling.md).

Everything goes to the primary ("default") but the reads a selector sends here by
`read_alias()` while a shopper's read-only request is being served (`shopper_reads()`, opened
by shop.api.replicas.ReadYourWritesMiddleware). Such a read goes to a replica only when all
of these hold, checked with one round trip on the replica's own connection per request:

- the thread is in no transaction on the primary (services, locks, `transaction.atomic`);
- the replica is in recovery, its WAL receiver streams, and the WAL it has received but not
  replayed is at most DB_REPLICA_MAX_LAG_BYTES (a paused or slow replica is skipped);
- it has replayed past the floor: the LSN of this shopper's last write (after COMMIT,
  `pg_current_wal_lsn()`, kept in Redis by user for DB_REPLICA_LSN_TTL seconds), or, inside
  `as_fresh_as_primary()` (a cache fill: an entry others will read), the primary's current
  LSN, taken by one query on the primary at the block's first read.

Otherwise the read goes to the primary; so it does when Redis cannot say what the floor is.
A replica that refuses a connection or fails its check is skipped for DB_REPLICA_RETRY_SECONDS.

ReplicaRouter (DATABASE_ROUTERS) keeps everything else where it belongs: writes of an
instance read from a replica go to the primary, migrations never run on a replica, and
rows read from a replica may be related to rows of the primary.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)


@dataclass
class _Reads:
    """One shopper request's read decisions: the floor, and each replica's answer."""

    user_id: Callable[[], int | None]  # () -> the signed-in shopper's id, or None
    floor: int | None = None  # None until looked up
    checked: dict[str, int | None] = field(default_factory=dict)  # alias -> replay LSN


_reads: ContextVar[_Reads | None] = ContextVar("routing_reads", default=None)
# Inside as_fresh_as_primary(): [the primary's LSN when the block's first read asked, or None].
_fresh: ContextVar[list[int | None] | None] = ContextVar("routing_fresh", default=None)
_down_until: dict[str, float] = {}  # alias -> monotonic time its next check may be tried
_turn = itertools.count()  # round robin over the replicas
_counts_lock = threading.Lock()
# Reads decided here, by where they went: "default", or a replica's alias (this process).
counts: Counter[str] = Counter()

CHECK_SQL = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn()::text,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint,
       (SELECT status FROM pg_stat_wal_receiver)
"""


def replica_aliases() -> list[str]:
    return list(getattr(settings, "DATABASE_REPLICAS", ()))


def lsn(text: str | None) -> int | None:
    """A pg_lsn's text ('16/B374D848') as the byte position it names."""
    if text is None:
        return None
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


@contextlib.contextmanager
def shopper_reads(user_id):
    """For the block, selectors may read replicas for the shopper `user_id()` names."""
    token = _reads.set(_Reads(user_id=user_id))
    try:
        yield
    finally:
        _reads.reset(token)


@contextlib.contextmanager
def as_fresh_as_primary():
    """For the block, a replica serves a read only once it has replayed everything the
    primary had committed when the read began (a cache entry is read by every shopper)."""
    token = _fresh.set([None])
    try:
        yield
    finally:
        _fresh.reset(token)


def _key(user_id: int) -> str:
    return cache.make_and_validate_key(f"routing:lsn:{user_id}")


# Keep the larger LSN: two requests of one shopper may finish in either order.
_STORE_MAX = """
local known = tonumber(redis.call('GET', KEYS[1]) or '0')
if known < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
"""


def remember_write(user_id: int) -> None:
    """After a shopper's write has committed: its LSN, so their next reads wait for it."""
    if not replica_aliases():
        return
    position = _primary_lsn()
    from django_redis import get_redis_connection
    from redis import RedisError

    try:
        get_redis_connection("default").eval(
            _STORE_MAX, 1, _key(user_id), position, settings.DB_REPLICA_LSN_TTL
        )
    except RedisError as error:
        log.warning("read-your-writes LSN of user %s not stored: %s", user_id, error)


def _primary_lsn() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return lsn(cursor.fetchone()[0])


def _floor(reads: _Reads) -> int | None:
    """The LSN a replica must have replayed for this read; None: no replica will do."""
    fresh = _fresh.get()
    if fresh is not None:
        if fresh[0] is None:  # once per block: a build's every read waits for the same LSN
            fresh[0] = _primary_lsn()
        return fresh[0]
    if reads.floor is None:
        user_id = reads.user_id()
        if user_id is None:
            reads.floor = 0  # anonymous: no writes of their own to wait for
        else:
            stored = cache.get(f"routing:lsn:{user_id}", 0)  # None: Redis did not answer
            reads.floor = -1 if stored is None else int(stored)
    return None if reads.floor < 0 else reads.floor


def check(alias: str) -> int | None:
    """The replica's replay LSN if it may serve reads now, else None (skipped)."""
    if _down_until.get(alias, 0) > time.monotonic():
        return None
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(CHECK_SQL)
            recovering, replayed, backlog, receiver = cursor.fetchone()
    except DatabaseError as error:
        log.warning("replica %s skipped: %s", alias, str(error).strip())
        connections[alias].close()
        _down_until[alias] = time.monotonic() + settings.DB_REPLICA_RETRY_SECONDS
        return None
    if not recovering or receiver != "streaming" or backlog > settings.DB_REPLICA_MAX_LAG_BYTES:
        return None
    return lsn(replayed)


def read_alias() -> str:
    """The alias a selector's read goes to: a replica that may serve it, else "default"."""
    aliases = replica_aliases()
    reads = _reads.get()
    chosen = "default"
    if aliases and reads is not None and not connections["default"].in_atomic_block:
        floor = _floor(reads)
        if floor is not None:
            start = next(_turn) % len(aliases)
            for alias in aliases[start:] + aliases[:start]:
                if alias not in reads.checked or (reads.checked[alias] or 0) < floor:
                    reads.checked[alias] = check(alias)
                if reads.checked[alias] is not None and reads.checked[alias] >= floor:
                    chosen = alias
                    break
    with _counts_lock:
        counts[chosen] += 1
    return chosen


def forget() -> None:
    """Clear what this process knows about its replicas (tests, after stopping one)."""
    _down_until.clear()
    with _counts_lock:
        counts.clear()


class ReplicaRouter:
    """DATABASE_ROUTERS: replicas are only ever read, and only where read_alias() says."""

    def db_for_read(self, model, **hints):
        return None  # the instance's own database (a prefetch follows its rows), else default

    def db_for_write(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db in replica_aliases():
            return "default"  # a row read from a replica is saved on the primary
        return None

    def allow_relation(self, obj1, obj2, **hints):
        replicas = replica_aliases()
        if obj1._state.db in replicas or obj2._state.db in replicas:
            return True  # a replica holds the primary's rows
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db in replica_aliases() else None
