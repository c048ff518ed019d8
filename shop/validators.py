"""Input rules that several doors state, written once: the services, the API's serializers and
the admin's forms all call these, so no door accepts what another refuses.

Each rule is worded as the API words it (DRF's messages), since the API is where most
input arrives; the admin shows the same words.
"""

import re

from django.core.exceptions import ValidationError
from django.db import connection, models

from shop.models import SHIPPING_ADDRESS_KEYS, IdempotencyKey, Product


def max_length(model: type[models.Model], name: str) -> int:
    """The longest value the model's field (its column) holds: where an input is refused as
    too long, the limit is the column's, never a second number that could drift from it."""
    field = model._meta.get_field(name)
    return getattr(field, "base_field", field).max_length  # an array: its elements' length


# The largest id a primary key column holds (bigint): a bigger one in a body or a query
# string is a 400, never a database error. Django's own range for the column's type.
MAX_ID = connection.ops.integer_field_range(Product._meta.pk.get_internal_type())[1]
# An Idempotency-Key is stored in shop_idempotencykey.key: as long as that column allows.
IDEMPOTENCY_KEY_MAX_LENGTH = max_length(IdempotencyKey, "key")

# --------------------------------------------------------------------------- shipping address

# Every key an address may have, in the order errors are reported, with its longest value.
# The required ones are the keys shop_order_shipping_address_complete checks for
# (SHIPPING_ADDRESS_KEYS); line2 is the one optional key, dropped when blank.
SHIPPING_ADDRESS_MAX_LENGTHS = {
    "name": 200,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "postal_code": 20,
    "country": 2,
}
SHIPPING_ADDRESS_OPTIONAL = frozenset(SHIPPING_ADDRESS_MAX_LENGTHS) - set(SHIPPING_ADDRESS_KEYS)
COUNTRY_CODE = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2, upper case
COUNTRY_CODE_MESSAGE = "Use the ISO 3166-1 alpha-2 code, e.g. GB."
SURROGATE = re.compile(
    "[\ud800-\udfff]"
)  # cannot be stored (not UTF-8); the API's parser refuses them too


def _address_value_errors(key: str, value: object) -> tuple[str | None, list[str]]:
    """(the value as stored, the messages it earns): text, trimmed, short enough."""
    if value is None:
        return None, ["This field may not be null."]
    if not isinstance(value, str):
        return None, ["Not a valid string."]
    value = value.strip()
    if "\x00" in value:
        return None, ["Null characters are not allowed."]
    surrogate = SURROGATE.search(value)
    if surrogate:
        return None, [f"Surrogate characters are not allowed: U+{ord(surrogate.group()):X}."]
    if not value and key not in SHIPPING_ADDRESS_OPTIONAL:
        return None, ["This field may not be blank."]
    errors = []
    limit = SHIPPING_ADDRESS_MAX_LENGTHS[key]
    if len(value) > limit:
        errors.append(f"Ensure this field has no more than {limit} characters.")
    if key == "country" and not COUNTRY_CODE.fullmatch(value):
        errors.append(COUNTRY_CODE_MESSAGE)
    return value, errors


def shipping_address_clean(address: object) -> dict[str, str]:
    """The address as it is stored (values trimmed, a blank line2 left out), or a
    ValidationError: {key: [messages]} naming each bad key, or one message when the address
    is not an object at all. Unknown keys are refused (a typo must not lose a line)."""
    if not isinstance(address, dict):
        # Named by its JSON type's Python name, as DRF does (a form's JSONString is a str).
        kind = next((t for t in (bool, int, float, str, list) if isinstance(address, t)), None)
        name = type(address).__name__ if kind is None else kind.__name__
        raise ValidationError(f"Invalid data. Expected a dictionary, but got {name}.")
    unknown = sorted(str(key) for key in address if key not in SHIPPING_ADDRESS_MAX_LENGTHS)
    if unknown:
        known = ", ".join(SHIPPING_ADDRESS_MAX_LENGTHS)
        raise ValidationError({key: [f"Unknown field. Known: {known}."] for key in unknown})
    cleaned, errors = {}, {}
    for key in SHIPPING_ADDRESS_MAX_LENGTHS:
        if key not in address:
            if key not in SHIPPING_ADDRESS_OPTIONAL:
                errors[key] = ["This field is required."]
            continue
        value, messages = _address_value_errors(key, address[key])
        if messages:
            errors[key] = messages
        elif value:
            cleaned[key] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def error_messages(error: ValidationError) -> dict[str, list[str]] | list[str]:
    """A ValidationError's messages: {key: [messages]}, or [messages] when it names no key."""
    return error.message_dict if hasattr(error, "error_dict") else error.messages
