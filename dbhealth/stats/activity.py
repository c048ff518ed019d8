"""Sessions of this database: what each is doing now and which pids block it (pg_stat_activity
and pg_blocking_pids(); with pg_read_all_stats, part of pg_monitor, other roles' statements
are visible too). The reading session itself is left out."""

from __future__ import annotations

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


def signal_backend(cursor, pid: int, action: str) -> bool:
    """pg_cancel_backend (the running statement) or pg_terminate_backend (the session)."""
    sql = f"SELECT {SIGNALS[action]}(%s) AS signalled"  # noqa: S608 - function from a fixed map
    return bool(row(cursor, sql, [pid])["signalled"])
