"""The overview: one line per check of every panel, and no figure broken by an empty database
(every ratio goes through NULLIF), proven on a database created empty for the test."""

import psycopg
import pytest
from django.db import connection

from dbhealth.conf import config
from dbhealth.panels import SQL_PANELS, indexes, maintenance, overview, queries, space
from tests.dbhealth.conftest import preloaded

pytestmark = pytest.mark.django_db

CHECKS = [
    "Connections",
    "Table cache hit ratio",
    "Index cache hit ratio",
    "Slow statements",
    "Long-running statements",
    "Idle in transaction",
    "Lock waits",
    "Unused indexes",
    "Redundant indexes",
    "Invalid indexes",
    "Foreign keys without an index",
    "Sequential scans",
    "Dead rows",
    "Bloat",
    "Transaction-id wraparound",
    "Sequences",
    "Constraints not validated",
    "Replication lag",
    "Replicas the application reads",
    "Inactive replication slots",
    "Server settings",
    "Connection pool",
    "Redis",
    "Celery queues",
    "Celery workers",
    "Celery beat",
]


def test_the_overview_lists_every_check_worst_first(viewer_client, django_assert_num_queries):
    # + 3: the snapshots of the small charts (tests/dbhealth/test_charts.py), the newest
    # snapshot for Celery beat's last run (tests/dbhealth/test_beat.py), and the servers the
    # application reads, their positions and lags (one query).
    with django_assert_num_queries(44 if preloaded() else 42):
        response = viewer_client.get("/admin/dbhealth/")

    checks = response.context["checks"]
    assert sorted(c.name for c in checks) == sorted(CHECKS)
    ranks = [{"critical": 0, "warning": 1, "ok": 2}[c.status] for c in checks]
    assert ranks == sorted(ranks)
    assert response.context["counts"] == {
        status: sum(1 for c in checks if c.status == status)
        for status in ("ok", "warning", "critical")
    }


def test_the_overview_figures_are_the_servers(viewer_client):
    data = viewer_client.get("/admin/dbhealth/").context["data"]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('max_connections')::int,"
            " pg_postmaster_start_time()"
        )
        version, max_connections, started_at = cursor.fetchone()
    assert data["server"]["version"] == version
    assert data["server"]["max_connections"] == max_connections
    assert data["server"]["started_at"] == started_at


def test_a_fresh_empty_database_breaks_no_figure(connect, empty_database):
    # Every panel's SQL, on a database that has never been read from, in a transaction
    # rolled back afterwards.
    with connect(dbname=empty_database, autocommit=False) as conn:
        conn.execute("SELECT pg_stat_reset()")  # no counters at all
        conn.commit()
        with conn.transaction(force_rollback=True), conn.cursor() as cursor:
            settings = config()
            results = {panel.TITLE: panel.collect(cursor, settings) for panel in SQL_PANELS}

    assert results[overview.TITLE]["cache"] == {"tables": None, "indexes": None}
    cache_checks = [c for c in results[overview.TITLE]["checks"] if "cache" in c.name]
    assert [(c.status, c.summary) for c in cache_checks] == [
        ("ok", "no reads yet of table block reads from memory (healthy at 99% or more)"),
        ("ok", "no reads yet of index block reads from memory (healthy at 99% or more)"),
    ]
    assert results[queries.TITLE]["statements"] == []
    assert results[queries.TITLE]["state"]["installed"] is False
    assert results[space.TITLE]["tables"] == []
    found = results[indexes.TITLE]
    assert [found[k] for k in ("unused", "redundant", "invalid", "fk_without_index")] == [[]] * 4
    assert results[maintenance.TITLE]["tables"] == []
    assert results[maintenance.TITLE]["table_bloat"] == []
    assert results[maintenance.TITLE]["index_bloat"] == []
    assert results[maintenance.TITLE]["sequences"] == []


def test_every_panel_runs_for_a_role_with_only_pg_monitor(connect, monitor_role, viewer_client):
    viewer_client.get("/admin/dbhealth/")  # so that another role's statement is running/recent
    with connect(autocommit=False, **monitor_role) as conn:
        (is_superuser,) = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        monitor_pid = conn.info.backend_pid
        with conn.transaction(force_rollback=True), conn.cursor() as cursor:
            settings = config()
            results = {panel.TITLE: panel.collect(cursor, settings) for panel in SQL_PANELS}
        with connection.cursor() as cursor:  # the owner's view of the same moment
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_type = 'client backend'"
            )
            owners_view = {pid for (pid,) in cursor.fetchall()}

    assert is_superuser is False
    assert len(results) == len(SQL_PANELS)
    sessions = results["Activity"]["sessions"]
    # Every session the owner sees, the suite's own connections run by another role among them,
    # less the monitor's own (the activity panel leaves out the session reading it) ...
    assert {s["pid"] for s in sessions} == owners_view - {monitor_pid}
    assert "<insufficient privilege>" not in [s["query"] for s in sessions]  # ... and readable
    statements = results["Queries"]["statements"]
    assert "<insufficient privilege>" not in [s["query"] for s in statements]
    with pytest.raises(psycopg.errors.InsufficientPrivilege), connect(**monitor_role) as conn:
        conn.execute("SELECT count(*) FROM shop_product")  # pg_monitor reads no table
