"""Live activity: a long-running statement and a lock wait made real in other connections,
reported exactly, and a superuser's confirmed cancel recorded in the admin log."""

import threading
import time

import psycopg
import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from tests.conftest import APP_PASSWORD, APP_ROLE

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/activity/"


def wait_for(connect, pid: int, **expected) -> None:
    """Poll pg_stat_activity (bounded: 5 s) until backend `pid` shows the expected columns."""
    with connect() as watcher:
        for _ in range(100):
            row = watcher.execute(
                "SELECT state, wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row and dict(zip(("state", "wait_event_type"), row, strict=True)) == expected:
                return
            watcher.execute("SELECT pg_stat_clear_snapshot()")
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} never reached {expected}")


def run_in_thread(conn, statement: str) -> tuple[threading.Thread, list]:
    outcome: list = []

    def target():
        try:
            conn.execute(statement)
            outcome.append("done")
        except psycopg.Error as error:
            outcome.append(type(error).__name__)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_a_long_running_statement_is_reported_and_cancelled(
    superuser_client, superuser, connect, dbhealth_settings
):
    dbhealth_settings(LONG_RUNNING_SEC=0)
    # A shopper-facing session, as in production: the dashboard runs as the staff login, which
    # (no superuser) may signal the application's backends but not a superuser's.
    sleeper = connect(application_name="dbhealth-sleeper", user=APP_ROLE, password=APP_PASSWORD)
    pid = sleeper.info.backend_pid
    thread, outcome = run_in_thread(sleeper, "SELECT pg_sleep(30)")
    try:
        wait_for(connect, pid, state="active", wait_event_type="Timeout")

        data = superuser_client.get(PAGE).context["data"]
        confirm = superuser_client.get(f"{PAGE}{pid}/cancel/")
        shown = confirm.context["session"]["query_start"].isoformat()
        response = superuser_client.post(f"{PAGE}{pid}/cancel/", {"query_start": shown})
        thread.join(10)
    finally:
        sleeper.cancel_safe()
        thread.join(10)
        sleeper.close()

    [long] = data["long_running"]
    assert (long["pid"], long["query"], long["application_name"]) == (
        pid,
        "SELECT pg_sleep(30)",
        "dbhealth-sleeper",
    )
    assert (long["state"], long["wait_event_type"], long["wait_event"]) == (
        "active",
        "Timeout",
        "PgSleep",
    )
    assert confirm.status_code == 200
    assert b"Yes, cancel the statement" in confirm.content
    assert response.status_code == 302
    assert outcome == ["QueryCanceled"]
    [entry] = LogEntry.objects.all()
    assert (entry.user_id, entry.object_id, entry.action_flag) == (
        superuser.pk,
        str(pid),
        CHANGE,
    )
    assert entry.change_message == (
        f"Cancelled the running statement of backend {pid}: SELECT pg_sleep(30)"
    )


def test_a_confirmation_page_alone_cancels_nothing(superuser_client, connect):
    sleeper = connect(application_name="dbhealth-sleeper")
    thread, outcome = run_in_thread(sleeper, "SELECT pg_sleep(30)")
    try:
        wait_for(connect, sleeper.info.backend_pid, state="active", wait_event_type="Timeout")

        response = superuser_client.get(f"{PAGE}{sleeper.info.backend_pid}/terminate/")

        assert response.status_code == 200
        assert outcome == []  # still sleeping
        assert LogEntry.objects.count() == 0
    finally:
        sleeper.cancel_safe()
        thread.join(10)
        sleeper.close()


def test_a_lock_wait_shows_who_blocks_whom(viewer_client, scratch, connect, dbhealth_settings):
    dbhealth_settings(IDLE_IN_TRANSACTION_SEC=0)
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.seat (id int PRIMARY KEY, taken bool)")
    conn.execute(f"INSERT INTO {schema}.seat VALUES (1, false)")
    holder = connect(autocommit=False, application_name="dbhealth-holder")
    waiter = connect(application_name="dbhealth-waiter")
    holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
    holder.execute(f"SELECT * FROM {schema}.seat WHERE id = 1 FOR UPDATE")
    thread, outcome = run_in_thread(waiter, f"UPDATE {schema}.seat SET taken = true WHERE id = 1")
    try:
        wait_for(connect, waiter_pid, state="active", wait_event_type="Lock")

        data = viewer_client.get(PAGE).context["data"]
    finally:
        holder.rollback()
        thread.join(10)
        holder.close()
        waiter.close()

    assert [(n["depth"], n["session"]["pid"], n["blocks"]) for n in data["lock_tree"]] == [
        (0, holder_pid, 1),
        (1, waiter_pid, 0),
    ]
    assert [s["pid"] for s in data["waiting"]] == [waiter_pid]
    assert data["waiting"][0]["blocked_by"] == [holder_pid]
    assert [s["pid"] for s in data["idle_in_transaction"]] == [holder_pid]
    assert outcome == ["done"]
    checks = {c.name: (c.status, c.summary) for c in data["checks"]}
    assert checks["Lock waits"] == ("warning", "1 session(s) waiting for a lock held by another")


def test_the_activity_page_query_budget(viewer_client, django_assert_num_queries):
    with django_assert_num_queries(11):
        assert viewer_client.get(PAGE).status_code == 200
