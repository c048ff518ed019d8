"""The idiomatic code each fast path replaces, swapped in by a bench server's workers
(bench/gunicorn_idiom.py) so that bench/benchmarks/fastpaths.py can run both side by side.

Bench-only: the app never imports this. Each replacement is what the fast path's docstring
says it replaces, written the way Django and DRF document it.
"""

import contextlib

from rest_framework import exceptions
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from shop import cache
from shop.api import authentication, rls, throttles, views
from shop.api import serializers as s
from shop.models import User


def token() -> None:
    """DRF's TokenAuthentication lookup, a queryset (select_related), then the shop's checks."""

    def authenticate_credentials(self, key):
        try:
            found = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist as missing:
            raise exceptions.AuthenticationFailed("Invalid token.") from missing
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if found.user.status != User.Status.ACTIVE:
            raise exceptions.AuthenticationFailed(authentication.INACTIVE)
        rls.scope_to(found.user)
        return found.user, found

    authentication.TokenAuthentication.authenticate_credentials = authenticate_credentials


def prototype() -> None:
    """A new serializer per use: Serializer(data=...).is_valid() and Serializer(instance)."""

    def valid(serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    views._valid = valid
    s.prototype = lambda serializer_class: serializer_class()


def batched() -> None:
    """Each after-commit cache action sent on its own (a round trip each)."""
    cache.batched = contextlib.nullcontext


def throttle() -> None:
    """DRF's SimpleRateThrottle: a list of request times in the cache, GET then SET."""
    for cls in (throttles.AnonThrottle, throttles.UserThrottle):
        cls.allow_request = SimpleRateThrottle.allow_request
        cls.wait = SimpleRateThrottle.wait
        cls.cache_format = SimpleRateThrottle.cache_format


IDIOMS = {"token": token, "prototype": prototype, "batched": batched, "throttle": throttle}


def apply(names: str) -> None:
    """Swap in the idioms named, comma-separated ("all": every one)."""
    for name in IDIOMS if names == "all" else names.split(","):
        IDIOMS[name]()
