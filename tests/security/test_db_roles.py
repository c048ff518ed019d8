"""The application's database role (core/roles.py), connected to as that role.

The grants are made by `manage.py db_roles` as the suite's owner role, committed (the
application connects separately), and the role is dropped afterwards.
"""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg.types.json import Jsonb

from audit.models import CategoryEvent
from shop.factories import CategoryFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Order
from tests.security.conftest import ROLE

pytestmark = pytest.mark.django_db(transaction=True)


def refused(conn, statement: str, params=None) -> str:
    """The SQLSTATE of a statement the role may not run (42501: insufficient_privilege)."""
    with pytest.raises(psycopg.Error) as failure:
        conn.execute(statement, params)
    return failure.value.sqlstate


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE mine (id int)",  # DDL
        "ALTER TABLE shop_product ADD COLUMN x int",
        "DROP TABLE shop_product",
        "CREATE INDEX ON shop_product (name)",
        "TRUNCATE shop_orderitem",
        "TRUNCATE audit_productevent",
        "UPDATE audit_productevent SET pgh_label = 'x'",  # history cannot be rewritten...
        "DELETE FROM audit_productevent",  # ...or erased
        "DELETE FROM audit_orderevent",
        "SELECT rolpassword FROM pg_authid",  # password hashes of every role
        "CREATE ROLE intruder",
        "CREATE DATABASE other",
        "ALTER ROLE pgshop_app_test BYPASSRLS",
        "SELECT pg_read_file('postgresql.conf')",
        "COPY shop_product TO PROGRAM 'true'",
        "CREATE SCHEMA mine",
    ],
)
def test_the_application_role_is_refused(app_db, statement):
    assert refused(app_db, statement) == "42501"


def test_the_application_role_reads_writes_and_leaves_history(app_db):
    user = UserFactory(username="ada")
    lamp = ProductFactory(stock_quantity=3, price="5.00")
    # As a shopper's request: without a scope the role sees and writes no order (0014).
    app_db.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(user.pk)])

    with app_db.transaction():
        (order_id,) = app_db.execute(
            "INSERT INTO shop_order (user_id, status, total_amount, shipping_address, "
            "created_at, updated_at) VALUES (%s, 'pending', 5.00, %s, now(), now()) "
            "RETURNING id",
            [user.pk, Jsonb(shipping_address_for("Ada"))],
        ).fetchone()
        app_db.execute(
            "INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price) "
            "VALUES (%s, %s, 1, 5.00)",
            [order_id, lamp.pk],
        )
        app_db.execute(
            "UPDATE shop_product SET stock_quantity = stock_quantity - 1 WHERE id = %s", [lamp.pk]
        )

    assert Order.objects.get(pk=order_id).total_amount == 5
    events = app_db.execute(
        "SELECT count(*) FROM audit_orderevent WHERE pgh_obj_id = %s", [order_id]
    ).fetchone()
    assert events == (1,)  # the trigger wrote history for the application role (as the owner)
    with app_db.transaction():  # plain DELETE on application tables is allowed
        app_db.execute("DELETE FROM shop_orderitem WHERE order_id = %s", [order_id])
        app_db.execute("DELETE FROM shop_order WHERE id = %s", [order_id])
    assert Order.objects.filter(pk=order_id).exists() is False


def test_the_dashboard_statistics_are_readable_through_pg_monitor(app_db):
    # PostgreSQL's pid, asked of the server: behind PgBouncer the protocol's backend key is
    # PgBouncer's own, no process's (docs/connection-pooling.md).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (owner_pid,) = cursor.fetchone()

    (query,) = app_db.execute(
        "SELECT query FROM pg_stat_activity WHERE pid = %s", [owner_pid]
    ).fetchone()
    (statements,) = app_db.execute("SELECT count(*) > 0 FROM pg_stat_statements").fetchone()

    assert query != "<insufficient privilege>"
    assert statements is True


def test_db_roles_is_idempotent_and_reapplied_after_a_new_table(app_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE shop_later (id int)")  # as a later migration would
    try:
        call_command("db_roles", "--role", ROLE)  # again: no error, same privileges
        app_db.execute("INSERT INTO shop_later VALUES (1)")
        assert app_db.execute("SELECT id FROM shop_later").fetchall() == [(1,)]
        assert refused(app_db, "DROP TABLE shop_later") == "42501"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE shop_later")


def test_retention_runs_through_the_owners_function_and_keeps_recent_events(app_db, settings):
    CategoryFactory()  # one audit_categoryevent, written just now

    # With the configured 365 days, events of today are kept: even the application role's
    # own retention cannot erase them, nor anything outside the event tables.
    assert refused(app_db, "SELECT audit_prune_batch('audit_categoryevent', now(), 10)") == "42501"
    assert refused(app_db, "SELECT audit_prune_batch('shop_product', '2000-01-01', 10)") == "42501"
    assert app_db.execute(
        "SELECT audit_prune_batch('audit_categoryevent', now() - interval '366 days', 10)"
    ).fetchone() == (0,)

    settings.AUDIT_RETENTION_DAYS = 0
    call_command("db_roles", "--role", ROLE)  # the function is remade with the setting
    assert app_db.execute(
        "SELECT audit_prune_batch('audit_categoryevent', now(), 10)"
    ).fetchone() == (1,)
    assert CategoryEvent.objects.count() == 0
