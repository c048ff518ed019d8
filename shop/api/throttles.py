"""Rate limits, counted in the default cache (Redis), so every web process shares them.

DRF binds THROTTLE_RATES when its classes are imported; these read the rates from the
current settings on each request instead, so a deployment (and a test) can change them.
Over the limit: 429 with Retry-After (seconds until the oldest counted request expires).
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class CurrentRatesMixin:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class AnonThrottle(CurrentRatesMixin, AnonRateThrottle):
    """Anonymous clients, per IP address."""


class UserThrottle(CurrentRatesMixin, UserRateThrottle):
    """Authenticated clients, per account."""


class LoginThrottle(CurrentRatesMixin, SimpleRateThrottle):
    """Login and registration, per IP address whoever is logged in: password guessing
    and account probing get a handful of tries a minute."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
