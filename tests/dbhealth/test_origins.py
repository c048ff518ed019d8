"""Where each statement comes from: a request's statements carry its route and are counted
for it, exactly; a Celery task's (real worker) carry the task; the counts are linked to
pg_stat_statements query ids through the fingerprint in the comment."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dbhealth import origins, stats
from dbhealth.tasks import dbhealth_snapshot_task
from shop import cache as shop_cache
from shop.factories import ProductFactory
from tests.conftest import APP_ROLE, child_process_env, uncommented, wait_until

ROUTE = "route:api/v1/products/<int:pk>/"
COMMENT = re.compile(
    r"\n/\*fp='([0-9a-f]{16})',route='api/v1/products/<int:pk>/',view='([a-z:_-]+)'\*/$"
)


def resolve() -> int:
    with connection.cursor() as cursor:
        schema = stats.statements.readable_schema(stats.statements.extension(cursor))
        return origins.resolve_queryids(cursor, schema)


@pytest.mark.django_db
def test_a_requests_statements_carry_its_route_and_are_counted_exactly(client):
    product = ProductFactory()
    with connection.cursor() as cursor:  # every sample text from now on is one of ours
        cursor.execute("SELECT pg_stat_statements_reset()")

    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/api/v1/products/{product.pk}/").status_code == 200

    sent = [q["sql"] for q in captured.captured_queries]
    fingerprints = [COMMENT.search(sql).group(1) for sql in sent]  # every one carries it
    assert {COMMENT.search(sql).group(2) for sql in sent} == {"api:product"}
    statements = origins.statements_of(ROUTE)
    assert sum(s["executions"] for s in statements) == len(sent)
    assert sorted(s["fingerprint"] for s in statements) == sorted(set(fingerprints))
    assert all(s["queryid"] is None for s in statements)  # not linked before a resolve

    linked = resolve()

    statements = origins.statements_of(ROUTE)
    assert linked == len(statements)  # each one's comment is its query id's sample text
    by_queryid = origins.by_queryid()
    for s in statements:
        assert (ROUTE, s["executions"]) in by_queryid[s["queryid"]]
    assert resolve() == 0  # nothing new the second time
    summary = {o["origin"]: o for o in origins.summary()}
    assert summary[ROUTE] == {
        "origin": ROUTE,
        "executions": len(sent),
        "statements": len(statements),
        "resolved": len(statements),
    }


@pytest.mark.django_db
def test_the_queries_page_and_the_statement_page_show_origins(client, viewer_client):
    product = ProductFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_statements_reset()")
    client.get(f"/api/v1/products/{product.pk}/")
    resolve()
    [first, *_] = origins.statements_of(ROUTE)

    detail = viewer_client.get(f"/admin/dbhealth/queries/{first['queryid']}/")
    route_url = reverse("dbhealth:origin", args=[ROUTE])  # <int:pk> is %-encoded
    route_page = viewer_client.get(route_url)
    listing = viewer_client.get("/admin/dbhealth/queries/")

    assert (ROUTE, first["executions"]) in detail.context["origins"]
    assert route_url == "/admin/dbhealth/origins/route:api/v1/products/%3Cint:pk%3E/"
    assert f'href="{route_url}"'.encode() in detail.content
    assert [s["fingerprint"] for s in route_page.context["statements"]] == [
        s["fingerprint"] for s in origins.statements_of(ROUTE)
    ]
    assert f'href="/admin/dbhealth/queries/{first["queryid"]}/"'.encode() in route_page.content
    # One row per role: the request ran as the application login (tests/conftest.py).
    # One row per role: the request ran as the application login (tests/conftest.py).
    [row] = [
        s
        for s in listing.context["data"]["statements"]
        if s["queryid"] == first["queryid"] and s["role"] == APP_ROLE
    ]
    assert (ROUTE, first["executions"]) in row["origins"]
    assert viewer_client.get("/admin/dbhealth/origins/route:nowhere/").status_code == 404


@pytest.mark.django_db
def test_the_comment_never_holds_a_percent_sign_and_statements_still_run():
    origin = origins.Origin("route", "50%/it's <int:pk>/")
    assert origin.tags == "route='50_/it_s_<int:pk>/'"
    with origins.origin_context("command", "t%est"), connection.cursor() as cursor:
        cursor.execute("SELECT '100%'")  # no parameters: '%' is literal
        assert cursor.fetchone() == ("100%",)
        cursor.execute("SELECT %s || '%%'", ["5"])  # parameters: '%%' is a literal '%'
        assert cursor.fetchone() == ("5%",)
        cursor.execute("SELECT 1 -- a trailing line comment cannot swallow ours")
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT 2;")  # before the semicolon, where pg_stat_statements keeps it
        assert cursor.fetchone() == (2,)
    commented = origins.commented("SELECT 2;", origin, "0123456789abcdef")
    assert commented == "SELECT 2\n/*fp='0123456789abcdef',route='50_/it_s_<int:pk>/'*/;"
    assert uncommented(commented) == "SELECT 2;"  # what tests strip from captured SQL
    counted = origins.statements_of("command:t%est")
    assert sorted(s["executions"] for s in counted) == [1, 1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_a_celery_tasks_statements_are_attributed_to_the_task(celery_worker):
    task = "task:dbhealth.tasks.dbhealth_snapshot_task"
    with connection.cursor() as cursor:  # the INSERT's sample text will be the worker's
        cursor.execute("SELECT pg_stat_statements_reset()")

    def inserts() -> int:
        """executions of the snapshot INSERT counted for the task"""
        return sum(
            s["executions"]
            for s in origins.statements_of(task)
            if s["sql"].startswith('INSERT INTO "dbhealth_snapshot"')
        )

    for run in (1, 2):
        with transaction.atomic():
            transaction.on_commit(dbhealth_snapshot_task.delay)
        wait_until(lambda n=run: inserts() == n)

    assert inserts() == 2
    resolve()
    [insert] = [s for s in origins.statements_of(task) if s["sql"].startswith("INSERT")][:1]
    assert (task, 2) in origins.by_queryid()[insert["queryid"]]


@pytest.mark.django_db
def test_a_management_commands_statements_are_attributed_to_the_command():
    import subprocess
    import sys

    from django.conf import settings

    env = child_process_env()
    subprocess.run(
        [sys.executable, "manage.py", "showmigrations", "dbhealth"],
        env=env, cwd=settings.BASE_DIR, check=True, capture_output=True,
    )  # fmt: skip

    reads = [
        s
        for s in origins.statements_of("command:showmigrations")
        if s["sql"].startswith('SELECT "django_migrations"')
    ]
    # showmigrations reads django_migrations twice in one run: both counted, no more
    assert [s["executions"] for s in reads] == [2]


def redis_calls() -> tuple[int, int]:
    """HSETNX (an SQL text) and HINCRBY (a count) calls so far, as the Redis server counts them."""
    stats = origins._redis().info("commandstats")
    return tuple(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("hsetnx", "hincrby"))


@pytest.mark.django_db
def test_a_statements_sql_goes_to_redis_once_and_its_count_every_time(client):
    start = redis_calls()
    assert client.get("/healthz").status_code == 200  # the route's first run: new counters
    middle = redis_calls()
    assert client.get("/healthz").status_code == 200  # the same statements again
    end = redis_calls()

    statements = origins.statements_of("route:healthz")
    # The health check's one statement (config/views.py), run by each of the two requests.
    assert [(s["sql"], s["executions"]) for s in statements] == [("SELECT 1", 2)]
    assert (middle[0] - start[0], middle[1] - start[1]) == (1, 1)  # its SQL, its new counter
    assert (end[0] - middle[0], end[1] - middle[1]) == (0, 1)  # the count alone


@pytest.mark.django_db
def test_while_the_breaker_is_open_the_counts_are_dropped_unsent():
    # Given a Redis error a moment ago (the cache's breaker open)
    shop_cache.breaker.trip(ConnectionError("Redis stalled"))
    start = redis_calls()
    origin = origins.Origin(kind="command", name="breaker-open")
    origin.counts["0123456789abcdef"] = 3
    origin.templates["0123456789abcdef"] = "SELECT 1"

    # When the origin's counts are flushed
    origins.flush(origin)

    # Then nothing went to Redis, and the counts are gone (not kept to grow forever)
    assert redis_calls() == start
    assert origin.counts == {}
    assert origins.statements_of("command:breaker-open") == []


@pytest.mark.django_db
def test_a_redis_error_while_flushing_opens_the_breaker(private_redis):
    # Given a Redis that stops answering (the private server, stopped)
    origin = origins.Origin(kind="command", name="redis-gone")
    origin.counts["0123456789abcdef"] = 1
    origin.templates["0123456789abcdef"] = "SELECT 1"
    assert shop_cache.breaker.closed()
    private_redis.stop()

    # When the counts are flushed
    origins.flush(origin)

    # Then the work went on, the counts are dropped, and the breaker is open for what follows
    assert origin.counts == {}
    assert not shop_cache.breaker.closed()
