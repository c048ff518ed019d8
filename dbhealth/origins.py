"""Where each statement comes from: a sqlcommenter-style comment on every statement, and an
exact count of statements per origin, mapped to pg_stat_statements query ids.

The origin of the code running now lives in a ContextVar, set by:

    OriginMiddleware        route='api/v1/products/',view='shop.api.views.product_list'
    Celery task signals     task='dbhealth.tasks.dbhealth_snapshot_task'
    manage.py               command='seed'

StatementOrigin (this app's part of core/db.py's one execute wrapper) appends

    /*fp='3f2a9c41d0e5b7a8',route='api%2Fv1%2Fproducts%2F',view='shop.api.views...'*/

to each statement (before a trailing semicolon, so that pg_stat_statements keeps it), and
counts the statement in the origin, by fingerprint `fp`: a hash of the SQL Django sends
before its values are bound. The counts are flushed to Redis (one pipeline) when the request,
task or command ends.

Why both. pg_stat_statements keeps one text per query id (the first one it saw), so the comment
it shows names one origin among many. The counts are exact (every execution, every origin);
what links them to a query id is the fingerprint, which the comment carries: resolve() reads it
back from pg_stat_statements' texts and from pg_stat_activity's running statements (whose
query_id is the same id). A fingerprint whose text never became the sample and was never seen
running stays unresolved until a sample catches it (a LIMIT or IN-list that varies gives one
fingerprint per variant and one query id for all).

Escaping: values are URL-encoded and single-quoted as sqlcommenter says, except that the
comment never contains '%' (a value is never read as a placeholder, whatever the statement's
parameters): '/' ':' '<' '>' '.' '-' '_' stay literal, and any other character outside
[A-Za-z0-9] becomes '_'.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from django.core.cache import cache
from django.urls import Resolver404, resolve
from django_redis import get_redis_connection

from core import db
from dbhealth import stats
from shop import cache as shop_cache

logger = logging.getLogger(__name__)

UNSAFE = re.compile(r"[^A-Za-z0-9/:<>._-]")
FINGERPRINT_IN_COMMENT = re.compile(r"/\*fp='([0-9a-f]{16})'")

# Redis keys (through the cache's prefix, so each test run has its own):
#   dbhealth:origins:<origin>  hash fingerprint -> executions by that origin
#   dbhealth:fingerprints      hash fingerprint -> the SQL template (first seen)
#   dbhealth:queryids          hash fingerprint -> pg_stat_statements query id
ORIGIN_KEY = "dbhealth:origins:{}"
ORIGINS_KEY = "dbhealth:origins"  # a set of every origin seen
TEMPLATES_KEY = "dbhealth:fingerprints"
QUERYIDS_KEY = "dbhealth:queryids"


@dataclass
class Origin:
    kind: str  # "route", "task" or "command"
    name: str  # the route pattern, task name or command name
    view: str | None = None
    counts: Counter = field(default_factory=Counter)
    templates: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @functools.cached_property
    def tags(self) -> str:
        pairs = [(self.kind, self.name)] + ([("view", self.view)] if self.view else [])
        return ",".join(f"{key}='{UNSAFE.sub('_', value)}'" for key, value in pairs)


current: contextvars.ContextVar[Origin | None] = contextvars.ContextVar(
    "dbhealth_origin", default=None
)


@functools.lru_cache(maxsize=4096)
def fingerprint(sql: str) -> str:
    return hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()


def commented(sql: str, origin: Origin, fp: str) -> str:
    """The statement with the origin's comment (core.db.with_comment: before a trailing
    semicolon, on a line of its own)."""
    return db.with_comment(sql, f"fp='{fp}',{origin.tags}")


class StatementOrigin(db.StatementPart):
    """Counts each statement for the origin running it, and names both in its comment;
    registered in dbhealth/apps.py."""

    def comment(self, statement):
        origin = current.get()
        if origin is None:
            return None
        fp = fingerprint(statement.sql)
        origin.counts[fp] += statement.executions
        origin.templates.setdefault(fp, statement.sql[:2000])
        return f"fp='{fp}',{origin.tags}"


def _redis():
    return get_redis_connection("default")


def flush(origin: Origin) -> None:
    """Add the origin's counts to Redis in one round trip. A counter that comes back equal to
    this run's own count was just created (this origin's first run of the statement, or the
    first since Redis lost it): only those fingerprints' SQL goes out, in a second round trip,
    so a warm request sends a few numbers instead of kilobytes of SQL it sent before. A Redis
    outage loses the counts of this request (logged), never the request, and opens the cache's
    breaker: while it is open (Redis failed a moment ago) the counts are dropped unsent, so a
    stalled Redis costs one request its socket timeout here, not every request."""
    if not origin.counts:
        return
    if not shop_cache.breaker.closed():
        origin.counts.clear()
        return
    try:
        redis = _redis()
        counted = list(origin.counts.items())
        pipe = redis.pipeline(transaction=False)
        pipe.sadd(cache.make_key(ORIGINS_KEY), origin.key)
        key = cache.make_key(ORIGIN_KEY.format(origin.key))
        for fp, n in counted:
            pipe.hincrby(key, fp, n)
        totals = pipe.execute()[1:]
        new = [fp for (fp, n), total in zip(counted, totals, strict=True) if total == n]
        if new:
            pipe = redis.pipeline(transaction=False)
            for fp in new:
                pipe.hsetnx(cache.make_key(TEMPLATES_KEY), fp, origin.templates[fp])
            pipe.execute()
    except Exception as error:  # noqa: BLE001 - attribution must never fail the work it attributes
        logger.warning("dbhealth: could not record statement origins", exc_info=True)
        shop_cache.breaker.trip(error)
    origin.counts.clear()


@contextlib.contextmanager
def origin_context(kind: str, name: str, view: str | None = None):
    origin = Origin(kind, name, view)
    token = current.set(origin)
    try:
        yield origin
    finally:
        current.reset(token)
        flush(origin)


def command_context(argv: list[str]) -> contextlib.AbstractContextManager:
    """manage.py <command>: its statements carry command='<command>' (not runserver's,
    whose requests carry their routes)."""
    if len(argv) < 2 or argv[1].startswith("-") or argv[1] == "runserver":
        return contextlib.nullcontext()
    return origin_context("command", argv[1])


class OriginMiddleware:
    """First in MIDDLEWARE: the route is resolved up front, so the session and user lookups
    of the request count for its route too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            match = resolve(request.path_info)
            route, view = match.route or request.path_info, match.view_name
        except Resolver404:
            route, view = "<unmatched>", None
        with origin_context("route", route, view):
            return self.get_response(request)


# Celery: one origin per task run, set in the worker process before the task and flushed after.
_task_origins: dict[str, tuple[contextvars.Token, Origin]] = {}


def task_started(task_id=None, task=None, **kwargs):
    origin = Origin("task", task.name)
    _task_origins[task_id] = (current.set(origin), origin)


def task_finished(task_id=None, **kwargs):
    found = _task_origins.pop(task_id, None)
    if found:
        token, origin = found
        current.reset(token)
        flush(origin)


# ------------------------------------------------------------------------ reading the map


def resolve_queryids(cursor, schema: str | None) -> int:
    """Link fingerprints to query ids from the comments in pg_stat_statements' sample texts
    and in pg_stat_activity's running statements. Returns how many links were new."""
    found: dict[str, int] = {}
    for statement in stats.statements.commented_texts(cursor, schema):
        match = FINGERPRINT_IN_COMMENT.search(statement["query"] or "")
        if match:
            found[match.group(1)] = statement["queryid"]
    if not found:
        return 0
    redis = _redis()
    key = cache.make_key(QUERYIDS_KEY)
    known = redis.hgetall(key)
    new = {fp: qid for fp, qid in found.items() if known.get(fp.encode()) != str(qid).encode()}
    if new:
        redis.hset(key, mapping=new)
    return len(new)


def _all() -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(fingerprint -> query id, origin -> {fingerprint: executions})."""
    redis = _redis()
    queryids = {
        fp.decode(): int(qid) for fp, qid in redis.hgetall(cache.make_key(QUERYIDS_KEY)).items()
    }
    origins = sorted(o.decode() for o in redis.smembers(cache.make_key(ORIGINS_KEY)))
    pipe = redis.pipeline(transaction=False)
    for origin in origins:
        pipe.hgetall(cache.make_key(ORIGIN_KEY.format(origin)))
    counts = {
        origin: {fp.decode(): int(n) for fp, n in found.items()}
        for origin, found in zip(origins, pipe.execute(), strict=True)
    }
    return queryids, counts


def by_queryid() -> dict[int, list[tuple[str, int]]]:
    """query id -> [(origin, executions)], most executions first."""
    queryids, counts = _all()
    result: dict[int, Counter] = {}
    for origin, fps in counts.items():
        for fp, n in fps.items():
            if fp in queryids:
                result.setdefault(queryids[fp], Counter())[origin] += n
    return {qid: sorted(c.items(), key=lambda i: (-i[1], i[0])) for qid, c in result.items()}


def summary() -> list[dict]:
    """Every origin: statements executed, distinct statements, and how many are resolved."""
    queryids, counts = _all()
    return [
        {
            "origin": origin,
            "executions": sum(fps.values()),
            "statements": len(fps),
            "resolved": sum(1 for fp in fps if fp in queryids),
        }
        for origin, fps in sorted(counts.items(), key=lambda i: -sum(i[1].values()))
    ]


def statements_of(origin: str) -> list[dict]:
    """One origin's statements: fingerprint, query id (None until resolved), executions, SQL."""
    redis = _redis()
    queryids, counts = _all()
    fps = counts.get(origin, {})
    templates = redis.hmget(cache.make_key(TEMPLATES_KEY), list(fps)) if fps else []
    rows = [
        {
            "fingerprint": fp,
            "queryid": queryids.get(fp),
            "executions": n,
            "sql": (text or b"").decode(),
        }
        for (fp, n), text in zip(fps.items(), templates, strict=True)
    ]
    return sorted(rows, key=lambda r: (-r["executions"], r["fingerprint"]))
