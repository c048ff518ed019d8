"""The audit_log view: every event table in it, and every filter served by an index.

Plans are read with sequential scans (and, but for the user filter, bitmap scans) switched off,
as in tests/shop/test_indexes.py: on a few rows the planner would rightly prefer them, and the
question here is which index *can* serve the query, in order, without a sort.
"""

import re

import pytest
from django.db import connection

from audit.models import EVENT_MODELS, OrderEvent, ProductEvent
from audit.partitions import partitions
from shop.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db

LOG_PAGE = "SELECT * FROM audit_log {where} ORDER BY pgh_created_at DESC, pgh_id DESC LIMIT 100"


def explain(sql: str, params=()) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_view_lists_every_event_table_once():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.view_table_usage "
            "WHERE view_name = 'audit_log' ORDER BY 1"
        )
        in_view = [row[0] for row in cursor.fetchall()]

    assert in_view == sorted(m._meta.db_table for m in EVENT_MODELS)


def test_the_view_names_each_table_by_its_tracked_model():
    OrderFactory(lines=[(ProductFactory(), 1)])

    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT object_model FROM audit_log ORDER BY 1")
        models = [row[0] for row in cursor.fetchall()]

    assert models == ["shop.category", "shop.order", "shop.orderitem", "shop.product", "shop.user"]


SCAN = re.compile(r"Index Scan (?:Backward )?using (\S+) on (\S+)")


def scans(plan: str) -> dict[str, str]:
    """{partition scanned: the event table's index its scan belongs to}. Each event table is
    partitioned by month (audit/partitions.py): a partition's index is a part of the table's."""
    found = {table: index for index, table in SCAN.findall(plan)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i, pg_partition_root(i::regclass)::text FROM unnest(%s::text[]) i",
            [list(found.values())],
        )
        roots = dict(cursor.fetchall())
    return {table: roots[index] for table, index in found.items()}


def every_partition(suffix: str, models=EVENT_MODELS) -> dict[str, str]:
    """Every partition of `models`' tables, scanned through the table's index `<short>suffix`."""
    expected = {}
    for model in models:
        short = model._meta.indexes[0].name.removesuffix("_obj_idx")
        for partition in partitions()[model._meta.db_table]:
            expected[partition.name] = f"{short}{suffix}"
    return expected


def test_an_unfiltered_page_merges_every_tables_time_index():
    plan = explain(LOG_PAGE.format(where=""))

    assert "Merge Append" in plan
    assert "Sort" not in plan.replace("Sort Key", "")
    assert scans(plan) == every_partition("_time_idx")


def test_the_model_filter_reads_only_that_table():
    plan = explain(LOG_PAGE.format(where="WHERE object_model = 'shop.order'"))

    assert scans(plan) == every_partition("_time_idx", [OrderEvent])
    assert "Sort" not in plan.replace("Sort Key", "")


def test_a_date_range_is_an_index_condition():
    plan = explain(
        LOG_PAGE.format(where="WHERE pgh_created_at >= now() - interval '7 days'"),
    )

    assert "Index Cond: (pgh_created_at >= (now() - '7 days'::interval))" in plan
    assert "Sort" not in plan.replace("Sort Key", "")


def test_the_user_filter_uses_the_user_indexes():
    plan = explain(LOG_PAGE.format(where="WHERE pgh_user_id = 42"))

    assert scans(plan) == every_partition("_user_idx")
    assert "Sort" not in plan.replace("Sort Key", "")


def test_the_delete_filter_uses_the_partial_delete_indexes():
    plan = explain(LOG_PAGE.format(where="WHERE pgh_label = 'delete'"))

    assert scans(plan) == every_partition("_del_idx")


def test_an_objects_history_uses_its_obj_index():
    plan = explain(
        "SELECT * FROM audit_productevent WHERE pgh_obj_id = 1 ORDER BY pgh_id DESC LIMIT 51"
    )

    # One probe of each month's part of the obj index, merged newest first: no sort.
    assert scans(plan) == every_partition("_obj_idx", [ProductEvent])
    assert "Sort" not in plan.replace("Sort Key", "")
