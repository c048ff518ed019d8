"""Safe "add a user status", step 4 of 5: VALIDATE the constraints, in its own transaction.

VALIDATE CONSTRAINT scans the table under SHARE UPDATE EXCLUSIVE: reads and writes go on
while it runs. (Run in the same transaction as step 3, it would hold step 3's ACCESS
EXCLUSIVE lock for the whole scan: that is why it is a separate migration.)
"""

from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations

from shop.migration_utils import lock_timeout


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_user_status_check_not_valid")]

    operations = [
        lock_timeout(),
        ValidateConstraint(model_name="user", name="shop_user_status_not_null_chk"),
        ValidateConstraint(model_name="user", name="shop_user_status_valid"),
        lock_timeout(),
    ]
