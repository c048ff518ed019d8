"""The API tests' clients and fixtures, shared (tests/shop/api/conftest.py)."""

import os

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from scripts import pgbouncer
from tests.shop.api.conftest import anon, api, fresh_throttle_counters, staff, user  # noqa: F401

ROLE = "pgshop_app_test"
PASSWORD = "app-role-test-password"


@pytest.fixture
def app_db(monkeypatch):
    """A psycopg connection as the application role, autocommit: each statement stands alone."""
    monkeypatch.setenv("DB_APP_PASSWORD", PASSWORD)
    call_command("db_roles", "--role", ROLE)
    db = connection.settings_dict
    if os.environ.get("DB_TRANSACTION_POOLER") == "true":  # make test's pass through PgBouncer
        # The role is new; a server connection left from its namesake of the last test is not.
        pgbouncer.reconnect(int(os.environ["PGBOUNCER_PORT"]), db["NAME"])
    conn = psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=ROLE, password=PASSWORD,
        autocommit=True,
    )  # fmt: skip
    yield conn
    conn.close()
    with connection.cursor() as cursor:
        cursor.execute(f"REASSIGN OWNED BY {ROLE} TO CURRENT_USER")
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")
