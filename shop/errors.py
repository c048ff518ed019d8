"""The shop's one business exception, and the codes it carries.

Services raise ShopError; the API maps each code to an HTTP status in one place
(shop/api/exceptions.py), and the admin or a command can show the same message. A code is a
stable, documented string a client can branch on; the message is for people.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    # Bad input, with messages per field (the code DRF's own validation errors get too).
    INVALID = "invalid"
    # The request names something that cannot be ordered (unknown or inactive product).
    PRODUCT_UNAVAILABLE = "product_unavailable"
    # Not enough stock for one or more lines; the error names each short line.
    OUT_OF_STOCK = "out_of_stock"
    # A status change the workflow (Order.TRANSITIONS) does not allow.
    ILLEGAL_TRANSITION = "illegal_transition"
    # Cancel after shipping, or edit an order that is no longer pending.
    ORDER_NOT_CANCELLABLE = "order_not_cancellable"
    ORDER_NOT_EDITABLE = "order_not_editable"
    # The same Idempotency-Key was used before with a different request body.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # If-Match named a version that is no longer current / was missing on an update.
    PRECONDITION_FAILED = "precondition_failed"
    PRECONDITION_REQUIRED = "precondition_required"
    # Username or email taken; one code for both, so the answer does not say which.
    ACCOUNT_UNAVAILABLE = "account_unavailable"
    INVALID_CREDENTIALS = "invalid_credentials"
    NOT_FOUND = "not_found"
    # Deadlocks / serialization failures persisted through every retry: try again later.
    BUSY = "busy"


class ShopError(Exception):
    def __init__(self, code: ErrorCode, message: str, *, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}

    def __repr__(self):
        return f"ShopError({self.code!s}, {self.message!r})"
