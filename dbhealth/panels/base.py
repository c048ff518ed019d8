"""What every panel shares: running its SQL on any DB-API cursor, and green/yellow/red checks.

Panels take a cursor rather than Django's connection so that the same SQL can be run, in
tests, by a role that has nothing but pg_monitor. Every statement passes a parameter list
(empty when there is none), so `%%` means a literal `%` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARNING, CRITICAL = "ok", "warning", "critical"
RANK = {OK: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Check:
    """One line of the overview: what was checked, how it stands, and what it found."""

    panel: str  # the panel that shows the details (its url name)
    name: str
    status: str  # OK, WARNING or CRITICAL
    summary: str

    @property
    def colour(self) -> str:
        return {OK: "green", WARNING: "yellow", CRITICAL: "red"}[self.status]


def rows(cursor, sql: str, params: list | tuple = ()) -> list[dict]:
    cursor.execute(sql, list(params))
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def row(cursor, sql: str, params: list | tuple = ()) -> dict:
    found = rows(cursor, sql, params)
    assert len(found) == 1, f"expected one row, got {len(found)}"
    return found[0]


def level_above(value, warning, critical) -> str:
    """CRITICAL at or above `critical`, WARNING at or above `warning`, else OK (None is OK)."""
    if value is None:
        return OK
    if value >= critical:
        return CRITICAL
    if value >= warning:
        return WARNING
    return OK


def level_below(value, warning, critical) -> str:
    """CRITICAL below `critical`, WARNING below `warning`, else OK (None is OK)."""
    if value is None:
        return OK
    if value < critical:
        return CRITICAL
    if value < warning:
        return WARNING
    return OK


def worst(statuses) -> str:
    return max(statuses, key=RANK.__getitem__, default=OK)


def fresh_statistics(cursor) -> None:
    """Drop this transaction's cached snapshot of the cumulative statistics.

    With stats_fetch_consistency = cache (the default) a transaction keeps reading the
    counters it saw first; a dashboard wants the current ones.
    """
    cursor.execute("SELECT pg_stat_clear_snapshot()", [])


def server_version(cursor) -> int:
    cursor.execute("SELECT current_setting('server_version_num')::int", [])
    return cursor.fetchone()[0]
