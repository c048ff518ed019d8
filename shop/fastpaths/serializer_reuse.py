"""Fast path: one instance of each stateless serializer per process, reused for every request.

Replaces: `Serializer(data=data).is_valid(raise_exception=True)` / `.validated_data` and
`Serializer(instance).data`, which build a new serializer per use. DRF deep-copies a
serializer's declared fields for every new instance, nested serializers and their fields
included: for an order (address, lines, items and their products) that is most of what
validating a checkout and representing its order cost in Python. `run_validation(data)` and
`to_representation(instance)` keep nothing on the instance (what `is_valid()` and `.data`
keep, they keep themselves), so one instance serves every request and thread. Not for
serializers with context, `partial` or an instance (the views' other serializers).

It relies on that DRF internal (which methods keep no state), hence a fast path. Measured
(`ONLY=fastpaths make bench`, "prototype" line; docs/performance.md, "Fast paths").
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
