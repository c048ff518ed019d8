# BRIN on shop_order.created_at for time-window reports; built CONCURRENTLY (no write lock on
# a big orders table), hence atomic = False.

from django.contrib.postgres.indexes import BrinIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("shop", "0010_order_row_level_security"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=BrinIndex(fields=["created_at"], name="shop_order_created_brin"),
        ),
    ]
