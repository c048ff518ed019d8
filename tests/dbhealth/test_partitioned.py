"""A partitioned table (the audit event tables, audit/partitions.py) is reported once: its
partitions' sizes, rows, scans, vacuum state and index use are summed under it, and no partition
appears as a table or index of its own (dbhealth/stats/)."""

import pytest
from django.db import connection

from audit.partitions import event_tables, partitions
from dbhealth.stats import indexes, maintenance, space
from shop.factories import CategoryFactory

pytestmark = pytest.mark.django_db

TABLES = event_tables()


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def partition_names() -> set[str]:
    return {p.name for found in partitions().values() for p in found}


def test_space_lists_a_partitioned_table_once_with_its_partitions_summed():
    CategoryFactory()
    CategoryFactory()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_categoryevent__legacy")  # reltuples: 2
        tables = space.tables(cursor, 10_000)
        index_rows = space.indexes(cursor, 10_000)

    listed = [row["relation"] for row in tables]
    assert partition_names().isdisjoint(listed)
    assert sorted(name for name in listed if name in TABLES) == sorted(TABLES)
    category = next(row for row in tables if row["relation"] == "audit_categoryevent")
    ((total, heap, index_bytes),) = fetch(
        "SELECT sum(pg_total_relation_size(relid)), sum(pg_relation_size(relid)),"
        " sum(pg_indexes_size(relid)) FROM pg_partition_tree('audit_categoryevent')"
    )
    assert (category["kind"], category["estimated_rows"]) == ("p", 2)
    assert (category["total_bytes"], category["heap_bytes"], category["index_bytes"]) == (
        total,
        heap,
        index_bytes,
    )
    assert heap > 0  # the legacy partition's pages, not the empty parent's
    index_names = {row["name"] for row in index_rows}
    assert "audit_category_time_idx" in index_names
    assert not [name for name in index_names if "__" in name and name.startswith("audit_")]
    time_idx = next(row for row in index_rows if row["name"] == "audit_category_time_idx")
    assert (
        time_idx["bytes"]
        == fetch(
            "SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('audit_category_time_idx')"
        )[0][0]
    )


def test_counters_and_maintenance_are_summed_under_the_partitioned_table():
    with connection.cursor() as cursor:
        counters = space.table_counters(cursor)
        index_counters = space.index_counters(cursor)
        vacuum = maintenance.tables(cursor)
        seq = indexes.seq_scan_tables(cursor, 0, 1.01)

    for rows, key in ((counters, "table"), (index_counters, "table")):
        names = [row[key] for row in rows]
        assert names.count("public.audit_orderevent") == (1 if rows is counters else 5)
        assert not [name for name in names if "__" in name]
    assert [row["index"] for row in index_counters if row["table"] == "public.audit_orderevent"]
    assert sorted(
        row["index"] for row in index_counters if row["table"] == "public.audit_orderevent"
    ) == [
        "public.audit_order_del_idx",
        "public.audit_order_obj_idx",
        "public.audit_order_time_idx",
        "public.audit_order_user_idx",
        "public.audit_orderevent_pkey",
    ]
    assert [row["relation"] for row in vacuum].count("audit_orderevent") == 1
    assert partition_names().isdisjoint(row["relation"] for row in vacuum)
    assert partition_names().isdisjoint(row["relation"] for row in seq)


def test_an_unused_partitioned_index_is_one_finding_whatever_its_partitions():
    with connection.cursor() as cursor:
        # Never scanned: one index on the event table, one on each of its partitions.
        cursor.execute(
            "CREATE INDEX audit_category_probe_idx ON audit_categoryevent (pgh_context_id)"
        )
        found = [row for row in indexes.unused(cursor, 0) if "probe" in row["index_name"]]
        (parts,) = fetch(
            "SELECT count(*) FROM pg_partition_tree('audit_category_probe_idx') WHERE isleaf"
        )[0]

    assert parts == len(partitions()["audit_categoryevent"]) == 3
    assert [(row["index_name"], row["relation"], row["idx_scan"]) for row in found] == [
        ("audit_category_probe_idx", "audit_categoryevent", 0)
    ]
    assert found[0]["bytes"] == 3 * 8192  # each partition's empty B-tree: its metapage
