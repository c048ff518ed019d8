"""The application side, read from the running process and its Redis servers rather than from
PostgreSQL: this process's connection pool, the cache's Redis, and Celery's broker (queue
lengths) and workers (a ping). Nothing here can hang a page: every network read is bounded by
a timeout, and a failure comes back as an "error" text instead of an exception.
"""

from __future__ import annotations

from celery import Celery, current_app
from django.db import connection
from django_redis import get_redis_connection
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from shop import cache as shop_cache


def pool() -> dict | None:
    """psycopg_pool's counters for this process's pool, or None when DB_POOL is off."""
    found = connection.pool
    if found is None:
        return None
    stats = found.get_stats()
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


def redis() -> dict:
    """Memory, hit ratio and keys of the cache's Redis, or the error that stopped the read."""
    try:
        client = get_redis_connection("default")
        memory = client.info("memory")
        stats = client.info("stats")
        keyspace = client.info("keyspace")
        server = client.info("server")
        families = shop_cache.stats()
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
        "hit_ratio": _ratio(hits, misses),
        "evicted_keys": stats.get("evicted_keys", 0),
        "keyspace": [
            {"db": db, "keys": info.get("keys", 0), "expires": info.get("expires", 0)}
            for db, info in sorted(keyspace.items())
        ],
        # The shop's own cache-aside reads (shop/cache.py counts each one), family by family.
        "families": [
            {
                "name": name,
                "hits": counts["hit"],
                "misses": counts["miss"],
                "hit_ratio": _ratio(counts["hit"], counts["miss"]),
            }
            for name, counts in sorted(families.items())
        ],
    }


def _ratio(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses else None


def celery(*, timeout: float, app: Celery | None = None) -> dict:
    """The broker's queue lengths and the workers that answer a ping within `timeout` seconds.

    queues: every queue the app routes to (task_default_queue and any in task_queues), with the
    messages waiting in it (kombu's passive queue_declare: LLEN of the queue's list on Redis,
    its priority lists included; a queue with no message has no list, hence NOT_FOUND: 0).
    workers: the hostnames that answered, sorted; [] when none did. `app`: Celery's current
    app (config/celery.py's) unless another is given.
    """
    app = app or current_app
    options = {
        "socket_connect_timeout": timeout,
        # Redis replies are read by BRPOP, which otherwise blocks 1 s whatever the ping's timeout.
        "polling_interval": timeout,
        "socket_timeout": 2 * timeout,  # a server that accepts but never answers
    }
    try:
        with app.connection_for_read(transport_options=options) as conn:
            conn.ensure_connection(max_retries=0)  # one attempt: an outage is shown, not waited
            channel = conn.default_channel
            queues = []
            for name in sorted(app.amqp.queues):
                try:
                    messages = channel.queue_declare(queue=name, passive=True).message_count
                except conn.channel_errors:
                    messages = 0
                    channel = conn.channel()  # a NOT_FOUND closes the channel on AMQP brokers
                queues.append({"name": name, "messages": messages})
            answers = app.control.inspect(timeout=timeout, connection=conn).ping() or {}
    except (KombuError, RedisError, OSError) as error:
        return {"error": f"{type(error).__name__}: {error}", "queues": [], "workers": []}
    return {"error": None, "queues": queues, "workers": sorted(answers)}
