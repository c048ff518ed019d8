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

import contextlib
import hashlib
import secrets
import unicodedata
import uuid

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from shop import cache as shop_cache
from shop.errors import ErrorCode, ShopError

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


# --------------------------------------------------------------------------- per account

# A login's "known device" cookie: set on a successful login, presented with the next ones.
DEVICE_COOKIE = "pgshop_login_device"
DEVICE_COOKIE_AGE = 90 * 24 * 60 * 60  # seconds; each successful login renews it
DEVICE_SALT = "shop.api.throttles.login-device"


def account_ident(username: str) -> str:
    """The submitted username as the limit counts it: NFKC (as Django normalises usernames),
    case-folded and stripped, so "Ada", "ADA " and "ａｄａ" share one budget; hashed, so
    the Redis key has a bounded length and names nobody."""
    normal = unicodedata.normalize("NFKC", username).casefold().strip()
    return hashlib.sha256(normal.encode()).hexdigest()


class LoginAccountThrottle(RedisWindowMixin, SimpleRateThrottle):
    """Failed logins per account, whichever addresses they come from (the per-IP limit does
    not see a guesser spread over many addresses): THROTTLE_LOGIN_ACCOUNT, e.g. 10 an hour.

    Only failures count: each attempt takes a place in the window while it runs, and a
    correct password gives it back. So that a guesser who spends an account's budget does
    not lock its shopper out, a browser or app that logged in to the account before
    presents the known-device cookie set then, and is counted on that device's own budget
    instead of the account's. A shopper on a new device waits for Retry-After.
    """

    scope = "login_account"

    def __init__(self, username: str, device: str | None) -> None:
        self.ident = account_ident(username)
        self.device = device
        super().__init__()

    def get_rate(self):
        # A deployment (or a test) that names no such rate has no per-account limit.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        ident = f"{self.ident}_{self.device}" if self.device else self.ident
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _device_of(request, ident: str) -> str | None:
    """The known-device id in the request's cookie, if it is ours, unexpired and for this
    account; None otherwise (absent, forged, another account's, too old)."""
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        device = signing.loads(value, salt=DEVICE_SALT, max_age=DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(device, dict) or device.get("account") != ident:
        return None
    return device.get("device") if isinstance(device.get("device"), str) else None


class LoginAttempt:
    """One login attempt under the per-account limit (see LoginAccountThrottle)."""

    def __init__(self, request, username: str) -> None:
        self.ident = account_ident(username)
        self.device = _device_of(request, self.ident)
        self.throttle = LoginAccountThrottle(username, self.device)
        if not self.throttle.allow_request(request, None):
            raise Throttled(wait=self.throttle.wait())

    def remember_device(self, response) -> None:
        """After the right password: the cookie that lets this device past a guesser."""
        value = signing.dumps(
            {"account": self.ident, "device": self.device or secrets.token_hex(16)},
            salt=DEVICE_SALT,
        )
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_COOKIE_AGE,
            path="/api/v1/auth/",  # sent to the login endpoint only
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


@contextlib.contextmanager
def login_attempt(request, username: str):
    """Counts the attempt for the block (429 at once when the account's budget is spent);
    it stays counted only when the block fails with a wrong password."""
    attempt = LoginAttempt(request, username)
    try:
        yield attempt
    except ShopError as error:
        if error.code != ErrorCode.INVALID_CREDENTIALS:
            attempt.throttle.release()
        raise
    except BaseException:
        attempt.throttle.release()  # an outage is not a wrong password
        raise
    attempt.throttle.release()  # the right password: not a failure
