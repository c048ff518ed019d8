"""Fast path: one instance of each stateless serializer per process, reused for every request.

Replaces: `Serializer(data=data).is_valid(raise_exception=True)` / `.validated_data` and
`Serializer(instance).data`, which build a new serializer per use. DRF deep-copies a
serializer's declared fields for every new instance, nested serializers and their fields
included: for an order (address, lines, items and their products) that is most of what
validating a checkout and representing its order cost in Python. `run_validation(data)` and
`to_representation(instance)` keep nothing on the instance (what `is_valid()` and `.data`
keep, they keep themselves), so one instance serves every request and thread. Not for
serializers with context, `partial` or an instance (the views' other serializers).

It relies on that DRF internal (which methods keep no state), hence a fast path. Measured by
`ONLY=fastpaths ROUNDS=5 SECONDS=3 make bench` (the "serializer_reuse" lines; 2026-12-07,
on a busy 2-CPU machine; docs/performance.md, "Fast paths"): CPU per checkout in-process,
idiom / this, 1.16 (spread 1.08-1.46) and 1.17 (1.16-1.65) in two runs, 6.5-9.0 ms against
7.5-10.4 ms. Under load the checkout's orders/s, this / idiom, gave 1.11 (1.05-1.21), 1.12
(0.91-1.26), 0.90 (0.61-1.67), 1.04 (0.96-1.61) and 1.02 (0.96-1.36) over five runs: inside
the noise of that machine.
"""

import functools

from rest_framework import serializers
from rest_framework.exceptions import ValidationError


@functools.cache
def shared(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The process's one instance of serializer_class, for run_validation and
    to_representation only."""
    return serializer_class()


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """serializer_class(data=data).is_valid(raise_exception=True)'s validated_data."""
    try:
        return shared(serializer_class).run_validation(data)
    except ValidationError:
        # Invalid: DRF's own is_valid() words the 400 (its errors property has cases of its
        # own, e.g. a null body), at the cost of validating twice, on this path only.
        serializer_class(data=data).is_valid(raise_exception=True)
        raise
