"""Rate limits, counted in Redis, so every web process shares them: per client (DRF's anon
and user scopes), per IP for logins, and failed logins per account.

Each counts on an atomic sliding window in Redis, one round trip a request
(shop/fastpaths/throttle_window.py, in place of DRF's SimpleRateThrottle counting).
"""

import contextlib
import hashlib
import secrets
import unicodedata

from django.conf import settings
from django.core import signing
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from shop.errors import ErrorCode, ShopError
from shop.fastpaths.throttle_window import RedisWindowMixin


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
