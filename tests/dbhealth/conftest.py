"""Fixtures for the dashboard's tests: users with and without the permission, and other
connections to the test database, to make a condition real (a sleeping statement, a lock,
committed rows whose statistics PostgreSQL has flushed) where the test's own transaction
cannot: statistics of an open transaction are not visible until it ends.
"""

import contextlib
import os

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from shop.factories import UserFactory


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


@pytest.fixture
def scratch(connect):
    """A committed scratch schema for one test, dropped afterwards by its own connection."""
    name = f"dbhealth_scratch_{os.getpid()}"
    conn = connect()
    conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield conn, name
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        # A lock the test's own transaction still held would otherwise hang here for ever.
        conn.execute("SET lock_timeout = '5s'")
        conn.execute(f"DROP SCHEMA {name} CASCADE")
        conn.close()
