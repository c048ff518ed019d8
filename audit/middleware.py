"""Request context for audit history: who, how and which request, on every write of a request."""

import re
import uuid

from django.db import connection
from pghistory.middleware import HistoryMiddleware

# A caller's (or proxy's) request id is kept when it is a plain token; anything else is replaced,
# so a header cannot smuggle arbitrary text into every event of the request.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def request_id_for(request) -> str:
    """The X-Request-ID header when it is sane, else a new uuid4."""
    given = request.headers.get("X-Request-ID", "")
    return given if REQUEST_ID_PATTERN.fullmatch(given) else str(uuid.uuid4())


def via_for(path: str) -> str:
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return "web"


class AuditContextMiddleware(HistoryMiddleware):
    """pghistory's middleware, with the method, the channel and a request id.

    The context is entered for PGHISTORY_MIDDLEWARE_METHODS (GET included: a GET should not
    write, but if it does, the write is still attributed). DRF sets request.user in the view;
    pghistory's request class updates the context's user when it does. The request id is
    echoed in the X-Request-ID response header so a client can quote it.
    """

    def get_context(self, request):
        user = getattr(request, "user", None)
        user_id = (
            user._meta.pk.get_db_prep_value(user.pk, connection)
            if user is not None and hasattr(user, "_meta")
            else None
        )
        request.audit_request_id = request_id_for(request)
        return {
            "via": via_for(request.path),
            "user": user_id,
            "method": request.method,
            "path": request.path,
            "request_id": request.audit_request_id,
        }

    def __call__(self, request):
        response = super().__call__(request)
        request_id = getattr(request, "audit_request_id", None)
        if request_id is not None:
            response["X-Request-ID"] = request_id
        return response
