"""Strict input fields: a JSON number is a number, a JSON string is a string.

DRF's own fields coerce: IntegerField runs int(str(value)) after stripping ".0", so "1_0"
was read as 10 and "2.0", " 3 " or 2.0 as integers; CharField takes a number and makes it a
string. An API that guesses hides client bugs, and a value means one thing only. Every
input serializer in shop/api/serializers.py is built from these fields (its test checks
that none of DRF's coercing ones is left) on InputSerializer, which also refuses body keys
it does not know, as StrictFilterBackend refuses unknown query parameters.
"""

from collections.abc import Mapping

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: not a string, not a float (2.0 included), not a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


class StrictStringMixin:
    """A JSON string only: a number, boolean, list or object is a 400."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    default_error_messages = {"invalid": "Not a valid string."}


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class StrictURLField(StrictStringMixin, serializers.URLField):
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass


class StrictChoiceField(StrictStringMixin, serializers.ChoiceField):
    """String choices, named exactly (DRF would look up str(value): 1 for "1")."""

    default_error_messages = {"invalid": "Not a valid string."}


# An input object: keys it does not know are a 400 naming them, not ignored (a typo such as
# `quantiy` must not silently order the default). A comment, not a docstring: the schema
# would take it as every input's description.
class InputSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key: [f"Unknown field. Known: {known}."] for key in unknown}
                )
        return super().to_internal_value(data)
