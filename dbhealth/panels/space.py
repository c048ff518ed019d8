"""Space: the database's size, and its tables with their heap, TOAST and index sizes
(rows: dbhealth/stats/space.py), and how the largest grew over 7 days (from the snapshots)."""

from django.utils.functional import SimpleLazyObject

from dbhealth import charts, snapshots, stats
from dbhealth.models import IndexSample, TableSample

TITLE = "Space"


def collect(cursor, config: dict) -> dict:
    limit = config["SPACE_ROWS"]
    return {
        "database": stats.space.database(cursor),
        "tables": stats.space.tables(cursor, limit),
        "indexes": stats.space.indexes(cursor, limit),
        # Read when the Space page draws it, not when the overview collects this panel's checks.
        "growth": SimpleLazyObject(growth),
        "checks": [],  # size alone is not a problem; bloat is checked under maintenance
    }


def growth() -> dict:
    """The five largest tables' and indexes' sizes over 7 days: three queries (the snapshots,
    then one per chart)."""
    times = snapshots.snapshot_times("7d")
    return {
        "tables": snapshots.top_series(TableSample, "table", "total_bytes", charts.BYTES, times),
        "indexes": snapshots.top_series(IndexSample, "index", "bytes", charts.BYTES, times),
    }
