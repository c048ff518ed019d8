"""Application side: this process's database connection pool, the cache's Redis, and Celery's
queues and workers (read by dbhealth/stats/application.py, from the process and its Redis
servers, not from PostgreSQL: the pool statistics are this web process's own).
"""

from __future__ import annotations

from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check, level_above

TITLE = "Application"


def celery_checks(celery: dict, config: dict) -> list[Check]:
    if celery["error"]:
        summary = f"the broker did not answer: {celery['error']}"
        return [
            Check("application", "Celery queues", CRITICAL, summary),
            Check("application", "Celery workers", CRITICAL, summary),
        ]
    waiting = max((q["messages"] for q in celery["queues"]), default=0)
    timeout = config["CELERY_PING_TIMEOUT_SEC"]
    return [
        Check(
            "application",
            "Celery queues",
            level_above(waiting, config["CELERY_QUEUE_WARNING"], config["CELERY_QUEUE_CRITICAL"]),
            ", ".join(f"{q['messages']} waiting in {q['name']}" for q in celery["queues"]),
        ),
        Check(
            "application",
            "Celery workers",
            OK if celery["workers"] else CRITICAL,
            f"{len(celery['workers'])} worker(s) answered a ping within {timeout:g} s"
            if celery["workers"]
            else f"no worker answered a ping within {timeout:g} s: enqueued tasks are not run",
        ),
    ]


def collect(config: dict) -> dict:
    pool = stats.application.pool()
    # Redis first: where the broker shares the cache's server (dev, tests), the broker reads
    # below count in its hits and misses too, so they must come after the figures.
    redis = stats.application.redis()
    celery = stats.application.celery(timeout=config["CELERY_PING_TIMEOUT_SEC"])
    checks = [
        Check(
            "application",
            "Connection pool",
            OK if pool is None or not pool["waiting"] else WARNING,
            "pool off (DB_POOL=false): one persistent connection per thread"
            if pool is None
            else f"{pool['size']} of {pool['max']} connections open, {pool['available']} idle, "
            f"{pool['waiting']} request(s) waiting",
        ),
        Check(
            "application",
            "Redis",
            CRITICAL if redis["error"] else OK,
            redis["error"]
            or f"{redis['used_memory_human']} used, "
            + (
                "no lookups yet"
                if redis["hit_ratio"] is None
                else f"{redis['hit_ratio'] * 100:.1f}% hit ratio"
            ),
        ),
        *celery_checks(celery, config),
    ]
    return {"pool": pool, "redis": redis, "celery": celery, "checks": checks}
