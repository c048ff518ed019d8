"""The indexes panel: each finding made real, named in Django terms, with the fixing migration."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.dbhealth.conftest import flush_statistics

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/indexes/"


def sql(*statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def leaf(app_label: str) -> str:
    return sorted(MigrationLoader(None).graph.leaf_nodes(app_label))[-1][1]


def findings(client, key, **match):
    data = client.get(PAGE).context["data"]
    return [f for f in data[key] if all(f[k] == v for k, v in match.items())]


def test_an_unused_index_names_its_model_field_and_the_migration_that_drops_it(
    viewer_client, dbhealth_settings
):
    dbhealth_settings(UNUSED_INDEX_MIN_BYTES=0)
    sql("CREATE INDEX dbhealth_unused_stock_idx ON shop_product (stock_quantity)")

    [found] = findings(viewer_client, "unused", index_name="dbhealth_unused_stock_idx")

    assert found["idx_scan"] == 0
    assert found["source"] == (
        "on shop.Product.stock_quantity; not declared in Django (made by raw SQL or RunSQL)"
    )
    assert found["fix"] == (
        "# shop/migrations/XXXX_drop_dbhealth_unused_stock_idx.py\n"
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    atomic = False  # CONCURRENTLY cannot run inside a transaction\n\n"
        "    dependencies = [\n"
        f"        ('shop', '{leaf('shop')}'),\n"
        "    ]\n\n"
        "    operations = [\n"
        "        migrations.RunSQL(\n"
        "            sql='DROP INDEX CONCURRENTLY IF EXISTS dbhealth_unused_stock_idx;',\n"
        "            reverse_sql='CREATE INDEX CONCURRENTLY dbhealth_unused_stock_idx ON "
        "public.shop_product USING btree (stock_quantity);',\n"
        "        ),\n"
        "    ]\n"
    )


def test_unused_indexes_below_the_size_threshold_are_not_reported(viewer_client):
    sql("CREATE INDEX dbhealth_unused_stock_idx ON shop_product (stock_quantity)")

    assert findings(viewer_client, "unused", index_name="dbhealth_unused_stock_idx") == []


def test_a_redundant_meta_index_is_removed_concurrently(viewer_client):
    # Given a wider index that starts with Order.Meta.indexes' (status, -created_at)
    sql("CREATE INDEX dbhealth_wide_idx ON shop_order (status, created_at DESC, id)")

    [found] = findings(viewer_client, "redundant", covered_by="dbhealth_wide_idx")

    assert found["redundant_index"] == "shop_order_status_created_idx"
    assert found["source"] == (
        "shop.Order Meta.indexes: Index(status, -created_at) named 'shop_order_status_created_idx'"
    )
    assert found["covered_by_source"] == (
        "on shop.Order.status, shop.Order.created_at, shop.Order.id; "
        "not declared in Django (made by raw SQL or RunSQL)"
    )
    assert found["fix"] == (
        "# and delete the Index named 'shop_order_status_created_idx' from Order.Meta.indexes\n"
        "# shop/migrations/XXXX_remove_shop_order_status_created_idx.py\n"
        "import django.contrib.postgres.operations\n"
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    atomic = False  # CONCURRENTLY cannot run inside a transaction\n\n"
        "    dependencies = [\n"
        f"        ('shop', '{leaf('shop')}'),\n"
        "    ]\n\n"
        "    operations = [\n"
        "        django.contrib.postgres.operations.RemoveIndexConcurrently(\n"
        "            model_name='order',\n"
        "            name='shop_order_status_created_idx',\n"
        "        ),\n"
        "    ]\n"
    )


def test_a_redundant_foreign_key_index_names_the_field(viewer_client):
    # Given (product_id, quantity): OrderItem.product's own index becomes a prefix of it
    sql("CREATE INDEX dbhealth_product_qty_idx ON shop_orderitem (product_id, quantity)")

    [found] = findings(viewer_client, "redundant", covered_by="dbhealth_product_qty_idx")

    assert found["source"] == (
        "shop.OrderItem.product (ForeignKey (Django indexes it unless db_index=False))"
    )
    assert found["fix"].startswith("# and set db_index=False (unique=False) on OrderItem.product\n")
    assert "migrations.SeparateDatabaseAndState(" in found["fix"]
    assert f"sql='DROP INDEX CONCURRENTLY IF EXISTS {found['redundant_index']};'" in found["fix"]
    assert "db_index=False" in found["fix"]
    assert "atomic = False" in found["fix"]


def test_an_exact_duplicate_is_reported_once_and_the_django_one_is_kept(viewer_client):
    sql("CREATE INDEX dbhealth_copy_idx ON shop_order (user_id, created_at DESC)")

    found = findings(viewer_client, "redundant", table_name="shop_order")

    assert [(f["redundant_index"], f["covered_by"]) for f in found] == [
        ("dbhealth_copy_idx", "shop_order_user_created_idx")
    ]


def test_a_foreign_key_without_an_index_shows_the_add_index_migration(viewer_client):
    # Given OrderItem.product's index dropped
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index"
            " WHERE indrelid = 'shop_orderitem'::regclass AND indnatts = 1"
            " AND indkey[0] = (SELECT attnum FROM pg_attribute"
            "   WHERE attrelid = 'shop_orderitem'::regclass AND attname = 'product_id')"
        )
        [(index,)] = cursor.fetchall()
        cursor.execute(f"DROP INDEX {index}")

    [found] = findings(viewer_client, "fk_without_index", table_name="shop_orderitem")

    assert found["columns"] == ["product_id"]
    assert found["referenced"] == "shop_product"
    assert found["source"] == "shop.OrderItem.product"
    assert found["fix"] == (
        "# and add <Index: fields=['product'] name='shop_orderi_product_6d8a07_idx'> to "
        "OrderItem.Meta.indexes,\n"
        "# with a one-line reason, so the model state matches\n"
        "# shop/migrations/XXXX_add_shop_orderi_product_6d8a07_idx.py\n"
        "import django.contrib.postgres.operations\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    atomic = False  # CONCURRENTLY cannot run inside a transaction\n\n"
        "    dependencies = [\n"
        f"        ('shop', '{leaf('shop')}'),\n"
        "    ]\n\n"
        "    operations = [\n"
        "        django.contrib.postgres.operations.AddIndexConcurrently(\n"
        "            model_name='orderitem',\n"
        "            index=models.Index("
        "fields=['product'], name='shop_orderi_product_6d8a07_idx'),\n"
        "        ),\n"
        "    ]\n"
    )


def test_a_scratch_table_foreign_key_without_an_index_gets_plain_sql(viewer_client):
    sql(
        "CREATE TABLE dbhealth_scratch_review (id int PRIMARY KEY,"
        " product_id bigint REFERENCES shop_product (id))"
    )

    [found] = findings(viewer_client, "fk_without_index", table_name="dbhealth_scratch_review")

    assert found["source"] == "table dbhealth_scratch_review is not a Django model's table"
    assert found["fix"] == (
        "-- not a model of this project: run by hand (outside a transaction)\n"
        "CREATE INDEX CONCURRENTLY ON dbhealth_scratch_review (product_id);"
    )


def test_an_invalid_index_left_by_a_failed_concurrent_build(viewer_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.coupon (code text)")
    conn.execute(f"INSERT INTO {schema}.coupon VALUES ('A'), ('A')")
    with pytest.raises(Exception, match="could not create unique index"):
        conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY coupon_code_uniq ON {schema}.coupon (code)")

    [found] = findings(viewer_client, "invalid", table_name="coupon")

    assert found["index_name"] == f"{schema}.coupon_code_uniq"
    assert found["fix"] == (
        "-- a failed CREATE INDEX CONCURRENTLY (or REINDEX) left it behind: rebuild it\n"
        f"REINDEX INDEX CONCURRENTLY {schema}.coupon_code_uniq;\n"
        "-- or drop it and run the migration that creates it again\n"
        f"DROP INDEX CONCURRENTLY IF EXISTS {schema}.coupon_code_uniq;"
    )


def test_a_big_table_read_by_sequential_scans(viewer_client, scratch, dbhealth_settings):
    dbhealth_settings(SEQ_SCAN_MIN_ROWS=60)
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.visit (n int)")
    conn.execute(f"INSERT INTO {schema}.visit SELECT generate_series(1, 60)")
    for _ in range(3):
        conn.execute(f"SELECT count(*) FROM {schema}.visit WHERE n = 7")
    flush_statistics(conn)

    [found] = findings(viewer_client, "seq_scans", table_name="visit")

    assert {k: found[k] for k in ("seq_scan", "seq_tup_read", "idx_scan", "n_live_tup")} == {
        "seq_scan": 3,
        "seq_tup_read": 180,
        "idx_scan": 0,
        "n_live_tup": 60,
    }
    assert found["rows_per_seq_scan"] == 60
    assert found["index_share"] == 0.0
    assert found["source"] == "not a Django model"


def test_the_indexes_page_query_budget(viewer_client, django_assert_num_queries):
    with django_assert_num_queries(17):
        response = viewer_client.get(PAGE)

    assert response.status_code == 200
