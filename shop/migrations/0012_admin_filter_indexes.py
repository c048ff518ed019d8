# Partial indexes for the admin's rare-value filters at scale (reasons in shop/models.py);
# built CONCURRENTLY, so no write lock on a big table: atomic = False.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("shop", "0011_order_created_brin"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="product",
            index=models.Index(
                condition=models.Q(("is_active", False)),
                fields=["id"],
                name="shop_product_inactive_id_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                condition=models.Q(("is_staff", True)),
                fields=["username"],
                name="shop_user_staff_username_idx",
            ),
        ),
    ]
