"""Indexes: none redundant, and each access pattern served by the index meant for it."""

from decimal import Decimal

import pytest
from django.db import connection

from dbhealth.stats.indexes import redundant
from shop import selectors
from shop.api.pagination import seek_filter
from shop.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

OUR_TABLES = ["shop\\_%", "audit\\_%", "dbhealth\\_%"]


def redundant_indexes(table_patterns: list[str]) -> list[tuple[str, str, str]]:
    """(redundant index, the index that covers it, table) for tables matching LIKE patterns."""
    with connection.cursor() as cursor:
        found = redundant(cursor, table_patterns)
    return [(f["redundant_index"], f["covered_by"], f["table_name"]) for f in found]


def test_no_index_is_a_leading_prefix_of_another():
    assert redundant_indexes(OUR_TABLES) == []


def test_the_redundancy_check_finds_a_redundant_index():
    # Given an index on order.user_id alone, beside (user_id, created_at DESC)
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX redundant_user_idx ON shop_order (user_id)")
        cursor.execute("CREATE INDEX other_status_idx ON shop_order (status) WHERE status = 'x'")

    found = redundant_indexes(OUR_TABLES)

    # Then it is reported, and the partial index (another predicate) is not.
    assert found == [("redundant_user_idx", "shop_order_user_created_idx", "shop_order")]


def test_the_redundancy_check_reports_an_exact_duplicate_once():
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNIQUE INDEX dup_slug ON shop_category (slug)")

    assert redundant_indexes(OUR_TABLES) == [
        ("dup_slug", "shop_category_slug_key", "shop_category")
    ]


def test_every_foreign_key_leads_some_index():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname
              FROM pg_constraint c
             WHERE c.contype = 'f'
               AND c.conrelid::regclass::text LIKE 'shop\\_%%'
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                    WHERE i.indrelid = c.conrelid
                      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey)
            """
        )
        assert cursor.fetchall() == []


def explain(sql: str, params=(), *, bitmap: bool = False) -> str:
    with connection.cursor() as cursor:
        # Tiny tables: forbid the scans a planner prefers on a few rows, so the plan shows
        # which index *can* serve the query in order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not bitmap:  # GIN indexes are only ever read through bitmap scans
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_my_orders_newest_first_uses_the_user_created_index():
    order = OrderFactory()

    plan = explain(
        "SELECT id FROM shop_order WHERE user_id = %s ORDER BY created_at DESC LIMIT 20",
        [order.user_id],
    )

    assert "shop_order_user_created_idx" in plan
    assert "Sort" not in plan


def test_open_orders_oldest_first_use_the_partial_index():
    OrderFactory()

    plan = explain(
        "SELECT id FROM shop_order WHERE status IN ('pending', 'processing') "
        "ORDER BY created_at LIMIT 50"
    )

    assert "shop_order_open_created_idx" in plan
    assert "Sort" not in plan


def test_category_browse_by_price_uses_the_category_price_index():
    product = ProductFactory()

    plan = explain(
        "SELECT id FROM shop_product WHERE category_id = %s ORDER BY price LIMIT 20",
        [product.category_id],
    )

    assert "shop_product_cat_price_idx" in plan
    assert "Sort" not in plan


def test_full_text_search_uses_the_gin_index():
    ProductFactory(name="Walnut desk")

    plan = explain(
        "SELECT id FROM shop_product WHERE search_vector @@ websearch_to_tsquery('english', %s)",
        ["walnut"],
        bitmap=True,
    )

    assert "shop_product_search_gin" in plan


def test_tag_filter_uses_the_gin_index():
    ProductFactory(tags=["sale"])

    plan = explain(
        "SELECT id FROM shop_product WHERE tags @> ARRAY['sale']::varchar(50)[]", bitmap=True
    )

    assert "shop_product_tags_gin" in plan


def test_login_by_email_uses_the_lower_email_index():
    UserFactory(email="ada@example.com")
    CategoryFactory()

    plan = explain("SELECT id FROM shop_user WHERE lower(email) = lower(%s)", ["Ada@Example.com"])

    assert "shop_user_email_ci_uniq" in plan


# --------------------------------------------------------------------------- the API's pages


@pytest.fixture
def catalogue():
    """A catalogue's shape (many products, a few categories) with fresh statistics.

    The API's pages join each product's category; which side of that join the planner starts
    from depends on the tables' statistics, which earlier tests leave in any state.
    """
    for category in CategoryFactory.create_batch(3):
        ProductFactory.create_batch(40, category=category)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE shop_product, shop_category")


def plan_of(queryset) -> str:
    """The plan of a selector's queryset as the API runs it (LIMIT page size + 1)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    return queryset[:21].explain(costs=False)


def test_newest_products_page_reads_the_newest_index_in_order(catalogue):
    product = ProductFactory()

    first = plan_of(selectors.product_list())
    later = plan_of(
        selectors.product_list().filter(
            seek_filter(["created_at", "id"], [product.created_at, product.pk], "lt")
        )
    )

    for plan in (first, later):
        assert "shop_product_active_newest_idx" in plan
        assert "Sort" not in plan
    assert "Index Cond: (created_at <= " in later  # the seek starts the scan at the cursor


@pytest.mark.parametrize(
    ("ordering", "op", "price"), [("price", "gt", "0.50"), ("-price", "lt", "999.00")]
)
def test_price_pages_read_the_price_id_index_either_way(catalogue, ordering, op, price):
    # The cursor sits at the cheap (or dear) end: the page reads on into the whole catalogue,
    # the case a keyset index is for (a seek near the far end would rightly be a small sort).
    product = ProductFactory(price=Decimal(price))

    plan = plan_of(
        selectors.product_list(ordering=ordering).filter(
            seek_filter(["price", "id"], [product.price, product.pk], op)
        )
    )

    assert "shop_product_act_price_id_idx" in plan
    assert "Sort" not in plan
    assert f"Index Cond: (price {'>=' if op == 'gt' else '<='} " in plan


def test_my_orders_page_reads_the_user_created_index():
    order = OrderFactory()

    plan = plan_of(
        selectors.order_list_for_user(user_id=order.user_id).filter(
            seek_filter(["created_at", "id"], [order.created_at, order.pk], "lt")
        )
    )

    # The index gives created_at order and seeks to the cursor; ties on created_at (one
    # transaction's orders) are then put in id order. PostgreSQL 18 does that with an
    # Incremental Sort; 15, on a one-row table, may sort the index's few rows whole. Either
    # way the rows come from the index, never from a scan of the table.
    assert "Index Scan using shop_order_user_created_idx" in plan
    assert "Index Cond: ((user_id = " in plan
    assert "Seq Scan" not in plan


def test_analyze_leaves_out_the_shipping_address_only():
    # Given orders, analysed
    OrderFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE shop_order")
        cursor.execute(
            "SELECT attname FROM pg_stats WHERE schemaname = 'public' "
            "AND tablename = 'shop_order' ORDER BY attname"
        )
        analysed = [row[0] for row in cursor.fetchall()]

    # Then every column has statistics but the display-only shipping address (migration 0013)
    assert analysed == [
        "created_at", "id", "status", "total_amount", "updated_at", "user_id", "version",
    ]  # fmt: skip
