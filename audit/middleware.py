"""Request context for audit history: who, how and which request, on every write of a request."""

import re
import uuid

from django.core.handlers.asgi import ASGIRequest as DjangoASGIRequest
from django.core.handlers.wsgi import WSGIRequest as DjangoWSGIRequest
from django.db import connection
from pghistory import config
from pghistory.middleware import ASGIRequest, HistoryMiddleware, WSGIRequest

from audit.context import audit_context

# A caller's (or proxy's) request id is kept when it is a plain token; anything else is replaced,
# so a header cannot smuggle arbitrary text into every event of the request.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def request_id_for(request) -> str:
    """The X-Request-ID header when it is sane, else a new uuid4."""
    given = request.headers.get("X-Request-ID", "")
    return given if REQUEST_ID_PATTERN.fullmatch(given) else str(uuid.uuid4())


# Requests here never write a tracked table, and the database dashboard runs statements staff
# type (EXPLAIN) that must reach PostgreSQL untouched: pghistory's context injection would
# turn their literal '%' into placeholders. Its cancel/terminate actions write only Django's
# admin LogEntry, which is not tracked.
UNTRACKED_PATH_PREFIXES = ("/admin/dbhealth/", "/healthz", "/static/")


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
        if request.method not in config.middleware_methods() or request.path.startswith(
            UNTRACKED_PATH_PREFIXES
        ):
            return self.get_response(request)
        with audit_context(**self.get_context(request)):
            # pghistory's request classes: assigning request.user (DRF does, in the view)
            # updates the context's user.
            if isinstance(request, DjangoWSGIRequest):
                request.__class__ = WSGIRequest
            elif isinstance(request, DjangoASGIRequest):
                request.__class__ = ASGIRequest
            response = self.get_response(request)
        response["X-Request-ID"] = request.audit_request_id
        return response
