"""The maintenance panel: dead rows, bloat, sequences near their limit and unvalidated
constraints, each made real on committed tables, and wraparound age read exactly."""

import pytest
from django.db import connection

from tests.dbhealth.conftest import flush_statistics

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/maintenance/"


def data(client):
    return client.get(PAGE).context["data"]


def test_dead_rows_after_updates_are_reported(viewer_client, scratch, dbhealth_settings):
    dbhealth_settings(DEAD_TUPLES_MIN=10)
    conn, schema = scratch
    # Autovacuum off: it must not clean up between the update and the look.
    conn.execute(f"CREATE TABLE {schema}.stock (id int, n int) WITH (autovacuum_enabled = off)")
    conn.execute(f"INSERT INTO {schema}.stock SELECT g, 0 FROM generate_series(1, 50) g")
    conn.execute(f"UPDATE {schema}.stock SET n = n + 1")
    flush_statistics(conn)

    result = data(viewer_client)

    [table] = [t for t in result["tables"] if t["relation"] == f"{schema}.stock"]
    assert (table["n_live_tup"], table["n_dead_tup"], table["dead_ratio"]) == (50, 50, 0.5)
    assert table["status"] == "critical"
    assert f"{schema}.stock" in [t["relation"] for t in result["dead"]]
    [check] = [c for c in result["checks"] if c.name == "Dead rows"]
    assert check.status == "critical"


def test_table_bloat_estimate_matches_the_packed_size(viewer_client, scratch, dbhealth_settings):
    dbhealth_settings(BLOAT_MIN_BYTES=0)
    conn, schema = scratch
    # Given 2,000 rows of which 1,900 are deleted and never vacuumed away
    conn.execute(f"CREATE TABLE {schema}.note (id int, body text) WITH (autovacuum_enabled = off)")
    conn.execute(
        f"INSERT INTO {schema}.note SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g"
    )
    conn.execute(f"DELETE FROM {schema}.note WHERE id > 100")
    conn.execute(f"ANALYZE {schema}.note")
    # ... and the same 100 rows packed in a fresh table: the size they really need
    conn.execute(f"CREATE TABLE {schema}.packed AS SELECT * FROM {schema}.note")
    conn.execute(f"ANALYZE {schema}.packed")
    pages = dict(
        conn.execute(
            "SELECT relname, relpages FROM pg_class WHERE relnamespace = %s::regnamespace",
            [schema],
        ).fetchall()
    )

    result = data(viewer_client)

    [note] = [b for b in result["table_bloat"] if b["relation"] == f"{schema}.note"]
    assert note["pages"] == pages["note"] == 35
    assert note["expected_pages"] == pages["packed"] == 2
    assert note["wasted_bytes"] == (35 - 2) * 8192
    assert note["status"] == "critical"


def test_a_sequence_feeding_an_integer_column_is_near_its_limit(viewer_client, scratch):
    conn, schema = scratch
    # A bigint sequence behind an integer column overflows at the column's 2,147,483,647.
    conn.execute(f"CREATE TABLE {schema}.ticket (id integer)")
    conn.execute(f"CREATE SEQUENCE {schema}.ticket_id_seq AS bigint OWNED BY {schema}.ticket.id")
    conn.execute("SELECT setval(%s, 2000000000)", [f"{schema}.ticket_id_seq"])
    conn.execute(f"CREATE SEQUENCE {schema}.small_seq MAXVALUE 100")
    conn.execute("SELECT setval(%s, 80)", [f"{schema}.small_seq"])

    result = data(viewer_client)

    found = {s["sequence"]: s for s in result["sequences"] if s["sequence"].startswith(schema)}
    ticket = found[f"{schema}.ticket_id_seq"]
    assert (ticket["max_value"], ticket["limit_value"], ticket["column_type"]) == (
        9223372036854775807,
        2147483647,
        "integer",
    )
    assert ticket["used"] == 2000000000 / 2147483647
    assert ticket["status"] == "critical"
    assert (found[f"{schema}.small_seq"]["used"], found[f"{schema}.small_seq"]["status"]) == (
        0.8,
        "warning",
    )


def test_a_constraint_added_not_valid_is_listed(viewer_client):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE shop_product ADD CONSTRAINT dbhealth_name_not_empty"
            " CHECK (name <> '') NOT VALID"
        )

    result = data(viewer_client)

    assert result["unvalidated"] == [
        {
            "relation": "shop_product",
            "constraint_name": "dbhealth_name_not_empty",
            "kind": "CHECK",
            "definition": "CHECK (((name)::text <> ''::text)) NOT VALID",
        }
    ]
    [check] = [c for c in result["checks"] if c.name == "Constraints not validated"]
    assert check.status == "warning"


def test_wraparound_age_is_the_databases_own(viewer_client):
    result = data(viewer_client)

    with connection.cursor() as cursor:
        cursor.execute("SELECT datname, age(datfrozenxid) FROM pg_database ORDER BY 2 DESC, 1")
        expected = cursor.fetchall()
    assert [(d["database"], d["xid_age"]) for d in result["databases"]] == expected
    [check] = [c for c in result["checks"] if c.name == "Transaction-id wraparound"]
    assert check.status == "ok"
