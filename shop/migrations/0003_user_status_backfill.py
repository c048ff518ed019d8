"""Safe "add a user status", step 2 of 5: backfill in batches, one short transaction each.

One UPDATE of the whole table would hold row locks on every user until it commits, bloat the
table by a full copy at once and give replicas a burst of WAL. Batches of BATCH_SIZE rows,
each committed on its own (atomic = False), keep every lock short; SKIP LOCKED steps around
rows a live transaction is holding (they are picked up by a later batch).
"""

from django.db import migrations, transaction

BATCH_SIZE = 1000

BACKFILL_BATCH = """
UPDATE shop_user SET status = 'active'
 WHERE id IN (SELECT id FROM shop_user WHERE status IS NULL
               ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
"""


def backfill(apps, schema_editor):
    connection = schema_editor.connection
    while True:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            cursor.execute(BACKFILL_BATCH, [BATCH_SIZE])
            if cursor.rowcount == 0:
                break


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("shop", "0002_user_status_add_nullable")]

    # Backwards there is nothing to undo: 0002's reverse drops the column.
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False)]
