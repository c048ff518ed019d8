"""The monthly partitions of the event tables: which exist, and making the next ones ahead.

Every event table T is partitioned by range of pgh_created_at (audit/migrations/0002):

    T__legacy     FROM (MINVALUE) TO (the migration's bound): every event written before it
    T__YYYY_MM    one per month, UTC, FROM the first of the month TO the first of the next

There is no DEFAULT partition (every ATTACH would have to scan it for rows of the new range),
so an event dated past the last partition cannot be written, and the shop's write that fired
its trigger fails with it. The beat entry audit-partitions (daily, config/settings/base.py)
keeps MONTHS_AHEAD months made ahead of the current one, through audit_partition_make(): CREATE
TABLE (LIKE T) + ATTACH PARTITION as the owner, under a lock_timeout, which waits for no reader
(CREATE TABLE ... PARTITION OF would wait behind every open one). The function is the only way
partitions are made, whichever role runs the task (audit/roles.py grants it).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.utils import timezone

from audit.models import EVENT_MODELS

MONTHS_AHEAD = 2  # months made after the current one: two months of missed beats to notice
LEGACY = "__legacy"  # the suffix of the partition that holds the events before the migration
MAKE_FUNCTION = "audit_partition_make"  # audit/migrations/0002
DROP_FUNCTION = "audit_partition_drop"  # audit/roles.py (retention: audit/retention.py)
# Retention's DETACH takes ACCESS EXCLUSIVE on the event table: it gives up after this rather
# than hold every reader and writer of the table queued behind it; the next daily run retries.
DROP_LOCK_TIMEOUT = "1s"

# Each partition of the event tables with its bounds (NULL lower: MINVALUE), parsed from the
# catalogue's "FOR VALUES FROM (...) TO (...)".
PARTITIONS_SQL = """
SELECT p.relname AS parent, c.relname AS name,
       NULLIF(substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \\(''?([^'')]*)'), 'MINVALUE')
           ::timestamptz AS lower,
       substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']*)''\\)')::timestamptz
           AS upper
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_class p ON p.oid = i.inhparent
 WHERE p.relname = ANY (%s)
 ORDER BY p.relname, upper
"""


@dataclass(frozen=True)
class Partition:
    parent: str
    name: str
    lower: datetime | None  # None: MINVALUE (the legacy partition)
    upper: datetime


def event_tables() -> list[str]:
    return [model._meta.db_table for model in EVENT_MODELS]


def partitions() -> dict[str, list[Partition]]:
    """Every event table's partitions, oldest first."""
    found = {table: [] for table in event_tables()}
    with connection.cursor() as cursor:
        cursor.execute(PARTITIONS_SQL, [event_tables()])
        for parent, name, lower, upper in cursor.fetchall():
            found[parent].append(Partition(parent, name, lower, upper))
    return found


def month_start(moment: datetime, months: int = 0) -> date:
    """The first day (UTC) of the month `months` after the one `moment` falls in."""
    moment = moment.astimezone(UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partitions_ensure(
    *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Make the missing months up to and including `months_ahead` after now's, each in its own
    short transaction; the names made, oldest first. Idempotent."""
    now = now or timezone.now()
    last = month_start(now, months_ahead)
    made = []
    for table, existing in partitions().items():
        month = month_start(existing[-1].upper) if existing else month_start(now)
        while month <= last:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT {MAKE_FUNCTION}(%s::regclass, %s)", [table, month])
                name = cursor.fetchone()[0]
            if name is not None:
                made.append(name)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return made
