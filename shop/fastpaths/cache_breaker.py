"""Fast path: a circuit breaker in front of Redis, so that a stalled Redis costs one request
the socket timeout, not every request.

Replaces: relying on django-redis's `IGNORE_EXCEPTIONS` alone (config/settings/base.py sets
it; `DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS` would log what it swallows). That swallows a Redis
error on the cache API's calls, but each call still waits SOCKET_TIMEOUT (0.5 s) for a
Redis that does not answer, and shop/cache.py and the rate limits call Redis directly
(scripts, pipelines), which it does not cover. After an error the breaker stays open for
BREAKER_SECONDS: reads go straight to PostgreSQL and the rate limits fail open, without
asking Redis.

Measured by `ONLY=fastpaths ROUNDS=5 SECONDS=3 make bench` (the "cache_breaker" line;
2026-12-07; docs/performance.md, "Fast paths"): product details answered by one client in a
2 s Redis stall (CLIENT PAUSE), with the breaker / without, 3.00 (spread 3.00-3.00: 3
against 1 in each of 20 rounds over four runs). With it, each request in a stall still
waits the timeout once, for dbhealth/origins.py's statement counts, which do not consult it.
"""

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0  # after a Redis error, skip Redis for this long


class Breaker:
    """Open for BREAKER_SECONDS after a Redis error: callers skip Redis while it is open."""

    def __init__(self, on_reset: Callable[[], None] = lambda: None) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._on_reset = on_reset

    def closed(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self, error: Exception) -> None:
        with self._lock:
            if self.closed():
                log.warning("cache unavailable, serving from PostgreSQL: %s", error)
            self._open_until = time.monotonic() + BREAKER_SECONDS

    def reset(self) -> None:
        """Closed, as in a process that never saw a Redis error (and owes no invalidation)."""
        self._open_until = 0.0
        self._on_reset()
