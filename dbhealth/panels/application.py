"""Application side: this process's database connection pool, the cache's Redis, and Celery's
queues, workers and beat (read by dbhealth/stats/application.py, from the process and its Redis
servers, not from PostgreSQL: the pool statistics are this web process's own; beat's last run
is the newest snapshot, which only its schedule takes).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from dbhealth import snapshots, stats

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


SNAPSHOT_JOB = "dbhealth-snapshot"  # its CELERY_BEAT_SCHEDULE entry
BEAT_LATE_INTERVALS = 3  # beat is late once that many snapshot intervals pass without one


def beat(latest: dt.datetime | None, now: dt.datetime) -> dict:
    """Beat's last run, seen through the snapshot task it schedules."""
    entry = settings.CELERY_BEAT_SCHEDULE.get(SNAPSHOT_JOB, {})
    interval = entry.get("schedule")
    interval = interval if isinstance(interval, int | float) else None
    age = (now - latest).total_seconds() if latest else None
    return {"latest": latest, "interval": interval, "age_seconds": age}


def beat_check(found: dict) -> Check:
    interval, age = found["interval"], found["age_seconds"]
    if interval is None:
        status, summary = WARNING, f"{SNAPSHOT_JOB} is not in CELERY_BEAT_SCHEDULE"
    elif age is None:
        every = f"every {interval / 60:g} min"
        status, summary = WARNING, f"no snapshot yet: beat schedules one {every}"
    else:
        every = f"every {interval / 60:g} min"
        ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min"
        late = age > BEAT_LATE_INTERVALS * interval
        status = WARNING if late else OK
        summary = f"the last snapshot is {ago} old ({every})" + (
            ": beat or the worker has stopped" if late else ""
        )
    return Check("application", "Celery beat", status, summary)


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
    found = beat(snapshots.latest_capture(), timezone.now())
    checks.append(beat_check(found))
    return {"pool": pool, "redis": redis, "celery": celery, "beat": found, "checks": checks}
