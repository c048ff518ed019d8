"""History: database and table growth and index usage over 24 h or 7 d, from the snapshots
of dbhealth/snapshots.py (charts drawn in the browser by the vendored uPlot)."""

from dbhealth import snapshots
from dbhealth.models import IndexSample, Snapshot, TableSample

TITLE = "History"


def collect(range_name: str) -> dict:
    return {
        "range": range_name,
        "ranges": list(snapshots.RANGES),
        "snapshots": Snapshot.objects.filter(captured_at__gte=snapshots.since(range_name)).count(),
        "latest": Snapshot.objects.order_by("-captured_at").first(),
        "charts": {
            "database-size": snapshots.database_series(range_name),
            "table-size": snapshots.top_series(TableSample, "table", "total_bytes", range_name),
            "index-scans": snapshots.top_series(IndexSample, "index", "idx_scan", range_name),
        },
        "checks": [],
    }
