"""The dashboard's Pooler page and the Activity page's marks, read from the run's PgBouncer:
a client queued behind another's open transaction on the one-server-connection entry."""

import threading

import pytest

from scripts.stack import POOL1_ENTRY
from tests.conftest import wait_until

from .conftest import pool1

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_console(settings, bouncer_port):
    settings.PGBOUNCER_ADMIN_URL = f"postgres://postgres@127.0.0.1:{bouncer_port}/pgbouncer"


def test_the_pooler_page_shows_a_queued_client_and_the_poolers_backend(
    staff_client, pooled, console, with_console
):
    holder, queued = pooled(autocommit=False), pooled()
    (pid,) = holder.execute("SELECT pg_backend_pid()").fetchone()  # opens its transaction
    thread = threading.Thread(target=lambda: queued.execute("SELECT 1"))
    thread.start()
    try:
        wait_until(lambda: pool1(console)["cl_waiting"] == 1, timeout=10)
        pooler_page = staff_client.get("/admin/dbhealth/pooler/")
        activity_page = staff_client.get("/admin/dbhealth/activity/")
    finally:
        holder.rollback()
        thread.join(10)

    data = pooler_page.context["data"]
    [row] = [p for p in data["pools"] if (p["database"], p["user"]) == (POOL1_ENTRY, "postgres")]
    assert row["pool_mode"] == "transaction"
    assert (row["cl_active"], row["cl_waiting"], row["sv_active"], row["sv_idle"]) == (1, 1, 1, 0)
    assert pid in {b["pid"] for b in data["backends"]}
    [mine] = [b for b in data["backends"] if b["pid"] == pid]
    assert (mine["role"], mine["state"]) == ("postgres", "idle in transaction")
    checks = {c.name: (c.status, c.summary.split(",")[0]) for c in data["checks"]}
    assert checks["Clients waiting for a server connection"] == ("warning", "1 waiting")
    assert POOL1_ENTRY in {t["database"] for t in data["totals"]}
    assert pid in activity_page.context["data"]["pooler_pids"]
    assert b"PgBouncer's server connection" in activity_page.content


def test_without_a_pooler_the_page_says_so(staff_client, settings):
    settings.PGBOUNCER_ADMIN_URL = ""

    response = staff_client.get("/admin/dbhealth/pooler/")

    assert response.context["data"]["configured"] is False
    assert [(c.status, c.summary) for c in response.context["data"]["checks"]] == [
        ("ok", "no pooler configured (PGBOUNCER_ADMIN_URL): the application connects directly")
    ]
    assert response.context["data"].get("pools") is None


def test_an_unreachable_console_is_critical_not_an_error_page(staff_client, settings):
    settings.PGBOUNCER_ADMIN_URL = "postgres://postgres@127.0.0.1:1/pgbouncer"

    response = staff_client.get("/admin/dbhealth/pooler/")
    activity = staff_client.get("/admin/dbhealth/activity/")

    [check] = response.context["data"]["checks"]
    assert (response.status_code, check.status) == (200, "critical")
    assert check.summary.startswith("PgBouncer's console did not answer: ")
    assert (activity.status_code, activity.context["data"]["pooler_pids"]) == (200, set())
