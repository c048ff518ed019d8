"""Fixtures for the dashboard's tests: users with and without the permission, and other
connections to the test database, to make a condition real (a sleeping statement, a lock,
committed rows whose statistics PostgreSQL has flushed) where the test's own transaction
cannot: statistics of an open transaction are not visible until it ends.
"""

import contextlib
import itertools
import os

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from dbhealth.conf import DEFAULTS
from shop.factories import UserFactory
from tests.conftest import APP_ROLE, STAFF_ROLE

SCRATCH_NUMBERS = itertools.count(1)


@pytest.fixture
def viewer(db):
    """Staff with dbhealth.view_dashboard (and nothing else)."""
    user = UserFactory(username="dba", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    return user


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def dbhealth_settings(settings):
    """Set DBHEALTH thresholds for one test: dbhealth_settings(SLOW_QUERY_MS=1, ...)."""

    def override(**values):
        assert set(values) <= set(DEFAULTS), f"not a DBHEALTH key: {set(values) - set(DEFAULTS)}"
        settings.DBHEALTH = {**getattr(settings, "DBHEALTH", {}), **values}

    return override


@pytest.fixture(scope="session")
def test_dsn(django_db_setup) -> dict:
    """Connection parameters of the test database (NAME is the test one after setup)."""
    params = connection.settings_dict
    dsn = {
        "dbname": params["NAME"],
        "user": params["USER"],
        "password": params["PASSWORD"],
        "host": params["HOST"],
        "port": params["PORT"],
    }
    return {key: value for key, value in dsn.items() if value}


@pytest.fixture(scope="session")
def connect(test_dsn):
    """connect(**overrides): a new autocommit psycopg connection to the test database."""

    def open_connection(**overrides) -> psycopg.Connection:
        options = {"autocommit": True, "application_name": "dbhealth-test", **overrides}
        return psycopg.connect(**{**test_dsn, **options})

    return open_connection


def flush_statistics(conn: psycopg.Connection) -> None:
    """Make this backend's counters visible to others now (PostgreSQL 15+), not within 1 s.

    The flush happens when the backend goes idle after this statement, before it answers.
    """
    conn.execute("SELECT pg_stat_force_next_flush()")


@pytest.fixture(scope="session")
def scratch_leftovers(connect):
    """Scratch schemas that could not be dropped at once, dropped when the session ends."""
    names: list[str] = []
    yield names
    with connect() as conn:
        conn.execute("SET lock_timeout = '5s'")
        for name in names:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def scratch(connect, scratch_leftovers):
    """A committed scratch schema for one test, dropped afterwards by its own connection.

    The test's transaction may still hold a lock on something in it (PostgreSQL gives a
    sequence's lock to the top-level transaction, so even a rolled-back savepoint keeps it):
    such a schema is dropped at the end of the session instead of waiting here for ever.
    """
    name = f"dbhealth_scratch_{os.getpid()}_{next(SCRATCH_NUMBERS)}"
    conn = connect()
    conn.execute(f"CREATE SCHEMA {name}")
    # The dashboard runs as the staff login, /metrics as the application's (shop/api/rls.py):
    # the schema's objects are granted to them as migrations' tables are by db_roles, or
    # neither could read their statistics.
    for role in (APP_ROLE, STAFF_ROLE):
        conn.execute(f"GRANT USAGE ON SCHEMA {name} TO {role}")
        for kind in ("TABLES", "SEQUENCES"):
            conn.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {name} GRANT SELECT ON {kind} TO {role}"
            )
    try:
        yield conn, name
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        (held,) = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relnamespace = %s::regnamespace AND l.pid <> pg_backend_pid()",
            [name],
        ).fetchone()
        if held:
            scratch_leftovers.append(name)
        else:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
        conn.close()


@pytest.fixture
def empty_database(connect, test_dsn):
    """A brand-new database with nothing in it (no tables, no statistics, no extension)."""
    name = f"dbhealth_empty_{os.getpid()}"
    with connect(dbname="postgres") as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with connect(dbname="postgres") as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def monitor_role(connect):
    """A login role with pg_monitor and nothing else: connect(**monitor_role)."""
    name = f"dbhealth_monitor_{os.getpid()}"
    password = "monitor-only-test-password"
    with connect() as admin:
        admin.execute(f"DROP ROLE IF EXISTS {name}")
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE pg_monitor")
    try:
        yield {"user": name, "password": password}
    finally:
        with connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                [name],
            )
            admin.execute(f"DROP ROLE {name}")


def preloaded() -> bool:
    """Whether the server the suite runs on preloads pg_stat_statements (the embedded one
    does; a system PostgreSQL may not): the queries panel's tests check what it then says."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('shared_preload_libraries')")
        return "pg_stat_statements" in cursor.fetchone()[0]
