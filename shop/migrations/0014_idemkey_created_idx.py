# The prune's index on shop_idempotencykey.created_at, built CONCURRENTLY (the table grows
# with every keyed order: no write lock while it builds), hence atomic = False.

import django.db.models.functions.datetime
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("shop", "0013_order_shipping_address_no_statistics"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey",
            name="created_at",
            field=models.DateTimeField(
                db_comment="Claimed at; keys older than IDEMPOTENCY_KEY_TTL_HOURS are new again.",
                db_default=django.db.models.functions.datetime.Now(),
                editable=False,
            ),
        ),
        AddIndexConcurrently(
            model_name="idempotencykey",
            index=models.Index(fields=["created_at"], name="shop_idemkey_created_idx"),
        ),
    ]
