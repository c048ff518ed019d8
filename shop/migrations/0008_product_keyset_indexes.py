"""Indexes for the API's keyset pages over active products, built without locking writes.

CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction (atomic = False). The new
(price, id) index is built before the (price) one it replaces is dropped, so price browsing
is never left without an index.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("shop", "0007_idempotencykey"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="product",
            index=models.Index(
                condition=models.Q(("is_active", True)),
                fields=["price", "id"],
                name="shop_product_act_price_id_idx",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="product",
            name="shop_product_active_price_idx",
        ),
        AddIndexConcurrently(
            model_name="product",
            index=models.Index(
                condition=models.Q(("is_active", True)),
                fields=["-created_at", "-id"],
                name="shop_product_active_newest_idx",
            ),
        ),
    ]
