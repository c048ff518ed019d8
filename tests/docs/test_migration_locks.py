"""The lock each step of a safe migration takes, as docs/migrations.md states it.

Each statement runs in the test's transaction; pg_locks then shows the table-level locks this
backend holds on shop_user. (The statements are the shapes migrations 0002-0006 run.)
"""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

LOCKS = [
    # 0002: a NULL-able column without a default is a catalogue change.
    ("ALTER TABLE shop_user ADD COLUMN nickname varchar(16) NULL", {"AccessExclusiveLock"}),
    # 0003: one backfill batch; writers of other rows carry on.
    (
        "UPDATE shop_user SET status = 'active' WHERE id IN (SELECT id FROM shop_user "
        "WHERE status IS NULL ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED)",
        {"RowShareLock", "RowExclusiveLock"},
    ),
    # 0004: CHECK ... NOT VALID: brief, no scan.
    (
        "ALTER TABLE shop_user ADD CONSTRAINT shop_user_probe_chk "
        "CHECK (status IS NOT NULL) NOT VALID",
        {"AccessExclusiveLock"},
    ),
    # The foreign-key form of NOT VALID: SHARE ROW EXCLUSIVE (on both tables).
    (
        "ALTER TABLE shop_user ADD CONSTRAINT shop_user_probe_fk FOREIGN KEY (id) "
        "REFERENCES shop_userprofile (user_id) NOT VALID",
        {"AccessShareLock", "ShareRowExclusiveLock"},
    ),
    # 0005: VALIDATE scans, but reads and writes go on.
    (
        "ALTER TABLE shop_user VALIDATE CONSTRAINT shop_user_status_valid",
        {"ShareUpdateExclusiveLock"},
    ),
    # 0006: SET NOT NULL, brief when a valid CHECK proves it.
    ("ALTER TABLE shop_user ALTER COLUMN status SET NOT NULL", {"AccessExclusiveLock"}),
    # A plain CREATE INDEX blocks writes for the whole build (hence CONCURRENTLY).
    ("CREATE INDEX shop_user_probe_idx ON shop_user (last_login)", {"ShareLock"}),
]


@pytest.mark.parametrize(("statement", "modes"), LOCKS, ids=[s for s, _ in LOCKS])
def test_statement_takes_the_documented_lock(statement, modes):
    with connection.cursor() as cursor:
        cursor.execute(statement)
        cursor.execute(
            "SELECT mode FROM pg_locks WHERE locktype = 'relation' "
            "AND relation = 'shop_user'::regclass AND pid = pg_backend_pid()"
        )
        held = {mode for (mode,) in cursor.fetchall()}

    assert held == modes
