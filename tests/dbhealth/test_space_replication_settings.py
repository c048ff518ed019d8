"""Space, replication and settings panels, each checked against the server's own figures."""

import pytest
from django.db import connection

from tests.dbhealth.conftest import preloaded

pytestmark = pytest.mark.django_db

GB = 1024**3


def test_space_shows_heap_toast_and_index_sizes_largest_first(viewer_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.document (id int PRIMARY KEY, body text)")
    # 400 kB of incompressible text per row: it goes to TOAST
    conn.execute(
        f"INSERT INTO {schema}.document SELECT g, (SELECT string_agg(md5(g::text || i::text), '')"
        " FROM generate_series(1, 12500) i) FROM generate_series(1, 3) g"
    )
    expected = conn.execute(
        "SELECT pg_relation_size(c.oid), pg_total_relation_size(c.reltoastrelid),"
        " pg_indexes_size(c.oid), pg_total_relation_size(c.oid)"
        " FROM pg_class c WHERE c.oid = %s::regclass",
        [f"{schema}.document"],
    ).fetchone()

    data = viewer_client.get("/admin/dbhealth/space/").context["data"]

    [table] = [t for t in data["tables"] if t["relation"] == f"{schema}.document"]
    assert (
        table["heap_bytes"],
        table["toast_bytes"],
        table["index_bytes"],
        table["total_bytes"],
    ) == expected
    assert expected[1] > 1_000_000  # the bodies really are in TOAST
    assert data["tables"][0]["relation"] == f"{schema}.document"  # the largest, first
    totals = [t["total_bytes"] for t in data["tables"]]
    assert totals == sorted(totals, reverse=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        assert data["database"]["bytes"] == cursor.fetchone()[0]


def test_replication_reports_a_primary_and_an_inactive_slot(viewer_client, connect):
    slot = "dbhealth_test_slot"
    with connect() as admin:
        admin.execute("SELECT pg_create_physical_replication_slot(%s, true)", [slot])
    try:
        data = viewer_client.get("/admin/dbhealth/replication/").context["data"]
    finally:
        with connect() as admin:
            admin.execute("SELECT pg_drop_replication_slot(%s)", [slot])

    assert data["role"] == "primary"
    # make test streams one replica of this server (scripts/replica.py), over its own slot.
    assert [r["application_name"] for r in data["replicas"]] == ["pgshop_replica1"]
    assert [r["state"] for r in data["replicas"]] == ["streaming"]
    [found] = [s for s in data["slots"] if s["slot_name"] == slot]
    assert (found["slot_type"], found["active"], found["database"]) == ("physical", False, None)
    assert found["retained_bytes"] is not None  # reserved at creation: it holds WAL already
    checks = {c.name: (c.status, c.summary) for c in data["checks"]}
    assert checks["Inactive replication slots"] == (
        "warning",
        "1 slot(s) with no reader, keeping WAL on disk",
    )
    assert checks["Replication lag"][0] == "ok"


def test_settings_are_the_servers_with_recommendations_for_its_memory(
    viewer_client, dbhealth_settings
):
    dbhealth_settings(SERVER_MEMORY=8 * GB)

    data = viewer_client.get("/admin/dbhealth/settings/").context["data"]

    items = {i["name"]: i for i in data["items"]}
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections'), current_setting('autovacuum')")
        max_connections, autovacuum = cursor.fetchone()
    assert items["max_connections"]["value"] == max_connections
    assert items["autovacuum"]["value"] == autovacuum
    assert items["autovacuum"]["status"] == ("ok" if autovacuum == "on" else "critical")
    assert (data["memory"], data["memory_source"]) == (8 * GB, 'DBHEALTH["SERVER_MEMORY"]')
    assert items["shared_buffers"]["recommendation"] == "about 2 GB"
    assert items["effective_cache_size"]["recommendation"] == "about 6 GB"
    assert items["maintenance_work_mem"]["recommendation"] == "about 512 MB"
    # (8 GB - 2 GB shared_buffers) / (max_connections x 3 sorts), 4 MB at least
    work_mem = max(4 * 1024**2, (6 * GB) // (int(max_connections) * 3))
    assert items["work_mem"]["recommendation"] == f"about {work_mem / 1024**2:.1f} MB"
    assert items["shared_preload_libraries"]["status"] == ("ok" if preloaded() else "warning")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_settings_without_known_memory_say_how_to_give_it(viewer_client, settings):
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {**settings.DATABASES["default"], "HOST": "db.internal"},
    }

    data = viewer_client.get("/admin/dbhealth/settings/").context["data"]

    assert data["memory"] is None
    assert data["memory_source"] == (
        'set DBHEALTH["SERVER_MEMORY"] (bytes) for memory recommendations'
    )
    items = {i["name"]: i for i in data["items"]}
    assert items["shared_buffers"]["recommendation"] == "needs the server's memory"
