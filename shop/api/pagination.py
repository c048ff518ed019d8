"""Keyset ("seek") pagination over the queryset's own ordering.

A page is `WHERE (k1, k2, ...) beyond the last row seen ORDER BY k1, k2 ... LIMIT n + 1`:
the database reads n + 1 rows from an index in that order, however deep the page, and rows
inserted or deleted meanwhile never shift a page (OFFSET would skip or repeat them).

Why not DRF's CursorPagination: it seeks on the first ordering column only and pages
through ties with OFFSET, so (price, id) would still need OFFSET inside a price, and it
cannot order by an annotation such as the search rank in both directions. Here every
ordering column is part of the seek, and each ordering ends in the primary key, so every
row has a unique position.

The cursor is opaque to clients (base64 of JSON: the ordering, the last row's key values,
the direction). It is not signed: a forged cursor can only choose where a page starts.
"""

import base64
import binascii
import json
import math
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

INVALID_CURSOR = "Invalid cursor: use the next or previous link of a page as it is."


def _encode_value(value):
    if isinstance(value, bool):  # bool is an int: never a key here, refuse rather than guess
        raise TypeError("boolean keyset column")
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, Decimal):
        return ["d", str(value)]
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    raise TypeError(f"cannot page on a {type(value).__name__}")


# A cursor this program wrote is under 400 characters; a longer one is refused unread.
MAX_CURSOR_LENGTH = 1000


def _expected(model, name: str):
    """What a cursor may hold for ordering column `name`: the model field's type and range
    (a key a real row had always fits its column: an integer the range Django gives the
    column's type, a decimal its digits), or a finite float for an annotation
    (the search rank). Without this a cursor's 1e999999 reached PostgreSQL as a numeric it
    could not hold: a 500."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return "f", None
    if isinstance(field, models.DecimalField):
        return "d", field
    if isinstance(field, models.DateTimeField):
        return "t", None
    if isinstance(field, models.IntegerField | models.AutoField):
        return "i", connection.ops.integer_field_range(field.get_internal_type())
    raise TypeError(f"cannot page on {name}")


def _decode_value(tagged, expected):
    if not (isinstance(tagged, list) and len(tagged) == 2):
        raise ValueError("bad cursor value")
    tag, raw = tagged
    want, column = expected  # "i": the (lowest, highest) integer; "d": the DecimalField
    if tag != want:
        raise ValueError("cursor value of another type")
    is_int = isinstance(raw, int) and not isinstance(raw, bool)
    if tag == "i" and is_int and column[0] <= raw <= column[1]:
        return raw
    if tag == "d" and isinstance(raw, str) and len(raw) <= 40:
        value = Decimal(raw)
        if value.is_finite():
            # At most the column's digits: numeric(10, 2) holds |value| < 10^8, 2 places.
            _, digits, exponent = value.as_tuple()
            whole = len(digits) + exponent
            if whole <= column.max_digits - column.decimal_places and -exponent <= (
                column.decimal_places
            ):
                return value
    if tag == "f" and isinstance(raw, str) and len(raw) <= 40:
        value = float(raw)
        if math.isfinite(value):
            return value
    if tag == "t" and isinstance(raw, str) and len(raw) <= 40:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is not None:
            return value
    raise ValueError("bad cursor value")


def seek_filter(fields: list[str], values: list, op: str) -> Q:
    """(f1, f2, ...) > (v1, v2, ...) for op "gt" ("lt" for descending), as
    f1 >= v1 AND (f1 > v1 OR (f2, ...) > (v2, ...)): the redundant f1 >= v1 is what lets the
    planner start the index scan at v1 instead of filtering from the first row."""
    field, value = fields[0], values[0]
    if len(fields) == 1:
        return Q(**{f"{field}__{op}": value})
    return Q(**{f"{field}__{op}e": value}) & (
        Q(**{f"{field}__{op}": value}) | seek_filter(fields[1:], values[1:], op)
    )


class KeysetPagination(BasePagination):
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)

    def _decode_cursor(self, request, ordering: list[str], model):
        """The cursor's values, checked one by one against the ordering's columns: type,
        shape, length and range. Anything else is a 400 naming the cursor parameter."""
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            if len(raw) > MAX_CURSOR_LENGTH:
                raise ValueError("cursor too long")
            padded = raw + "=" * (-len(raw) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(payload, dict) or set(payload) != {"o", "v", "r"}:
                raise ValueError("bad cursor shape")
            if payload["o"] != ordering or not isinstance(payload["v"], list):
                raise ValueError("cursor from another ordering")
            if len(payload["v"]) != len(ordering):
                raise ValueError("cursor from another ordering")
            values = [
                _decode_value(tagged, _expected(model, name.lstrip("-")))
                for tagged, name in zip(payload["v"], ordering, strict=True)
            ]
            reverse = payload["r"]
            if not isinstance(reverse, bool):
                raise ValueError("bad direction")
        except (
            ValueError,
            TypeError,
            KeyError,
            UnicodeError,
            binascii.Error,
            InvalidOperation,
            RecursionError,  # JSON nested a thousand deep
        ):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return values, reverse

    def _encode_cursor(self, row, ordering: list[str], *, reverse: bool) -> str:
        values = [_encode_value(getattr(row, name.lstrip("-"))) for name in ordering]
        payload = json.dumps({"o": ordering, "v": values, "r": reverse}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        ordering = [str(name) for name in queryset.query.order_by]
        if not ordering or len({name.startswith("-") for name in ordering}) != 1:
            raise ValueError("keyset pagination needs an ordering in one direction")
        fields = [name.lstrip("-") for name in ordering]
        size = self._page_size(request)
        cursor = self._decode_cursor(request, ordering, queryset.model)

        reverse = False
        if cursor is not None:
            values, reverse = cursor
            op = "lt" if ordering[0].startswith("-") != reverse else "gt"
            queryset = queryset.filter(seek_filter(fields, values, op))
            if reverse:
                queryset = queryset.reverse()
        rows = list(queryset[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        has_next = (cursor is not None and reverse) or (not reverse and more)
        has_previous = (reverse and more) or (cursor is not None and not reverse)
        self.next_link = self.previous_link = None
        if rows and has_next:
            self.next_link = self._link(self._encode_cursor(rows[-1], ordering, reverse=False))
        if rows and has_previous:
            self.previous_link = self._link(self._encode_cursor(rows[0], ordering, reverse=True))
        return rows

    def _link(self, cursor: str) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response({"next": self.next_link, "previous": self.previous_link, "results": data})

    def get_paginated_response_schema(self, schema):
        # example: null (the first and last page), so examples of a page can be built.
        link = {"type": "string", "nullable": True, "format": "uri", "example": None}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the `next` or `previous` link's cursor.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {self.max_page_size} "
                f"(default {self.page_size}); more is a 400.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
