"""Retention: the one way audit events are deleted.

Each batch is its own short transaction: SET LOCAL audit.prune_before = <cutoff> (which the
append_only trigger checks: only events older than the cutoff may go, and only in this
transaction), then DELETE up to `batch_size` of the oldest events of one table, found by its
time index. Short transactions keep locks and WAL bursts small and let autovacuum keep up;
an interrupted run loses nothing and the next one carries on.

The Celery beat entry audit-prune runs it daily (config/settings/base.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import EVENT_MODELS, PRUNE_BEFORE_SETTING

DEFAULT_BATCH_SIZE = 1_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    deleted: dict[str, int]  # event table: events deleted
    batches: int


def retention_cutoff(*, days: int | None = None, now: datetime | None = None) -> datetime:
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    return (now or timezone.now()) - timedelta(days=days)


def audit_prune(*, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> PruneResult:
    """Delete every event written before `cutoff`, `batch_size` at a time per transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    deleted, batches = {}, 0
    for event_model in EVENT_MODELS:
        table = event_model._meta.db_table
        deleted[table] = 0
        delete = _delete_batch if _may_delete(table) else _delete_batch_through_function
        while True:
            with transaction.atomic():
                count = delete(table=table, cutoff=cutoff, batch_size=batch_size)
            if count == 0:
                break
            batches += 1
            deleted[table] += count
            if count < batch_size:
                break
    return PruneResult(cutoff=cutoff, deleted=deleted, batches=batches)


def _may_delete(table: str) -> bool:
    """The owner may; the least-privilege application role (core/roles.py) may not."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege(%s, 'DELETE')", [table])
        return cursor.fetchone()[0]


def _delete_batch(*, table: str, cutoff: datetime, batch_size: int) -> int:
    """One batch as the owner: SET LOCAL the cutoff the append_only trigger checks, DELETE."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true)", [PRUNE_BEFORE_SETTING, cutoff.isoformat()]
        )
        # Table names come from our own models, never from input.
        cursor.execute(
            f"""
            DELETE FROM {connection.ops.quote_name(table)} WHERE pgh_id IN (
                SELECT pgh_id FROM {connection.ops.quote_name(table)}
                 WHERE pgh_created_at < %s
                 ORDER BY pgh_created_at, pgh_id
                 LIMIT %s
            )
            """,  # noqa: S608
            [cutoff, batch_size],
        )
        return cursor.rowcount


def _delete_batch_through_function(*, table: str, cutoff: datetime, batch_size: int) -> int:
    """One batch as the application role: the owner's SECURITY DEFINER function does the same
    DELETE, and refuses events newer than the retention period (audit/roles.py)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT audit_prune_batch(%s::regclass, %s, %s)", [table, cutoff, batch_size]
        )
        return cursor.fetchone()[0]
