"""The dashboard's Replication page shows the primary and the suite's replica, each asked
directly: role, position, lag behind the primary by LSN, replay state, recovery conflicts."""

import pytest

from core import routing
from shop.factories import ProductFactory
from tests.conftest import wait_until
from tests.replicas.conftest import primary_lsn

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica1"])


def test_the_replication_page_shows_each_server_and_a_paused_replicas_lag(replica, staff_client):
    replica.pause()
    ProductFactory.create_batch(3)  # WAL the paused replica receives and does not replay
    target = primary_lsn()
    wait_until(lambda: replica.received() >= target)

    data = staff_client.get("/admin/dbhealth/replication/").context["data"]

    primary, standby = data["servers"]
    assert (primary["alias"], primary["role"], primary["lag_bytes"]) == ("default", "primary", 0)
    assert (standby["alias"], standby["role"], standby["pause_state"]) == (
        "replica1",
        "replica",
        "paused",
    )
    assert routing.lsn(standby["position"]) == replica.replayed()
    assert standby["lag_bytes"] == routing.lsn(primary["position"]) - replica.replayed() > 0
    assert standby["backlog_bytes"] == replica.received() - replica.replayed() > 0
    [conflicts] = replica.query(
        "SELECT confl_lock, confl_snapshot, confl_bufferpin, confl_deadlock, confl_tablespace"
        " FROM pg_stat_database_conflicts WHERE datname = current_database()"
    )
    shown = ("confl_lock", "confl_snapshot", "confl_bufferpin", "confl_deadlock")
    assert tuple(standby[name] for name in (*shown, "confl_tablespace")) == conflicts
    checks = {c.name: c.status for c in data["checks"]}
    assert checks["Replicas the application reads"] == "ok"  # paused, within the bound


def test_a_stopped_replica_is_shown_unreachable_and_critical(replica, staff_client):
    replica.stop()
    try:
        data = staff_client.get("/admin/dbhealth/replication/").context["data"]
    finally:
        replica.start()

    assert [(s["alias"], s["role"]) for s in data["servers"]] == [
        ("default", "primary"),
        ("replica1", "unreachable"),
    ]
    assert "connection" in data["servers"][1]["error"]
    checks = {c.name: c.status for c in data["checks"]}
    assert checks["Replicas the application reads"] == "critical"
