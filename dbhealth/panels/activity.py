"""Live activity: what every session of this database is doing now, and who blocks whom.

Reads pg_stat_activity and pg_blocking_pids(); with pg_read_all_stats (part of pg_monitor)
the statements of other roles are visible too. The dashboard's own session is left out.
"""

from .base import Check, level_above, rows

TITLE = "Activity"

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


def lock_tree(sessions: list[dict]) -> list[dict]:
    """Blocking chains as a flat list with depth, roots (blocking, not blocked) first."""
    by_pid = {s["pid"]: s for s in sessions}
    children: dict[int, list[int]] = {}
    for session in sessions:
        for blocker in session["blocked_by"] or []:
            children.setdefault(blocker, []).append(session["pid"])
    blocked = {s["pid"] for s in sessions if s["blocked_by"]}
    roots = sorted(pid for pid in children if pid not in blocked)
    tree: list[dict] = []

    def walk(pid: int, depth: int, seen: frozenset) -> None:
        session = by_pid.get(pid, {"pid": pid, "query": "(another database's session)"})
        tree.append({"depth": depth, "session": session, "blocks": len(children.get(pid, []))})
        for child in sorted(children.get(pid, [])):
            if child not in seen:  # a deadlock is a cycle; PostgreSQL breaks it within 1 s
                walk(child, depth + 1, seen | {child})

    for root in roots:
        walk(root, 0, frozenset({root}))
    return tree


def collect(cursor, config: dict) -> dict:
    sessions = rows(cursor, SESSIONS_SQL)
    long_limit = config["LONG_RUNNING_SEC"]
    idle_limit = config["IDLE_IN_TRANSACTION_SEC"]
    running = [s for s in sessions if s["state"] == "active"]
    long_running = [s for s in running if (s["query_seconds"] or 0) >= long_limit]
    idle_in_transaction = [
        s
        for s in sessions
        if s["state"] in ("idle in transaction", "idle in transaction (aborted)")
        and (s["state_seconds"] or 0) >= idle_limit
    ]
    waiting = [s for s in sessions if s["blocked_by"]]
    tree = lock_tree(sessions)
    checks = [
        Check(
            "activity",
            "Long-running statements",
            level_above(len(long_running), 1, 5),
            f"{len(long_running)} running for {long_limit:g} s or more",
        ),
        Check(
            "activity",
            "Idle in transaction",
            level_above(len(idle_in_transaction), 1, 5),
            f"{len(idle_in_transaction)} session(s) idle inside a transaction for "
            f"{idle_limit:g} s or more",
        ),
        Check(
            "activity",
            "Lock waits",
            level_above(len(waiting), 1, 5),
            f"{len(waiting)} session(s) waiting for a lock held by another",
        ),
    ]
    return {
        "sessions": sessions,
        "running": running,
        "long_running": long_running,
        "idle_in_transaction": idle_in_transaction,
        "waiting": waiting,
        "lock_tree": tree,
        "checks": checks,
    }


def session(cursor, pid: int) -> dict | None:
    """One session of this database (for the cancel/terminate confirmation), or None."""
    found = [s for s in rows(cursor, SESSIONS_SQL) if s["pid"] == pid]
    return found[0] if found else None


def signal_backend(cursor, pid: int, action: str) -> bool:
    """pg_cancel_backend (the running statement) or pg_terminate_backend (the session)."""
    function = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}[action]
    cursor.execute(f"SELECT {function}(%s)", [pid])  # noqa: S608 - function from a fixed map
    return bool(cursor.fetchone()[0])
