"""History: database and table growth and index usage over 24 h or 7 d, from the snapshots
of dbhealth/snapshots.py (charts drawn as SVG on the server: dbhealth/charts.py)."""

from dbhealth import charts, snapshots
from dbhealth.models import IndexSample, Snapshot, TableSample

TITLE = "History"


def collect(range_name: str) -> dict:
    times = snapshots.snapshot_times(range_name)
    return {
        "range": range_name,
        "ranges": list(snapshots.RANGES),
        "snapshots": len(times),
        "latest": Snapshot.objects.order_by("-captured_at").first(),
        "charts": {
            "database_size": snapshots.database_series(range_name),
            "table_size": snapshots.top_series(
                TableSample, "table", "total_bytes", charts.BYTES, times
            ),
            "index_scans": snapshots.top_series(
                IndexSample, "index", "idx_scan", charts.COUNT, times
            ),
        },
        "checks": [],
    }
