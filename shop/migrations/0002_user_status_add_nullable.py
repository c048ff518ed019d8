"""Safe "add a user status", step 1 of 5: add the column as NULL-able, without a default.

ADD COLUMN without a default (or with a constant one) only touches the catalogue: a brief
ACCESS EXCLUSIVE lock, no table rewrite. lock_timeout keeps that brief lock from queueing
behind a long transaction and blocking every query that arrives after it.
"""

from django.db import migrations, models

from shop.migration_utils import lock_timeout


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        lock_timeout(),
        migrations.AddField(
            model_name="user",
            name="status",
            field=models.CharField(
                max_length=16,
                null=True,
                choices=[("active", "Active"), ("suspended", "Suspended"), ("closed", "Closed")],
                db_comment="Account state; added by the safe migrations 0002-0006.",
            ),
        ),
        lock_timeout(),
    ]
