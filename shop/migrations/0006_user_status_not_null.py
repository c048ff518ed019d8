"""Safe "add a user status", step 5 of 5: SET NOT NULL, the default, drop the helper CHECK.

Since PostgreSQL 12, SET NOT NULL skips its full-table scan when a valid CHECK constraint
already proves "status IS NOT NULL" (step 4), so the ACCESS EXCLUSIVE lock is brief. Written
as SQL because Django's AlterField would first run "UPDATE ... WHERE status IS NULL" over the
whole table. The helper CHECK is redundant afterwards and is dropped.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

from shop.migration_utils import lock_timeout


class Migration(migrations.Migration):
    dependencies = [("shop", "0005_user_status_validate")]

    operations = [
        lock_timeout(),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE shop_user ALTER COLUMN status SET NOT NULL",
                    reverse_sql="ALTER TABLE shop_user ALTER COLUMN status DROP NOT NULL",
                ),
                migrations.RunSQL(
                    "ALTER TABLE shop_user ALTER COLUMN status SET DEFAULT 'active'",
                    reverse_sql="ALTER TABLE shop_user ALTER COLUMN status DROP DEFAULT",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="user",
                    name="status",
                    field=models.CharField(
                        max_length=16,
                        choices=[
                            ("active", "Active"),
                            ("suspended", "Suspended"),
                            ("closed", "Closed"),
                        ],
                        default="active",
                        db_default="active",
                        db_comment="Account state; added by the safe migrations 0002-0006.",
                    ),
                ),
            ],
        ),
        migrations.RemoveConstraint(model_name="user", name="shop_user_status_not_null_chk"),
        # The updated_at trigger lists the columns it watches: status joins them now, after
        # the backfill, so that backfilling did not count as a change to every user.
        pgtrigger.migrations.RemoveTrigger(
            model_name="user",
            name="touch_updated_at",
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="user",
            trigger=pgtrigger.compiler.Trigger(
                name="touch_updated_at",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."created_at" IS DISTINCT FROM (NEW."created_at") OR OLD."email" IS DISTINCT FROM (NEW."email") OR OLD."id" IS DISTINCT FROM (NEW."id") OR OLD."is_active" IS DISTINCT FROM (NEW."is_active") OR OLD."is_staff" IS DISTINCT FROM (NEW."is_staff") OR OLD."is_superuser" IS DISTINCT FROM (NEW."is_superuser") OR OLD."last_login" IS DISTINCT FROM (NEW."last_login") OR OLD."password" IS DISTINCT FROM (NEW."password") OR OLD."status" IS DISTINCT FROM (NEW."status") OR OLD."username" IS DISTINCT FROM (NEW."username"))',
                    func="NEW.updated_at = statement_timestamp(); RETURN NEW;",
                    hash="fd4ec600c56e137ec6f9c8fcd25623836ad6ca29",
                    operation="UPDATE",
                    pgid="pgtrigger_touch_updated_at_2b342",
                    table="shop_user",
                    when="BEFORE",
                ),
            ),
        ),
        lock_timeout(),
    ]
