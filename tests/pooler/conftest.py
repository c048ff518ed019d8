"""Connections through the run's PgBouncer (scripts/stack.py starts it on PG_PORT + 6 for every
`make test`), to its entry with one server connection to the test database: two clients of
that entry always take turns on the same PostgreSQL backend, which is what a busy pool does
to any two requests sooner or later."""

import os

import psycopg
import pytest
from django.db import connection

from scripts import pgbouncer
from scripts.stack import POOL1_ENTRY


@pytest.fixture(scope="session")
def bouncer_port() -> int:
    if not os.environ.get("PGBOUNCER_PORT"):
        pytest.fail("PGBOUNCER_PORT is not set: run the suite through scripts/stack.py")
    return int(os.environ["PGBOUNCER_PORT"])


@pytest.fixture
def pooled(bouncer_port, django_db_setup):
    """pooled(**options): a psycopg connection to the one-server-connection entry, as the test
    database's owner unless `user` says otherwise. Afterwards the owner's server connection is
    reset (DISCARD ALL), so a leak a test makes on purpose stops with it."""
    opened: list[psycopg.Connection] = []
    db = connection.settings_dict

    def connect(**options) -> psycopg.Connection:
        options = {
            "user": db["USER"], "password": db["PASSWORD"] or None, "autocommit": True,
            "application_name": "pooler-test", **options,
        }  # fmt: skip
        conn = psycopg.connect(
            host="127.0.0.1", port=bouncer_port, dbname=POOL1_ENTRY, prepare_threshold=None,
            **options,
        )  # fmt: skip
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()
    with connect() as cleaner:
        cleaner.execute("DISCARD ALL")  # the owner's backend; another login's has its own pool


@pytest.fixture
def connect_direct(django_db_setup):
    """connect_direct(): an autocommit psycopg connection to the test database on PostgreSQL
    itself (DATABASE_DIRECT_URL's host and port), to watch pg_stat_activity."""
    from urllib.parse import urlsplit

    from django.conf import settings

    opened: list[psycopg.Connection] = []
    url = urlsplit(settings.DATABASE_DIRECT_URL)
    db = connection.settings_dict

    def connect() -> psycopg.Connection:
        conn = psycopg.connect(
            host=url.hostname, port=url.port, dbname=db["NAME"], user=db["USER"],
            password=db["PASSWORD"] or None, autocommit=True,
        )  # fmt: skip
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def console(bouncer_port):
    """console("SHOW POOLS"): rows of the run's PgBouncer admin console."""
    return lambda command: pgbouncer.admin(bouncer_port, command)


def pool1(console, user: str = "postgres") -> dict:
    """SHOW POOLS' row of the one-server-connection entry for one login (each has its own)."""
    pools = console("SHOW POOLS")
    [row] = [p for p in pools if p["database"] == POOL1_ENTRY and p["user"] == user]
    return row
