"""Read-your-writes for shoppers across requests, by LSN (core/routing.py, docs/scaling.md).

A read-only request of the shoppers' API (GET, HEAD, OPTIONS; the staff API excepted) may
have its selector reads served by a replica that has replayed the shopper's last write.
After any other request of a signed-in shopper, once its transactions have committed, the
primary's WAL position is kept for them: their next reads wait for it, on any process.
"""

from django.db import connections
from django.utils.functional import SimpleLazyObject, empty

from core import routing

from .rls import STAFF_PATHS

READ_ONLY_METHODS = ("GET", "HEAD", "OPTIONS")


def _shopper_id(request) -> int | None:
    """The request's signed-in user, without a lookup of its own: DRF has put it on the
    request by the time a view reads or writes; a user nobody looked up is no one's."""
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


class ReadYourWritesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            not routing.replica_aliases()
            or not request.path.startswith("/api/")
            or request.path.startswith(STAFF_PATHS)
        ):
            return self.get_response(request)
        if request.method in READ_ONLY_METHODS:
            with routing.shopper_reads(lambda: _shopper_id(request)):
                return self.get_response(request)
        response = self.get_response(request)
        user_id = _shopper_id(request)
        # Inside a transaction (the test suite's), nothing of the request has committed yet.
        if user_id is not None and not connections["default"].in_atomic_block:
            routing.remember_write(user_id)
        return response
