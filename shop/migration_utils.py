"""Helpers for migrations that must not stall a busy database."""

from django.db import migrations


def lock_timeout(timeout: str = "5s") -> migrations.RunSQL:
    """SET LOCAL lock_timeout for the rest of this migration's transaction, both ways.

    An ALTER TABLE that waits for its ACCESS EXCLUSIVE lock behind a long transaction blocks
    every query queued behind it; with a lock_timeout it fails fast instead and can be
    retried. Put it first and last in `operations`: forwards, the first one applies; backwards
    the operations run in reverse order, so the last one applies first.
    """
    sql = f"SET LOCAL lock_timeout = '{timeout}'"
    return migrations.RunSQL(sql, reverse_sql=sql, elidable=False)
