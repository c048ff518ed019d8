"""Retention: the one way audit events are deleted.

The event tables are partitioned by month (audit/partitions.py), so retention drops whole
months: every partition whose range ends at or before the cutoff is DETACHed and DROPped, in
its own short transaction under a lock_timeout, through the owner's audit_partition_drop()
(audit/roles.py). No row is deleted one by one, no dead tuple is left for VACUUM, and the WAL
written is a few catalogue records instead of every deleted row. A month is dropped once all
of it is older than the cutoff, so events are kept from AUDIT_RETENTION_DAYS up to one month
longer.

The legacy partition (the events written before the table was partitioned, FROM MINVALUE) is
the one exception while it still holds events newer than the cutoff: its older events are
deleted in batches as before, each batch its own short transaction: SET LOCAL
audit.prune_before = <cutoff> (which the append_only trigger checks: only events older than the
cutoff may go, and only in this transaction), then DELETE up to `batch_size` of its oldest
events, found by its time index. Once its whole range is older than the cutoff it is dropped
like a month.

The Celery beat entry audit-prune runs it daily (config/settings/base.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import PRUNE_BEFORE_SETTING
from audit.partitions import DROP_FUNCTION, DROP_LOCK_TIMEOUT, LEGACY, partitions

DEFAULT_BATCH_SIZE = 1_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    deleted: dict[str, int]  # event table: events deleted in batches (its legacy partition)
    batches: int
    dropped: dict[str, list[str]]  # event table: its partitions dropped whole, oldest first


def retention_cutoff(*, days: int | None = None, now: datetime | None = None) -> datetime:
    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    return (now or timezone.now()) - timedelta(days=days)


def audit_prune(*, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> PruneResult:
    """Drop every partition wholly older than `cutoff`; in the legacy partition, if it stays,
    delete the events older than `cutoff`, `batch_size` at a time per transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    deleted, batches, dropped = {}, 0, {}
    for table, existing in partitions().items():
        deleted[table], dropped[table] = 0, []
        for partition in existing:
            if partition.upper <= cutoff:
                with transaction.atomic():
                    drop = _drop if _owns(partition.name) else _drop_through_function
                    drop(table=table, partition=partition.name)
                dropped[table].append(partition.name)
        legacy = f"{table}{LEGACY}"
        if not any(p.name == legacy and p.upper > cutoff for p in existing):
            continue
        delete = _delete_batch if _may_delete(legacy) else _delete_batch_through_function
        while True:
            with transaction.atomic():
                count = delete(table=legacy, cutoff=cutoff, batch_size=batch_size)
            if count == 0:
                break
            batches += 1
            deleted[table] += count
            if count < batch_size:
                break
    return PruneResult(cutoff=cutoff, deleted=deleted, batches=batches, dropped=dropped)


def _owns(table: str) -> bool:
    """DETACH and DROP are the owner's (and its members'); the application roles are not."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = %s::regclass", [table]
        )
        return cursor.fetchone()[0]


def _drop(*, table: str, partition: str) -> None:
    """One month as the owner: DETACH (ACCESS EXCLUSIVE on the event table, so under a
    lock_timeout: it gives up rather than queue every reader behind it), then DROP."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
        cursor.execute(f"ALTER TABLE {quote(table)} DETACH PARTITION {quote(partition)}")
        cursor.execute(f"DROP TABLE {quote(partition)}")


def _drop_through_function(*, table: str, partition: str) -> None:
    """One month as the application role: the owner's SECURITY DEFINER function does the same,
    and refuses a month newer than the retention period (audit/roles.py)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {DROP_FUNCTION}(%s::regclass)", [partition])


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
