"""How the application connects: the test database, pooled, named, client-side binding."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


def test_tests_run_against_the_test_database_not_the_dev_one():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('application_name')")
        database, application = cursor.fetchone()

    assert database == settings.DATABASES["default"]["TEST"]["NAME"]
    assert database.startswith("test_")
    assert application == "pgshop-test"


def test_connections_come_from_psycopgs_pool():
    connection.ensure_connection()
    pool = connection.pool

    assert pool is not None
    # max 16, not production's 4: config/settings/test.py raises it for the live-server
    # concurrency tests (unless DB_POOL_MAX is set).
    assert (pool.min_size, pool.max_size, pool.timeout) == (2, 16, 10.0)
    assert (pool.max_lifetime, pool.max_idle) == (1800.0, 300.0)
    assert pool.get_stats()["pool_max"] == 16


def test_client_side_binding_is_kept_for_django_pghistory():
    connection.ensure_connection()

    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)
