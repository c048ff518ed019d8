"""What every panel shares: green/yellow/red checks and the thresholds that set them.

Panels hold no SQL: they read rows from the query layer (dbhealth/stats/) on the cursor they
are given, so that the same panel runs, in tests, as a role that has nothing but pg_monitor.
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
