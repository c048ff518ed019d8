"""Row-level security for shopper requests: PostgreSQL itself hides other users' orders.

shop/migrations/0010_order_row_level_security enables RLS on shop_order and shop_orderitem
with policies that let a statement see (and write) only the rows of the user named in the
transaction-local setting app.rls_user_id, whenever that setting is present.

The API sets it for every statement of a signed-in shopper's request: the authentication
classes (shop/api/authentication.py) call `scope_to(user)`, and ShopperScopeMiddleware has an
execute wrapper that prefixes each statement with

    SELECT set_config('app.rls_user_id', <id>, true);

in the same round trip (the way django-pghistory passes its context; it needs psycopg's
client-side binding, which this project keeps). The setting is transaction-local, so it can
never leak to the next request that gets the same pooled connection. A selector that forgot
its WHERE user_id = ... still returns only the shopper's own orders.

Staff (the admin, the staff endpoints), Celery tasks and management commands run without a
shopper scope and see every row: that is the explicit bypass. The policies bind only roles
that are not superusers and do not own the tables: the application role of `make run` and
docker compose (shop/db_roles.py), not the owner that runs the tests' migrations.
"""

from contextvars import ContextVar

import psycopg
from django.db import connection

_shopper: ContextVar[int | None] = ContextVar("rls_shopper", default=None)
SETTING = "app.rls_user_id"
# Transaction control and session commands carry no prefix (a ROLLBACK TO SAVEPOINT must run
# in a failed transaction, where the prefix itself would fail), and nor does anything run
# in a failed transaction.
UNPREFIXED = ("savepoint", "release", "rollback", "commit", "begin", "start", "set ", "show ")


def scope_to(user) -> None:
    """From now until the end of the request, statements run as this shopper (not staff)."""
    _shopper.set(None if user.is_staff else user.pk)


def _scoped(execute, sql, params, many, context):
    user_id = _shopper.get()
    is_bytes = isinstance(sql, bytes)
    text = sql.decode() if is_bytes else sql
    cursor = context["cursor"]
    if (
        user_id is None
        or text.lstrip().lower().startswith(UNPREFIXED)
        or cursor.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    ):
        return execute(sql, params, many, context)
    if getattr(cursor, "name", None):
        # A server-side cursor's statement cannot carry a prefix: refuse rather than run it
        # unscoped.
        raise RuntimeError("server-side cursors are not used in a shopper's request")
    if isinstance(params, dict):
        prefix = f"SELECT set_config('{SETTING}', %(rls_user_id)s, true); "
        params = {**params, "rls_user_id": str(user_id)}
    else:
        prefix = f"SELECT set_config('{SETTING}', %s, true); "
        params = (str(user_id), *(params or ()))
    text = prefix + text
    result = execute(text.encode() if is_bytes else text, params, many, context)
    while result is not None and result.nextset():  # leave the cursor on the statement's rows
        pass
    return result


class ShopperScopeMiddleware:
    """Installs the scoping execute wrapper for the API; the scope starts empty per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        token = _shopper.set(None)
        try:
            with connection.execute_wrapper(_scoped):
                return self.get_response(request)
        finally:
            _shopper.reset(token)
