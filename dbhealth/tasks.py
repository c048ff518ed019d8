"""Celery tasks of the dashboard, all on beat (config/settings/base.py CELERY_BEAT_SCHEDULE).

Each is idempotent: a second delivery takes one more snapshot (deltas stay exact), finds the
alerts already open (no second mail), or finds the links already made.
"""

from celery import shared_task
from django.db import connection

from dbhealth import alerts, origins, snapshots, stats

RETRY = {"autoretry_for": (Exception,), "retry_backoff": True, "max_retries": 3}


@shared_task(**RETRY)
def dbhealth_snapshot_task() -> int:
    """Snapshot the statistics and prune old snapshots; returns the snapshot's id."""
    return snapshots.snapshot_take().pk


@shared_task(**RETRY)
def dbhealth_alerts_task() -> str:
    """Evaluate the alert rules; returns "opened N, resolved M"."""
    result = alerts.alerts_evaluate()
    return f"opened {len(result['opened'])}, resolved {len(result['resolved'])}"


@shared_task(**RETRY)
def dbhealth_origins_task() -> int:
    """Link statement fingerprints to query ids; returns how many links were new."""
    with connection.cursor() as cursor:
        schema = stats.statements.readable_schema(stats.statements.extension(cursor))
        return origins.resolve_queryids(cursor, schema)
