"""The dashboard's cancel, behind a transaction pooler: the backend staff confirmed serves
the next client's statement by the time they click. The signal goes to PostgreSQL directly
(DATABASE_DIRECT_URL) and only while that backend is still on the confirmed statement."""

import threading
import time

import psycopg
import pytest
from django.contrib.admin.models import LogEntry

from tests.conftest import APP_PASSWORD, APP_ROLE

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/activity/"


def shopper(pooled) -> psycopg.Connection:
    return pooled(user=APP_ROLE, password=APP_PASSWORD)


def sleeping(conn: psycopg.Connection) -> tuple[threading.Thread, list]:
    outcome: list = []

    def target():
        try:
            conn.execute("SELECT pg_sleep(30)")
            outcome.append("done")
        except psycopg.Error as error:
            outcome.append(type(error).__name__)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def running_since(watcher: psycopg.Connection, pid: int, after=None):
    """query_start of backend `pid` once it runs pg_sleep (a statement newer than `after`);
    polled, bounded at 5 s."""
    for _ in range(100):
        watcher.execute("SELECT pg_stat_clear_snapshot()")
        row = watcher.execute(
            "SELECT query_start FROM pg_stat_activity WHERE pid = %s AND state = 'active' "
            "AND wait_event = 'PgSleep'",
            [pid],
        ).fetchone()
        if row and (after is None or row[0] > after):
            return row[0]
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} never ran pg_sleep")


def test_a_stale_cancel_never_hits_the_next_clients_statement(staff_client, pooled, connect_direct):
    # Shoppers' backends, as in production: the dashboard's staff login may signal those.
    first, second, watcher = shopper(pooled), shopper(pooled), connect_direct()
    (pid,) = first.execute("SELECT pg_backend_pid()").fetchone()
    first_thread, first_outcome = sleeping(first)
    second_thread = None
    try:
        shown = running_since(watcher, pid)
        confirm = staff_client.get(f"{PAGE}{pid}/cancel/")
        first.cancel_safe()  # the first client's statement ends on its own (here: cancelled)
        first_thread.join(10)
        second_thread, second_outcome = sleeping(second)  # the next client, same backend
        now = running_since(watcher, pid, after=shown)

        stale = staff_client.post(f"{PAGE}{pid}/cancel/", {"query_start": shown.isoformat()})
        still = watcher.execute(
            "SELECT query_start FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        after_stale = list(second_outcome)
        fresh = staff_client.post(f"{PAGE}{pid}/cancel/", {"query_start": now.isoformat()})
        second_thread.join(10)
    finally:
        for conn in (first, second):
            conn.cancel_safe()
        first_thread.join(10)
        if second_thread:
            second_thread.join(10)

    assert confirm.context["session"]["query_start"] == shown
    assert first_outcome == ["QueryCanceled"]
    assert (stale.status_code, after_stale, still) == (302, [], (now,))
    assert (fresh.status_code, second_outcome) == (302, ["QueryCanceled"])
    [entry] = LogEntry.objects.all()  # the fresh one only
    assert entry.change_message == (
        f"Cancelled the running statement of backend {pid}: SELECT pg_sleep(30)"
    )


def test_a_post_without_the_confirmed_statement_signals_nothing(
    staff_client, pooled, connect_direct
):
    sleeper, watcher = shopper(pooled), connect_direct()
    (pid,) = sleeper.execute("SELECT pg_backend_pid()").fetchone()
    thread, outcome = sleeping(sleeper)
    try:
        running_since(watcher, pid)
        response = staff_client.post(f"{PAGE}{pid}/terminate/")
        after = list(outcome)
    finally:
        sleeper.cancel_safe()
        thread.join(10)

    assert (response.status_code, after) == (302, [])
    assert LogEntry.objects.count() == 0
