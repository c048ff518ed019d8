"""The idiomatic code each fast path replaces, so that bench/benchmarks/fastpaths.py can run
both side by side: swapped in by a bench server's workers (bench/gunicorn_idiom.py), or for a
block of the bench process itself (`swapped`).

Bench-only: the app never imports this. Each replacement is what the fast path's docstring
says it replaces, written the way Django and DRF document it.
"""

import contextlib
from collections.abc import Iterator
from unittest import mock

from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from shop.api import throttles, views
from shop.fastpaths import serializer_reuse, token_lookup


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _token_queryset():
    return Token.objects.select_related("user")


# (object, attribute, the idiom's value), per fast path.
IDIOMS = {
    # A new serializer per use: Serializer(data=...).is_valid() and Serializer(instance).
    "serializer_reuse": [
        (views, "validated", _validated),
        (serializer_reuse, "shared", lambda serializer_class: serializer_class()),
    ],
    # DRF's lookup: Token.objects.select_related("user").get(key=key).
    "token_lookup": [
        (token_lookup, "token_with_user", lambda key: _token_queryset().filter(key=key).first()),
    ],
    # DRF's SimpleRateThrottle: a list of request times in the cache, GET then SET.
    "throttle_window": [
        (cls, name, getattr(SimpleRateThrottle, name))
        for cls in (throttles.AnonThrottle, throttles.UserThrottle)
        for name in ("allow_request", "wait", "cache_format")
    ],
}


def apply(names: str) -> None:
    """Swap in the idioms named, comma-separated ("all": every one), for good."""
    for name in IDIOMS if names == "all" else names.split(","):
        for target, attribute, value in IDIOMS[name]:
            setattr(target, attribute, value)


@contextlib.contextmanager
def swapped(name: str) -> Iterator[None]:
    """The idiom in place of the fast path `name` for the block."""
    with contextlib.ExitStack() as stack:
        for target, attribute, value in IDIOMS[name]:
            stack.enter_context(mock.patch.object(target, attribute, value))
        yield
