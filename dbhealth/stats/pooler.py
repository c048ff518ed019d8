"""PgBouncer's own statistics, read from its admin console (the `pgbouncer` database at
PGBOUNCER_ADMIN_URL): SHOW POOLS, SHOW STATS, SHOW SERVERS; and which PostgreSQL backends are
its server connections (SHOW SERVERS' remote_pid is the backend's pid).

The console speaks only the simple query protocol and takes no parameters: commands are fixed
strings, sent through a client-side cursor that never prepares.
"""

from __future__ import annotations

import contextlib

import psycopg
from django.conf import settings

from .cursor import rows

ADMIN_DATABASE = "pgbouncer"  # the console itself, listed by SHOW POOLS and SHOW STATS
CONNECT_TIMEOUT = 2  # seconds: the page says "unreachable" rather than hang


def configured() -> bool:
    return bool(settings.PGBOUNCER_ADMIN_URL)


@contextlib.contextmanager
def console():
    """A cursor on PgBouncer's admin console."""
    with psycopg.connect(
        settings.PGBOUNCER_ADMIN_URL,
        autocommit=True,  # the console has no transactions
        connect_timeout=CONNECT_TIMEOUT,
        prepare_threshold=None,
        cursor_factory=psycopg.ClientCursor,
    ) as conn:
        yield conn.cursor()


def _command(cursor, command: str) -> list[dict]:
    cursor.execute(command)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, found, strict=True)) for found in cursor.fetchall()]


def pools(cursor) -> list[dict]:
    """One row per database and user: clients active and waiting, server connections active,
    idle, used (just released), and the longest wait (maxwait, maxwait_us) of a client."""
    return [p for p in _command(cursor, "SHOW POOLS") if p["database"] != ADMIN_DATABASE]


def totals(cursor) -> list[dict]:
    """One row per database: transactions, queries, bytes and wait time since PgBouncer
    started (total_*), and their averages over the last 60 s (avg_*; times in microseconds)."""
    return [s for s in _command(cursor, "SHOW STATS") if s["database"] != ADMIN_DATABASE]


def servers(cursor) -> list[dict]:
    """Every server connection: its database, user, state and the backend's pid (remote_pid)."""
    return _command(cursor, "SHOW SERVERS")


def clients(cursor) -> list[dict]:
    """Every client connection, the console's own included."""
    return _command(cursor, "SHOW CLIENTS")


def backend_pids(server_rows: list[dict]) -> set[int]:
    """The pids of the PostgreSQL backends that are PgBouncer's server connections."""
    return {s["remote_pid"] for s in server_rows if s["remote_pid"]}


POOLER_BACKENDS_SQL = """
SELECT pid, usename AS role, datname AS database, application_name, state,
       extract(epoch FROM clock_timestamp() - backend_start)::float8 AS age_seconds
  FROM pg_stat_activity
 WHERE pid = ANY(%s)
 ORDER BY pid
"""


def pooler_backends(cursor, pids: set[int]) -> list[dict]:
    """Those backends as PostgreSQL sees them (a cursor on PostgreSQL, not the console)."""
    return rows(cursor, POOLER_BACKENDS_SQL, [sorted(pids)])
