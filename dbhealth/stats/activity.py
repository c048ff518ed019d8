"""Sessions of this database: what each is doing now and which pids block it (pg_stat_activity
and pg_blocking_pids(); with pg_read_all_stats, part of pg_monitor, other roles' statements
are visible too). The reading session itself is left out."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import psycopg
from django.conf import settings
from django.db import connection

from .cursor import row, rows

SESSIONS_SQL = """
SELECT pid, usename AS role, application_name, client_addr::text AS client,
       backend_type, state, wait_event_type, wait_event,
       backend_start, xact_start, query_start, state_change,
       extract(epoch FROM clock_timestamp() - query_start)::float8 AS query_seconds,
       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_seconds,
       extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_seconds,
       pg_blocking_pids(pid) AS blocked_by,
       query
  FROM pg_stat_activity
 WHERE datname = current_database()
   AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
 ORDER BY query_start NULLS LAST, pid
"""

# The sessions the alert rules and /metrics time: running a statement, or idle inside an open
# transaction (an idle session between transactions holds nothing).
BUSY_SESSIONS_SQL = """
SELECT pid, state, application_name,
       extract(epoch FROM clock_timestamp() - query_start)::float8 AS query_seconds,
       extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_seconds
  FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
   AND backend_type = 'client backend'
   AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')
 ORDER BY pid
"""

# The function comes from this fixed map, never from the request.
SIGNALS = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}


def sessions(cursor) -> list[dict]:
    """Every client session of this database, oldest statement first."""
    return rows(cursor, SESSIONS_SQL)


def busy_sessions(cursor) -> list[dict]:
    """Sessions running a statement or idle in a transaction, by pid, with their ages."""
    return rows(cursor, BUSY_SESSIONS_SQL)


def session(cursor, pid: int) -> dict | None:
    """One session of this database (for the cancel/terminate confirmation), or None."""
    found = [s for s in sessions(cursor) if s["pid"] == pid]
    return found[0] if found else None


# Signals the backend only while it still runs (or, idle, last ran) the statement the
# confirmation page showed: behind a transaction pooler one backend serves many clients in
# turn, and the next one's statement is not the one staff chose to stop.
SIGNAL_SQL = """
SELECT {function}(pid) AS signalled
  FROM pg_stat_activity
 WHERE pid = %s AND datname = current_database()
   AND query_start IS NOT DISTINCT FROM %s::timestamptz
"""


def current_role(cursor) -> str:
    """The role this request's statements run as (the dashboard's login)."""
    return row(cursor, "SELECT current_user AS role")["role"]


@contextlib.contextmanager
def direct(role: str):
    """A cursor on PostgreSQL itself (the host and port of DATABASE_DIRECT_URL), never through
    a pooler, logged in as the dashboard's own login and running as `role`, in a transaction
    that ends with the block. Through PgBouncer the signal would run on whichever server
    connection is free, and the protocol's backend key is PgBouncer's own, no process's."""
    url = urlsplit(settings.DATABASE_DIRECT_URL)
    params = connection.settings_dict
    with psycopg.connect(
        host=url.hostname,
        port=url.port or 5432,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        connect_timeout=5,
        prepare_threshold=None,  # never prepares: no statement outlives the connection anyway
        application_name="pgshop-dbhealth-signal",
    ) as conn:
        cursor = conn.cursor()
        # SET LOCAL ROLE: the same rights as the page (a staff login may signal the
        # application's backends, not a superuser's), whoever the direct login is.
        cursor.execute("SELECT set_config('role', %s, true)", [role])
        yield cursor


def signal_backend(cursor, pid: int, action: str, query_start) -> bool:
    """pg_cancel_backend (the running statement) or pg_terminate_backend (the session), only
    while backend `pid` is still on the statement that started at `query_start`."""
    sql = SIGNAL_SQL.format(function=SIGNALS[action])  # function from a fixed map
    found = rows(cursor, sql, [pid, query_start])
    return bool(found and found[0]["signalled"])
