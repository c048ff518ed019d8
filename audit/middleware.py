"""Request context for audit history: who, how and which request, on every write of a request."""

import re
import uuid

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest as DjangoASGIRequest
from django.core.handlers.wsgi import WSGIRequest as DjangoWSGIRequest
from django.db import connection
from pghistory import config

from audit import context

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


def user_id_of(user) -> int | None:
    return user._meta.pk.get_db_prep_value(user.pk, connection) if hasattr(user, "_meta") else None


class _UserFollowingRequest:
    """DRF assigns request.user in the view, after every middleware: the context's user follows
    the assignment (as pghistory's own request classes do for pghistory.context)."""

    def __setattr__(self, attr, value):
        if attr == "user":
            context.add(user=user_id_of(value))
        super().__setattr__(attr, value)


class WSGIRequest(_UserFollowingRequest, DjangoWSGIRequest):
    pass


class ASGIRequest(_UserFollowingRequest, DjangoASGIRequest):
    pass


class AuditContextMiddleware:
    """Every write of a request carries its user, method, path, channel and a request id.

    The context is entered for PGHISTORY_MIDDLEWARE_METHODS (GET included: a GET should not
    write, but if it does, the write is still attributed), except under the paths of the
    AUDIT_UNTRACKED_PATHS setting. The request id is echoed in the X-Request-ID response
    header so a client can quote it.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.untracked = tuple(settings.AUDIT_UNTRACKED_PATHS)

    def get_context(self, request):
        request.audit_request_id = request_id_for(request)
        return {
            "via": via_for(request.path),
            "user": user_id_of(getattr(request, "user", None)),
            "method": request.method,
            "path": request.path,
            "request_id": request.audit_request_id,
        }

    def __call__(self, request):
        if request.method not in config.middleware_methods() or request.path.startswith(
            self.untracked
        ):
            return self.get_response(request)
        with context.audit_context(**self.get_context(request)):
            if isinstance(request, DjangoWSGIRequest):
                request.__class__ = WSGIRequest
            elif isinstance(request, DjangoASGIRequest):
                request.__class__ = ASGIRequest
            response = self.get_response(request)
        response["X-Request-ID"] = request.audit_request_id
        return response
