"""The suite's streaming replica (started by `make test`: scripts/replica.py), attacked
through a superuser connection of its own: replay paused and resumed, the server stopped and
started again. Every test here commits its data (transactional), as the replica only sees
what the primary committed."""

import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from core import routing
from tests.conftest import wait_until


def primary_lsn() -> int:
    with psycopg.connect(**_conninfo("default"), autocommit=True) as conn:
        return routing.lsn(conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])


def _conninfo(alias: str) -> dict:
    db = connections[alias].settings_dict
    return {"host": db["HOST"], "port": db["PORT"], "dbname": db["NAME"], "user": "postgres"}


class Replica:
    """The replica behind DATABASE_REPLICAS[0], as its superuser sees it."""

    alias = "replica1"

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(**_conninfo(self.alias), autocommit=True, connect_timeout=5)

    def query(self, sql: str, params=()):
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def replayed(self) -> int:
        return routing.lsn(self.query("SELECT pg_last_wal_replay_lsn()::text")[0][0])

    def received(self) -> int:
        return routing.lsn(self.query("SELECT pg_last_wal_receive_lsn()::text")[0][0])

    def caught_up(self) -> None:
        """Until it has replayed everything the primary wrote so far."""
        target = primary_lsn()
        wait_until(lambda: self.replayed() >= target, timeout=30)

    def pause(self) -> None:
        self.caught_up()
        self.query("SELECT pg_wal_replay_pause()")
        wait_until(lambda: self.query("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused")

    def resume(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def _pg_ctl(self, *args: str) -> None:
        data, bindir = (
            self.query("SELECT setting FROM pg_settings WHERE name = 'data_directory'")[0][0],
            self.query("SELECT setting FROM pg_config WHERE name = 'BINDIR'")[0][0],
        )
        self.data, self.bindir = Path(data), Path(bindir)
        self._run("stop", "-m", "fast", *args)

    def _run(self, *args: str) -> None:
        owner = self.data.stat().st_uid
        subprocess.run(
            [str(self.bindir / "pg_ctl"), *args, "-D", str(self.data), "-w", "-t", "60"],
            user=owner, check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    def stop(self) -> None:
        self._pg_ctl()

    def start(self) -> None:
        self._run("start", "-l", str(self.data / "server.log"))
        wait_until(lambda: self._streaming(), timeout=60)

    def _streaming(self) -> bool:
        try:
            return self.query("SELECT status FROM pg_stat_wal_receiver") == [("streaming",)]
        except psycopg.OperationalError:
            return False


@pytest.fixture
def replica(settings):
    """The replica, caught up; replay resumed and its state forgotten afterwards."""
    assert settings.DATABASE_REPLICAS == ["replica1"], "make test starts one replica"
    settings.DB_REPLICA_RETRY_SECONDS = 60.0  # a skipped replica stays skipped in a test
    server = Replica()
    server.caught_up()
    routing.forget()
    yield server
    server.resume()
    routing.forget()
