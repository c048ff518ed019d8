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
    database's owner. Afterwards the server connection is reset (DISCARD ALL), so a leak a
    test makes on purpose stops with it."""
    opened: list[psycopg.Connection] = []
    db = connection.settings_dict

    def connect(**options) -> psycopg.Connection:
        conn = psycopg.connect(
            host="127.0.0.1", port=bouncer_port, dbname=POOL1_ENTRY, user=db["USER"],
            password=db["PASSWORD"] or None, prepare_threshold=None,
            **{"autocommit": True, "application_name": "pooler-test", **options},
        )  # fmt: skip
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()
    with connect() as cleaner:
        cleaner.execute("DISCARD ALL")


@pytest.fixture
def console(bouncer_port):
    """console("SHOW POOLS"): rows of the run's PgBouncer admin console."""
    return lambda command: pgbouncer.admin(bouncer_port, command)


def pool1(console) -> dict:
    [row] = [p for p in console("SHOW POOLS") if p["database"] == POOL1_ENTRY]
    return row
