"""Row-level security: PostgreSQL itself hides other shoppers' orders and history, and only
the staff login sees everything (docs/security.md).

shop/migrations/0015_rls_fail_closed: on shop_order, shop_orderitem and the event tables of
users, profiles, orders and items, a statement sees (and writes) only the rows of the user
named in the transaction-local setting app.rls_user_id. No setting, or an empty one, means no
rows, for every role the policies bind. The staff login role (pgshop_staff) has its own
policies that let it see every row.

Two logins, chosen by path, never by anything a statement can change:

- shopper-facing requests (the API but its staff endpoints, /healthz) run on the application
  login (pgshop_app, DATABASES["default"]). The API sets the shopper's id for every statement
  of a signed-in request: the authentication classes (shop/api/authentication.py) call
  `scope_to(user)`, and ShopperScope (this app's part of core/db.py's one execute wrapper)
  sets `app.rls_user_id` before each statement, transaction-locally, in the same round trip,
  so it never leaks to the next request of a pooled connection (or PgBouncer's).
  ShopperScopeMiddleware ends the scope with the request.
- staff requests (STAFF_PATHS: the admin, the dashboard, the staff API) run on the staff login
  (DATABASES["staff"], STAFF_DATABASE_URL): DatabaseRoleMiddleware makes it this thread's
  "default" connection for the request (`staff()`), so the ORM, raw `connection.cursor()`,
  transaction.atomic() and on_commit all use it, with its own pool. Celery and management
  commands are staff by process: they are started with the staff URL as DATABASE_URL.

The application login is not a member of the staff role, so an injected `SET ROLE
pgshop_staff` or `RESET ROLE` in a shopper's request fails or changes nothing, and clearing
the setting only hides rows. What an injection can still do is set another shopper's id in
the setting (docs/security.md says why that is accepted).

Tests (settings DB_EMULATED_ROLES, test settings only): pytest-django runs each test in one
transaction on one owner connection, which a second login could not see into. The owner may
SET ROLE to either login role, so while DatabaseRoleMiddleware serves a request EmulatedLogin
runs `SET LOCAL ROLE pgshop_app` (or pgshop_staff) before every statement of it: the request
runs with exactly that role's grants and policies, transaction-locally, and the test's own
queries run as the owner again afterwards.
"""

import contextlib
from contextvars import ContextVar

import psycopg
from django.conf import settings
from django.db import connection, connections

from core import db

_shopper: ContextVar[int | None] = ContextVar("rls_shopper", default=None)
# True while ShopperScopeMiddleware serves an API request: the scope holds only there.
_scoping: ContextVar[bool] = ContextVar("rls_scoping", default=False)
# "app" or "staff": which login this request's statements run as (emulated in tests).
_login: ContextVar[str] = ContextVar("rls_login", default="app")
# True while DatabaseRoleMiddleware serves a request with DB_EMULATED_ROLES (tests only).
_emulating: ContextVar[bool] = ContextVar("rls_emulating", default=False)
# Requests served by the staff login. Each refuses non-staff users before any view code runs
# (the admin's login redirect, the staff API's IsAdminUser permission).
STAFF_PATHS = ("/admin/", "/api/v1/staff/")
SETTING = "app.rls_user_id"


def scope_to(user) -> None:
    """From now until the end of the request, statements see only this user's rows.

    Staff users too: on the shopper API a staff account is a shopper like any other; staff
    see every order through the staff endpoints, which run on the staff login.
    """
    _shopper.set(user.pk)


def _emulated_role() -> str | None:
    """The role to SET LOCAL for this request's statements (tests only, see above)."""
    if not _emulating.get():  # production: never set, and no settings read per statement
        return None
    roles = getattr(settings, "DB_EMULATED_ROLES", None)
    return roles[_login.get()] if roles else None


def _refuse_named(statement: db.Statement) -> None:
    if statement.named:
        # A server-side cursor's statement cannot carry a prefix: refuse rather than run it
        # unscoped.
        raise RuntimeError("server-side cursors are not used in a shopper's request")


class ShopperScope(db.StatementPart):
    """The shopper's id on every statement of a signed-in API request (shop/apps.py)."""

    def settings(self, statement):
        user_id = _shopper.get() if _scoping.get() else None
        if user_id is None:
            return {}
        _refuse_named(statement)
        return {SETTING: str(user_id)}


class EmulatedLogin(db.StatementPart):
    """Tests only (registered when DB_EMULATED_ROLES is set): each statement of a request runs
    as the login role it would connect as in production."""

    def before(self, statement):
        """Tests only: in a transaction, SET LOCAL ROLE before each statement of the request,
        sent on the raw connection, so it is not one of the request's queries (the tests'
        captured SQL and exact counts stay as in production). Before every statement, as a
        ROLLBACK TO SAVEPOINT may have undone the last one."""
        role = _emulated_role()
        raw = statement.connection
        if (
            role is not None
            and not raw.autocommit
            and raw.info.transaction_status != psycopg.pq.TransactionStatus.INERROR
        ):
            # A role name from settings, never from input; SET takes no parameter.
            raw.execute(f'SET LOCAL ROLE "{role}"')

    def commands(self, statement):
        """Tests only, outside a transaction (autocommit: the live-server tests): SET LOCAL on
        its own would end with its own implicit transaction, so the role goes in front of the
        statement, in the same round trip."""
        role = _emulated_role()
        if role is None or not statement.connection.autocommit:
            return []
        _refuse_named(statement)
        return [f'SET LOCAL ROLE "{role}"']


def _reset_emulated_role() -> None:
    """Back to the owner for the rest of the test's transaction (tests only).

    Sent on the raw psycopg connection: it is not one of the request's queries (the tests'
    exact query counts), and a failed transaction is left as it is.
    """
    raw = connection.connection
    if raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
        raw.execute("SET LOCAL ROLE NONE")


@contextlib.contextmanager
def staff():
    """For the block, this thread's default connection is the staff login's.

    Production: connections["default"] is the DATABASES["staff"] wrapper (its own login, its
    own pool) and is put back afterwards; the application connection is left untouched.
    Tests with DB_EMULATED_ROLES: the same connection, with SET LOCAL ROLE pgshop_staff
    before each statement of the request (EmulatedLogin).
    """
    token = _login.set("staff")
    original = connections["default"]
    emulated = getattr(settings, "DB_EMULATED_ROLES", None)
    if not emulated:
        connections["default"] = connections["staff"]
    try:
        yield
    finally:
        if not emulated:
            connections["default"] = original
        _login.reset(token)


class DatabaseRoleMiddleware:
    """First of all middleware: staff paths run on the staff login, everything else on the
    application login, before any statement of the request (session and user lookups too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(STAFF_PATHS):
            with staff():
                return self._respond(request)
        token = _login.set("app")
        try:
            return self._respond(request)
        finally:
            _login.reset(token)

    def _respond(self, request):
        if not getattr(settings, "DB_EMULATED_ROLES", None):
            return self.get_response(request)
        token = _emulating.set(True)
        try:
            return self.get_response(request)
        finally:
            _emulating.reset(token)
            _reset_emulated_role()


class ShopperScopeMiddleware:
    """The shopper scope starts empty with each API request and ends with it (scope_to sets it
    in the view, when DRF authenticates)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        tokens = _shopper.set(None), _scoping.set(True)
        try:
            return self.get_response(request)
        finally:
            _shopper.reset(tokens[0])
            _scoping.reset(tokens[1])
