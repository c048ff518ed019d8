"""One error body for every 4xx the API gives: {"code": ..., "message": ..., "fields": {...}}.

`code` is a stable string to branch on (ErrorCode values, or DRF's own codes such as
not_authenticated, permission_denied, not_found, throttled, parse_error); `message` is one
sentence for people, never prefixed with a field's name; `fields` maps the path of each
input field at fault to its messages, one flat object whatever the input's nesting:

    {"quantity": [...]}                      a field of the body (or a query parameter)
    {"shipping_address.city": [...]}         a field of a nested object
    {"items.0.product": [...]}               a field of line 0 of a list (0 = the first)
    {"items": [...]}                         the list itself (empty, too long)

and it is empty when the error is about no one field (a body that is not an object, a
conflict, a missing login). Anything that is not a known error stays a 500 and is logged.
"""

import sys

import psycopg.errors
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, InternalError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found as django_page_not_found
from django.views.defaults import server_error as django_server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from shop.errors import ErrorCode, ShopError

STATUS_FOR_CODE = {
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.PRODUCT_UNAVAILABLE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.INVALID_CREDENTIALS: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.OUT_OF_STOCK: status.HTTP_409_CONFLICT,
    ErrorCode.ILLEGAL_TRANSITION: status.HTTP_409_CONFLICT,
    ErrorCode.ORDER_NOT_CANCELLABLE: status.HTTP_409_CONFLICT,
    ErrorCode.ORDER_NOT_EDITABLE: status.HTTP_409_CONFLICT,
    ErrorCode.ACCOUNT_UNAVAILABLE: status.HTTP_409_CONFLICT,
    ErrorCode.PRECONDITION_FAILED: status.HTTP_412_PRECONDITION_FAILED,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    ErrorCode.PRECONDITION_REQUIRED: status.HTTP_428_PRECONDITION_REQUIRED,
    ErrorCode.BUSY: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": str(code), "message": message, "fields": fields or {}}


def flat_fields(detail, path: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every message of a (nested) validation error under its dotted path, in input order:
    {"items": {"0": {"quantity": [m]}}} and [{"quantity": [m]}] both become
    {"items.0.quantity": [m]}. DRF's non_field_errors adds nothing to the path (the object's
    own errors are its path's), and errors of the whole body (path "") are left to message."""
    fields: dict[str, list[str]] = {}

    def add(where: tuple[str, ...], message) -> None:
        if where:
            fields.setdefault(".".join(where), []).append(str(message))

    def walk(node, where: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(
                    value, where if key == api_settings.NON_FIELD_ERRORS_KEY else (*where, str(key))
                )
        elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
            for index, item in enumerate(node):  # one entry per input line; {} for a good one
                walk(item, (*where, str(index)))
        elif isinstance(node, list):
            for message in node:
                add(where, message)
        else:
            add(where, node)

    walk(detail, path)
    return fields


def first_message(detail) -> str | None:
    """The first message of a (nested) validation error, as it is: no field name before it."""
    if isinstance(detail, dict):
        detail = list(detail.values())
    if isinstance(detail, list):
        return next((found for item in detail if (found := first_message(item))), None)
    return str(detail) if detail else None


def exception_handler(exc, context):
    if isinstance(exc, ShopError):
        response = Response(
            error_body(exc.code, exc.message, flat_fields(exc.fields)),
            status=STATUS_FOR_CODE[exc.code],
        )
        if exc.code == ErrorCode.BUSY:
            response["Retry-After"] = "1"
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, logged by Django
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data
        response.data = error_body(
            ErrorCode.INVALID, first_message(detail) or "Invalid input.", flat_fields(detail)
        )
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        response.data = error_body(code, str(exc.detail))
    return response


def page_not_found(request, exception=None):
    """Django's 404 (no URL matched), in the API's error shape under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}."), status=404
        )
    return django_page_not_found(request, exception)


def bad_request(request, exception=None):
    """Django's own 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host header...),
    in the API's error shape under /api/."""
    if isinstance(exception, RequestDataTooBig):
        # The same answer as the API's parser gives a body over the limit (shop/api/parsers.py).
        message = f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        if request.path.startswith("/api/"):
            return JsonResponse(error_body("too_large", message), status=413)
        return HttpResponse(message, content_type="text/plain; charset=utf-8", status=413)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
    return django_bad_request(request, exception)


# How long a client should wait before retrying while the database is unreachable: a
# PostgreSQL restart or failover takes seconds.
DATABASE_RETRY_AFTER = "5"


def is_database_outage(exc: BaseException | None) -> bool:
    """A lost or unreachable server (OperationalError, InterfaceError), and two errors a
    failover raises as InternalError: a write that reached a server in recovery (read-only,
    SQLSTATE 25006; the new leader is routed to a moment before its promotion ends), and
    psycopg's own protocol error when the leader dies under a COMMIT ("received 2 results
    from command 'COMMIT'", no SQLSTATE: the server never sent one). All pass in seconds: a
    503, not a bug. A COMMIT cut short may have committed: the client retries with its
    Idempotency-Key, which replays the order rather than placing it twice."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    cause = exc.__cause__ if isinstance(exc, InternalError) else None
    return isinstance(cause, psycopg.errors.ReadOnlySqlTransaction) or (
        type(cause) is psycopg.InternalError and cause.sqlstate is None
    )


def server_error(request):
    """Django's 500 (when DEBUG is off): JSON under /api/, and a 503 for a database outage.

    Django calls this inside its `except` block, so the exception is sys.exc_info().
    """
    if is_database_outage(sys.exc_info()[1]):
        return database_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it is logged."),
            status=500,
        )
    return django_server_error(request)


def database_unavailable(request) -> HttpResponse:
    """The answer while the database cannot be reached, whatever DEBUG is (also called by
    shop.api.middleware.ApiErrorMiddleware for a view's exception).

    A lost connection, a server restarting or shutting down (OperationalError, InterfaceError)
    or no free pooled connection within DB_POOL_TIMEOUT (psycopg_pool.PoolTimeout, which
    Django wraps as OperationalError) is an outage, not a bug: the answer is 503 with
    Retry-After, in the API's error shape under /api/. The broken connection is discarded
    when the request ends (Django closes a connection whose error left it unusable, and the
    pool checks every connection it hands out), so the pool recovers by itself.
    """
    message = "The database is unavailable; please try again in a moment."
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("unavailable", message), status=503)
    else:
        response = HttpResponse(message, content_type="text/plain; charset=utf-8", status=503)
    response["Retry-After"] = DATABASE_RETRY_AFTER
    return response
