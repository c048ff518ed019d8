"""No request's scope is ever visible to another request on the same server connection.

Two requests run on the project's own code path (ShopperScopeMiddleware, the shopper scope,
the audit context, dbhealth's transaction-local timeout, all composed by core/db.py's execute
wrapper) over Django connections to PgBouncer's one-server-connection entry. The first holds
the only server connection in its transaction; the second is queued behind it by PgBouncer
(seen on the console); when the first commits, the second gets the same backend, and reads
every setting the first had: each must be back to its default.
"""

import threading

import pytest
from django.db import connection, connections, transaction
from django.db.backends.postgresql.base import DatabaseWrapper
from django.http import HttpResponse
from django.test import RequestFactory

from audit.context import audit_context
from dbhealth.stats.cursor import statement_timeout
from scripts.stack import POOL1_ENTRY
from shop.api import rls
from shop.factories import UserFactory
from tests.conftest import wait_until

from .conftest import pool1

pytestmark = pytest.mark.django_db

PROBE = (
    "SELECT current_setting('app.rls_user_id', true), "
    "current_setting('pghistory.context_id', true), current_setting('statement_timeout'), "
    "pg_backend_pid()"
)
# A write that changes no row: the audit context goes only on statements that may write.
WRITE = "UPDATE shop_product SET stock_quantity = stock_quantity WHERE false"


def pooled_wrapper(alias: str, port: int) -> DatabaseWrapper:
    """A Django connection like the application's (its options, its execute wrapper from
    connection_created), to the one-server-connection entry, without a pool of its own."""
    options = {**connection.settings_dict["OPTIONS"], "pool": False}
    settings_dict = {
        **connection.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": port,
        "NAME": POOL1_ENTRY,
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,
    }
    return DatabaseWrapper(settings_dict, alias=alias)


def api_request(alias: str, port: int, view) -> None:
    """`view` as an API request's, with a pooled connection as this thread's default one."""
    wrapper = pooled_wrapper(alias, port)
    connections[alias] = connections["default"] = wrapper  # as rls.staff() swaps the login
    try:
        rls.ShopperScopeMiddleware(lambda request: view() or HttpResponse())(
            RequestFactory().get("/api/v1/orders/")
        )
    finally:
        wrapper.close()


def test_a_requests_scope_is_never_seen_by_the_next_request_on_its_server_connection(
    bouncer_port, console
):
    shopper = UserFactory.build(pk=424242)
    first_in, first_go = threading.Event(), threading.Event()
    seen: dict[str, tuple] = {}
    errors: list[BaseException] = []

    def first_view():
        rls.scope_to(shopper)
        with audit_context(via="api", user=shopper.pk) as context:
            seen["context"] = str(context.id)
            with transaction.atomic(), connection.cursor() as cursor:
                statement_timeout(cursor, "1500ms")
                cursor.execute(WRITE)
                cursor.execute(PROBE)
                seen["first"] = cursor.fetchone()
                first_in.set()
                first_go.wait(10)

    def second_view():  # an anonymous API request: no shopper, no audit context
        with connection.cursor() as cursor:
            cursor.execute(PROBE)
            seen["second"] = cursor.fetchone()

    def run(alias, view):
        try:
            api_request(alias, bouncer_port, view)
        except BaseException as error:  # reported by the test's own thread
            errors.append(error)

    first = threading.Thread(target=run, args=("pooled-1", first_view))
    second = threading.Thread(target=run, args=("pooled-2", second_view))
    first.start()
    try:
        assert first_in.wait(10), errors
        second.start()
        # The second request is queued by PgBouncer behind the first's open transaction.
        wait_until(lambda: pool1(console)["cl_waiting"] == 1, timeout=10)
        assert "second" not in seen
    finally:
        first_go.set()
        first.join(10)
        second.join(10)

    assert errors == []
    assert seen["first"] == ("424242", seen["context"], "1500ms", seen["first"][3])
    assert seen["second"] == ("", "", "0", seen["first"][3])  # the same backend, nothing left


def test_the_same_requests_with_a_session_set_do_leak(bouncer_port):
    """The control: had the scope been a session SET, the next request would have read it."""

    def leaky_view():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.rls_user_id', '424242', false)")

    probe: list[tuple] = []

    def reading_view():
        with connection.cursor() as cursor:
            cursor.execute(PROBE)
            probe.append(cursor.fetchone())
            cursor.execute("RESET ALL")

    for alias, view in (("pooled-1", leaky_view), ("pooled-2", reading_view)):
        thread = threading.Thread(target=api_request, args=(alias, bouncer_port, view))
        thread.start()
        thread.join(10)

    assert probe[0][0] == "424242"
