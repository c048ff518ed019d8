"""Application side: this process's database connection pool, Redis, and (to come) Celery.

Read from the running process, not from PostgreSQL: the pool statistics are this web
process's own (each gunicorn worker has its pool).
"""

from __future__ import annotations

from django.db import connection
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from .base import CRITICAL, OK, WARNING, Check

TITLE = "Application"


def pool_stats() -> dict | None:
    """psycopg_pool's counters for this process's pool, or None when DB_POOL is off."""
    pool = connection.pool
    if pool is None:
        return None
    stats = pool.get_stats()
    return {
        "min": stats.get("pool_min"),
        "max": stats.get("pool_max"),
        "size": stats.get("pool_size"),
        "available": stats.get("pool_available"),
        "waiting": stats.get("requests_waiting", 0),
        "requests": stats.get("requests_num", 0),
        "queued": stats.get("requests_queued", 0),
        "wait_ms": stats.get("requests_wait_ms", 0),
        "errors": stats.get("requests_errors", 0),
        "connections_made": stats.get("connections_num", 0),
        "connection_errors": stats.get("connections_errors", 0),
        "lost": stats.get("connections_lost", 0),
        "raw": dict(sorted(stats.items())),
    }


def redis_stats() -> dict:
    """Memory, hit ratio and keys of the cache's Redis, or the error that stopped the read."""
    try:
        client = get_redis_connection("default")
        memory = client.info("memory")
        stats = client.info("stats")
        keyspace = client.info("keyspace")
        server = client.info("server")
    except RedisError as error:
        return {"error": f"{type(error).__name__}: {error}"}
    hits, misses = stats.get("keyspace_hits", 0), stats.get("keyspace_misses", 0)
    return {
        "error": None,
        "version": server.get("redis_version"),
        "used_memory": memory.get("used_memory"),
        "used_memory_human": memory.get("used_memory_human"),
        "maxmemory": memory.get("maxmemory", 0),
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "hits": hits,
        "misses": misses,
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "evicted_keys": stats.get("evicted_keys", 0),
        "keyspace": [
            {"db": db, "keys": info.get("keys", 0), "expires": info.get("expires", 0)}
            for db, info in sorted(keyspace.items())
        ],
    }


def celery_stats() -> None:
    """Queue lengths and worker heartbeats: NOT BUILT YET.

    # Not shown yet (config/celery.py exists): read the broker's queue lengths (LLEN of
    # each queue key on the broker's Redis) and the workers' heartbeats
    # (app.control.inspect().ping()) here, and show them in the "Celery" section of
    # templates/dbhealth/application.html. Until then the page says so; it shows no figure.
    """
    return None


def collect(config: dict) -> dict:
    pool = pool_stats()
    redis = redis_stats()
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
    ]
    return {"pool": pool, "redis": redis, "celery": celery_stats(), "checks": checks}
