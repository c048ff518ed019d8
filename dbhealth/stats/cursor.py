"""Running the query layer's SQL: rows as dicts, fresh statistics, a read-only transaction.

Every statement passes a parameter list (empty when there is none), so `%%` means a literal
`%` everywhere in this package.
"""

from __future__ import annotations

import contextlib

from django.db import connection, transaction

READ_STATEMENT_TIMEOUT = "10s"  # a catalog query that takes longer is itself a problem
READ_LOCK_TIMEOUT = "2s"  # pg_relation_size() waits behind an ACCESS EXCLUSIVE lock


def rows(cursor, sql: str, params: list | tuple = ()) -> list[dict]:
    cursor.execute(sql, list(params))
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def row(cursor, sql: str, params: list | tuple = ()) -> dict:
    found = rows(cursor, sql, params)
    assert len(found) == 1, f"expected one row, got {len(found)}"
    return found[0]


def fresh_statistics(cursor) -> None:
    """Drop this transaction's cached snapshot of the cumulative statistics.

    With stats_fetch_consistency = cache (the default) a transaction keeps reading the
    counters it saw first; a dashboard wants the current ones.
    """
    cursor.execute("SELECT pg_stat_clear_snapshot()", [])


def read_only_settings(cursor, *, statement_timeout: str, lock_timeout: str) -> None:
    """This transaction READ ONLY, under its own timeouts (set_config(..., true): SET LOCAL)."""
    cursor.execute("SET TRANSACTION READ ONLY", [])
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
        [statement_timeout, lock_timeout],
    )


def statement_timeout(cursor, timeout: str) -> None:
    """A timeout for the rest of this transaction only (SET LOCAL)."""
    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [timeout])


@contextlib.contextmanager
def reading():
    """A cursor in a READ ONLY transaction with short timeouts and fresh statistics, so the
    dashboard can never be the thing that holds a lock or runs away during an incident."""
    with transaction.atomic(), connection.cursor() as cursor:
        read_only_settings(
            cursor, statement_timeout=READ_STATEMENT_TIMEOUT, lock_timeout=READ_LOCK_TIMEOUT
        )
        fresh_statistics(cursor)
        yield cursor
        # Nothing to commit; rolling back also ends READ ONLY and the timeouts when this
        # transaction is a savepoint inside another (tests, or a caller's atomic block).
        transaction.set_rollback(True)
