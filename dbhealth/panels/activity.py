"""Live activity: what every session of this database is doing now, and who blocks whom
(rows: dbhealth/stats/activity.py; cancel and terminate are signalled from there too)."""

from dbhealth import stats

from .base import Check, level_above
from .pooler import pooler_pids

TITLE = "Activity"


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
    sessions = stats.activity.sessions(cursor)
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
        # Backends that are PgBouncer's server connections: each serves many clients in turn.
        "pooler_pids": pooler_pids(),
        "checks": checks,
    }
