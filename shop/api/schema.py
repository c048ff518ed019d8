"""The OpenAPI schema's error answers, added in one place from what each view really does.

A view's @extend_schema lists the answers of its own logic (404, 409, 412 ...). The answers
that come from the machinery around every view are added here, so that no operation can
forget one and the schema (docs/openapi.yaml) documents everything a client can get:

- 400 everywhere: a NUL in a header, cookie or query parameter (shop/api/middleware.py), an
  unknown query parameter (shop/api/filters.py), and bad input;
- 406 everywhere: an Accept header the JSON renderer cannot satisfy;
- 429, with Retry-After, where the view has throttles (shop/api/throttles.py);
- 503, with Retry-After, everywhere: the database unreachable (unavailable), or a deadlock
  that outlasted its retries (busy);
- 413 and 415 where the operation reads a body: over DATA_UPLOAD_MAX_MEMORY_SIZE, or not
  application/json (shop/api/parsers.py).
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

DESCRIPTIONS = {
    "400": "Invalid input: a field, a query parameter, a header or the body (code names which).",
    "401": "Not signed in, or the token is unknown or its account suspended.",
    "403": "Signed in, but not allowed (or a session write without its CSRF token).",
    "404": "No such resource (or not yours).",
    "406": "The Accept header asks for something other than application/json.",
    "409": "The request conflicts with the resource's state (see code).",
    "412": "If-Match no longer matches: the resource changed since; nothing was written.",
    "413": "The body is over the size limit (too_large).",
    "415": "The body is not application/json.",
    "422": "The Idempotency-Key was used before with another body.",
    "428": "If-Match is required.",
    "429": "Too many requests (throttled): wait for Retry-After seconds.",
    "503": "Busy or the database unavailable: retry after Retry-After seconds.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
BODY_METHODS = {"POST", "PUT", "PATCH"}


# Each operation's tag: its resource, from the first part of its path under /api/v1/.
TAG_FOR_PATH = {
    "auth": "account",
    "me": "account",
    "categories": "categories",
    "products": "products",
    "orders": "orders",
    "staff": "staff",
    "": "api",
}


class ErrorAnswersSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        first = self.path.removeprefix("/api/v1/").split("/", 1)[0]
        return [TAG_FOR_PATH[first]]

    def _error_codes(self) -> list[str]:
        codes = ["400", "406", "503"]
        if self.view.get_throttles():
            codes.append("429")
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            codes += ["413", "415"]
        return codes

    def _get_response_bodies(self, direction="response"):
        from shop.api.serializers import ErrorSerializer  # serializers import this module's app

        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer), code, direction=direction
                )
        for code, response in responses.items():
            if code in DESCRIPTIONS and not response.get("description"):
                response["description"] = DESCRIPTIONS[code]
            if code in {"429", "503"}:
                response["headers"] = {**response.get("headers", {}), **RETRY_AFTER}
        return dict(sorted(responses.items()))
