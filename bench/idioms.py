"""The idiomatic code each fast path replaces, swapped in by a bench server's workers
(bench/gunicorn_idiom.py) so that bench/benchmarks/fastpaths.py can run both side by side.

Bench-only: the app never imports this. Each replacement is what the fast path's docstring
says it replaces, written the way Django and DRF document it. (The breaker's pair runs in
the bench process itself: bench/benchmarks/fastpaths.py.)
"""

from rest_framework.throttling import SimpleRateThrottle

from shop.api import throttles, views
from shop.fastpaths import serializer_reuse


def serializer_reuse_idiom() -> None:
    """A new serializer per use: Serializer(data=...).is_valid() and Serializer(instance)
    (shop/fastpaths/serializer_reuse.py)."""

    def validated(serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    views.validated = validated
    serializer_reuse.shared = lambda serializer_class: serializer_class()


def throttle_window_idiom() -> None:
    """DRF's SimpleRateThrottle: a list of request times in the cache, GET then SET
    (shop/fastpaths/throttle_window.py)."""
    for cls in (throttles.AnonThrottle, throttles.UserThrottle):
        cls.allow_request = SimpleRateThrottle.allow_request
        cls.wait = SimpleRateThrottle.wait
        cls.cache_format = SimpleRateThrottle.cache_format


IDIOMS = {"serializer_reuse": serializer_reuse_idiom, "throttle_window": throttle_window_idiom}


def apply(names: str) -> None:
    """Swap in the idioms named, comma-separated ("all": every one)."""
    for name in IDIOMS if names == "all" else names.split(","):
        IDIOMS[name]()
