"""Safe "add a user status", step 3 of 5: CHECK constraints added NOT VALID.

NOT VALID skips the scan of existing rows, so the ACCESS EXCLUSIVE lock lasts only as long
as the catalogue change; new and updated rows are checked from now on.
shop_user_status_not_null_chk exists only so that step 5's SET NOT NULL needs no scan.
"""

from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models

from shop.migration_utils import lock_timeout


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_user_status_backfill")]

    operations = [
        lock_timeout(),
        AddConstraintNotValid(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(status__isnull=False), name="shop_user_status_not_null_chk"
            ),
        ),
        AddConstraintNotValid(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended", "closed"]),
                name="shop_user_status_valid",
                violation_error_message="Unknown account status.",
            ),
        ),
        lock_timeout(),
    ]
