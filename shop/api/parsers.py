"""The one JSON parser of every endpoint, with limits a hostile body cannot get past.

DRF's JSONParser catches ValueError only: a body of ~1,500 nested arrays makes the json
module raise RecursionError (a 500), a body is read whole however large it is, an unknown
charset raises LookupError, and a NUL or a lone surrogate in a string reaches PostgreSQL,
which refuses both in text. Here every such body is a 4xx in the API's error shape:

- MAX_BODY_BYTES (Django's DATA_UPLOAD_MAX_MEMORY_SIZE): a longer body is a 413 too_large,
  read no further than the limit;
- MAX_DEPTH levels of arrays and objects: a deeper body is a 400 parse_error (no input of
  this API is nested more than four deep);
- every string (object keys included) is valid Unicode without NUL, else 400 parse_error;
- only UTF-8 (RFC 8259 requires it); another charset is a 400 parse_error;
- NaN, Infinity and numbers too large for a float (1e999) are not JSON: 400 parse_error.
"""

import json
import math

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

MAX_DEPTH = 32


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self):
        super().__init__(f"The request body is over {max_body_bytes()} bytes.")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def check_strings_and_depth(data) -> None:
    """Walk the parsed body without recursion: depth, NUL and undecodable strings."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value)
        elif isinstance(value, float) and not math.isfinite(value):  # 1e999 is read as inf
            raise ParseError("Numbers must be finite.")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.")
            if isinstance(value, dict):
                for key in value:
                    _check_string(key)
                children = value.values()
            else:
                children = value
            stack.extend((child, depth + 1) for child in children)


def _check_string(value: str) -> None:
    if "\x00" in value:
        raise ParseError("Strings may not contain NUL (\\u0000) characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        raise ParseError("Strings must be valid Unicode (no lone surrogates).") from None


class JSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        _, params = parse_header_parameters(media_type or "")
        if params.get("charset", "utf-8").lower() not in {"utf-8", "utf8"}:
            raise ParseError("JSON must be sent in UTF-8.")
        if stream is None:
            raise ParseError("JSON parse error - empty body.")
        limit = max_body_bytes()
        # Never more than the limit into memory: one byte past it is enough to refuse.
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge()
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.") from None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None
        check_strings_and_depth(data)
        return data
