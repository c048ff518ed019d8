"""Rate limits, counted in Redis, so every web process shares them.

DRF's SimpleRateThrottle keeps each client's request times as a pickled list in the cache: a
GET and a SET per request (two round trips), the whole list (up to the rate's count) decoded
and encoded each time, and two concurrent requests can both read the list before either
writes it, so one of them goes uncounted. Here the same sliding window is a Redis sorted set
(score = request time) updated by one Lua script, atomically and in one round trip: drop the
times older than the window, count the rest, and add this request's time if it is under the
limit. The answers are DRF's: 429 once `num_requests` were counted in the last `duration`
seconds, with Retry-After from the oldest counted request (DRF's wait()).

When Redis is down the limits fail open (every request is allowed), as the cache does, and
the cache's circuit breaker (shop/cache.py) keeps requests from paying the timeout again.

DRF binds THROTTLE_RATES when its classes are imported; these read the rates from the
current settings on each request instead, so a deployment (and a test) can change them.
"""

import uuid

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

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
    """SimpleRateThrottle's allow_request and wait on a Redis sorted set (see above)."""

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
        self.counted, self.oldest = 0, self.now
        if not shop_cache.breaker.closed():
            return True  # Redis is down: fail open
        try:
            # register_script only hashes the script (EVALSHA; loaded on the server's first use).
            window = get_redis_connection("default").register_script(SLIDING_WINDOW)
            allowed, counted, oldest = window(
                keys=[cache.make_key(self.key)],
                args=[repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex],
            )
        except RedisError as error:
            shop_cache.breaker.trip(error)
            return True
        self.counted, self.oldest = int(counted), float(oldest)
        return bool(allowed)

    def wait(self):
        """Seconds until a request would be allowed again (DRF's formula)."""
        remaining = self.duration - (self.now - self.oldest) if self.counted else self.duration
        available = self.num_requests - self.counted + 1
        if available <= 0:
            return None
        return remaining / float(available)


class AnonThrottle(RedisWindowMixin, AnonRateThrottle):
    """Anonymous clients, per IP address."""


class UserThrottle(RedisWindowMixin, UserRateThrottle):
    """Authenticated clients, per account."""


class LoginThrottle(RedisWindowMixin, SimpleRateThrottle):
    """Login and registration, per IP address whoever is logged in: password guessing
    and account probing get a handful of tries a minute."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
