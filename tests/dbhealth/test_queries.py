"""The queries panel: a slow statement made real is reported as slow; where the extension is
missing (or, on a server that does not preload it, not loaded) the page says how to enable it."""

import uuid

import pytest
from django.db import connection

from dbhealth import stats
from tests.dbhealth.conftest import preloaded

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/queries/"

PRELOAD_STEP = (
    "Preload the library, which needs a server restart: in postgresql.conf set "
    "shared_preload_libraries = 'pg_stat_statements' (keep any libraries already listed "
    "there, comma-separated), or run ALTER SYSTEM SET shared_preload_libraries = "
    "'pg_stat_statements'; then restart PostgreSQL."
)
CREATE_STEP = (
    "Create the extension in this database as a superuser: CREATE EXTENSION "
    "pg_stat_statements; (or run `manage.py migrate dbhealth`, whose migration creates it when "
    "the role may)."
)
GRANT_STEP = (
    "Let the dashboard's role read every role's statements: GRANT pg_monitor TO <the "
    "application's role>;"
)


def test_a_slow_statement_is_reported(viewer_client, connect, dbhealth_settings):
    dbhealth_settings(SLOW_QUERY_MS=20, SLOW_QUERY_CALLS=3)
    probe = f"probe_{uuid.uuid4().hex}"  # a statement of its own in pg_stat_statements
    with connect() as conn:
        for _ in range(3):
            conn.execute(f"SELECT pg_sleep(0.025) AS {probe}")

    response = viewer_client.get(PAGE, {"order": "mean", "slow": "1"})

    data = response.context["data"]
    if not preloaded():  # a system PostgreSQL without the library: the page says what to do
        assert data["enable_steps"] == [PRELOAD_STEP, GRANT_STEP]
        assert b"shared_preload_libraries" in response.content
        return
    [found] = [s for s in data["statements"] if probe in s["query"]]
    assert found["query"] == f"SELECT pg_sleep($1) AS {probe}"
    assert (found["calls"], found["rows"], found["slow"]) == (3, 3, True)
    assert found["hit_ratio"] is None  # pg_sleep reads no block: no division by zero
    [check] = data["checks"]
    assert check.name == "Slow statements"
    assert check.status == "warning"
    detail = viewer_client.get(f"{PAGE}{found['queryid']}/")
    assert detail.status_code == 200
    assert detail.context["statement"]["calls"] == 3
    assert f"SELECT pg_sleep($1) AS {probe}".encode() in detail.content


def test_without_the_extension_the_page_says_how_to_enable_it(viewer_client):
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_stat_statements")  # rolled back after

    response = viewer_client.get(PAGE)

    assert response.status_code == 200
    expected = [CREATE_STEP, GRANT_STEP] if preloaded() else [PRELOAD_STEP, CREATE_STEP, GRANT_STEP]
    assert response.context["data"]["enable_steps"] == expected
    assert b'id="enable-steps"' in response.content
    [check] = response.context["data"]["checks"]
    assert (check.status, check.summary) == (
        "warning",
        "pg_stat_statements is not available: see the queries page for how to enable it",
    )


def test_the_embedded_server_preloads_the_library_and_the_migration_created_it(settings):
    with connection.cursor() as cursor:
        state = stats.statements.extension(cursor)

    assert state["installed"] is True  # dbhealth.0002 created it (the suite's role may)
    assert state["available"] is True
    assert state["preloaded"] is preloaded()


def test_an_unknown_query_id_is_not_found(viewer_client):
    assert viewer_client.get(f"{PAGE}-42/").status_code == 404


def test_an_unknown_order_falls_back_to_total_time(viewer_client):
    response = viewer_client.get(PAGE, {"order": "DROP TABLE shop_product"})

    assert response.status_code == 200
    assert response.context["order"] == "total"


def test_the_queries_page_query_budget(viewer_client, django_assert_num_queries):
    with django_assert_num_queries(13 if preloaded() else 11):
        assert viewer_client.get(PAGE).status_code == 200
