"""Fast path: the rate limits' sliding window as one Lua script on a Redis sorted set.

Replaces: DRF's `SimpleRateThrottle` counting (`allow_request`, `throttle_success`, `wait`),
which keeps each client's request times as a pickled list in the cache: a GET and a SET per
request (two round trips), the whole list (up to the rate's count) decoded and encoded each
time, and two concurrent requests can both read the list before either writes it, so one of
them goes uncounted (`test_concurrent_requests_are_each_counted_by_the_rate_limit`). Here
the same window is a sorted set (score = request time) that one script updates atomically,
in one round trip: drop the times older than the window, count the rest, and add this
request's time if it is under the limit. The answers are DRF's: 429 once `num_requests`
were counted in the last `duration` seconds, with Retry-After from the oldest counted
request (DRF's wait()).

Measured by `ONLY=fastpaths ROUNDS=5 SECONDS=3 make bench` (the "throttle_window" lines;
2026-12-07, a busy 2-CPU machine; docs/performance.md, "Fast paths"): the checkout's
orders/s, this / DRF's, 1.29 (spread 0.58-1.77), 1.33 (0.87-1.51), 0.94 (0.88-1.02), 0.86
(0.64-1.70) and 1.13 (0.86-1.19) over five runs, and CPU per checkout in-process, DRF's /
this, 1.10 (0.79-1.18) and 1.00 (0.85-1.04): no speed gain beyond the spread. It is kept
for the atomicity: DRF's lets concurrent requests past the limit.

When Redis is down the limits fail open (every request is allowed), as the cache does, and
the cache's circuit breaker (shop/fastpaths/cache_breaker.py) keeps requests from paying the
timeout again. DRF binds THROTTLE_RATES when its classes are imported; these read the rates
from the current settings on each request instead, so a deployment (and a test) can change
them.
"""

import uuid

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.settings import api_settings

from shop import cache as shop_cache

# KEYS[1]: the client's window. ARGV: now, duration (s), limit, a unique member for this request.
# Returns {allowed (1/0), requests counted (this one included when allowed), oldest time}.
SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local counted = redis.call('ZCARD', KEYS[1])
if counted >= tonumber(ARGV[3]) then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, counted, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, counted + 1, ARGV[1]}
"""


class RedisWindowMixin:
    """SimpleRateThrottle's allow_request and wait on the sliding window (see above)."""

    # Not DRF's key: a key DRF's way left behind (a pickled list, until it expires) would
    # make the script fail with WRONGTYPE on the first requests after a deploy.
    cache_format = "throttle_%(scope)s_%(ident)s_window"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        self.counted, self.oldest, self.member = 0, self.now, None
        if not shop_cache.breaker.closed():
            return True  # Redis is down: fail open
        member = uuid.uuid4().hex
        try:
            # register_script only hashes the script (EVALSHA; loaded on the server's first use).
            window = get_redis_connection("default").register_script(SLIDING_WINDOW)
            allowed, counted, oldest = window(
                keys=[cache.make_key(self.key)],
                args=[repr(self.now), self.duration, self.num_requests, member],
            )
        except RedisError as error:
            shop_cache.breaker.trip(error)
            return True
        self.counted, self.oldest = int(counted), float(oldest)
        if allowed:
            self.member = member  # this request's entry in the window, for release()
        return bool(allowed)

    def release(self) -> None:
        """Take this request's entry out of the window again: it is not to be counted."""
        if self.member is None:
            return
        try:
            get_redis_connection("default").zrem(cache.make_key(self.key), self.member)
        except RedisError as error:
            shop_cache.breaker.trip(error)  # and fail open, as when counting
        self.member = None

    def wait(self):
        """Seconds until a request would be allowed again (DRF's formula)."""
        remaining = self.duration - (self.now - self.oldest) if self.counted else self.duration
        available = self.num_requests - self.counted + 1
        if available <= 0:
            return None
        return remaining / float(available)
