"""Streaming replicas of the stack's PostgreSQL, for `make test` (always one) and `make run`
(`REPLICAS=1`).

Each replica is a hot standby made by `pg_basebackup -R -X stream -C -S <slot>` from the
primary: a copy of the whole cluster (every database, every role), then WAL streamed over a
physical replication slot, so the primary keeps what the replica has not yet received. It
runs from the binaries of the primary's major version (the embedded PostgreSQL 18, or
/usr/lib/postgresql/<major>/bin for a DATABASE_URL server such as CI's PostgreSQL 15), as
the embedded server's system user, with its data in PGSHOP_DATA/replica<N>/, on loopback,
port PG_PORT + N (REPLICA<N>_PORT to change it; the project reserves PG_PORT+1..+3).

    python scripts/replica.py status            # each replica: running?, replay position
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.stack import DATA, PG_PORT, EmbeddedPostgres, fail, say  # noqa: E402

MAX_REPLICAS = 3  # PG_PORT+1..+3 are the replicas' ports, project-wide
STREAMING_TIMEOUT = 60  # seconds for a started replica to report "streaming"


def replica_port(index: int, pg_port: int = PG_PORT, environ=None) -> int:
    environ = os.environ if environ is None else environ
    return int(environ.get(f"REPLICA{index}_PORT", pg_port + index))


def bin_for(major: int) -> Path:
    """The server binaries of this major version: the embedded ones, or Debian's."""
    embedded = EmbeddedPostgres.bin_path()
    version = subprocess.run(
        [str(embedded / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    if version.split()[-1].split(".")[0] == str(major):
        return embedded
    debian = Path(f"/usr/lib/postgresql/{major}/bin")
    if not (debian / "pg_basebackup").exists():
        fail(
            f"a replica of a PostgreSQL {major} server needs its binaries: install "
            f"postgresql-{major} (Debian) or set DATABASE_REPLICA_URL to a replica of your own"
        )
    return debian


class Replica(EmbeddedPostgres):
    """A hot standby of `primary_url`, driven through pg_ctl like the embedded primary."""

    REPLICA_SETTINGS = {
        # Off, as on the primary: feedback would hold back the primary's VACUUM for the
        # replica's queries (the seed's "every table vacuumed" test fails with it on).
        "hot_standby_feedback": "off",
        "hot_standby": "on",  # read-only queries while it replays
    }

    def __init__(
        self,
        data: Path,
        index: int,
        port: int,
        primary_url: str,
        bin_dir: Path | None = None,
        slot: bool = True,
    ) -> None:
        # Its name in the primary's pg_stat_replication (application_name) and in ps.
        names = {"cluster_name": f"'pgshop_replica{index}'"}
        super().__init__(data, port, {**self.REPLICA_SETTINGS, **names})
        if bin_dir is not None:
            self.bin = bin_dir
        self.index = index
        self.pgdata = data / f"replica{index}"
        self.log = self.pgdata / "server.log"
        self.primary_url = primary_url
        # The embedded primary keeps WAL for its replica in a slot; a server of the caller's
        # (DATABASE_URL) gets none: a slot left behind would keep its WAL forever.
        self.slot = f"pgshop_replica{index}" if slot else None

    def _primary(self):
        import psycopg

        return psycopg.connect(self.primary_url, autocommit=True, connect_timeout=10)

    def _initdb(self) -> None:
        """Instead of initdb: a base backup of the primary, with the standby's settings
        (-R: primary_conninfo, primary_slot_name, standby.signal)."""
        parts = urlsplit(self.primary_url)
        if self.slot:
            with self._primary() as conn:
                # A slot of a replica whose data folder was deleted: made again below.
                conn.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                    " WHERE slot_name = %s AND NOT active",
                    [self.slot],
                )
        say(f"making replica {self.index} in {self.pgdata} (pg_basebackup, slot {self.slot})")
        result = self._pg(
            "pg_basebackup",
            "-D", str(self.pgdata),
            "-h", parts.hostname or "127.0.0.1",
            "-p", str(parts.port or 5432),
            "-U", parts.username or "postgres",
            "-R",  # write standby.signal and primary_conninfo
            "-X", "stream",  # the WAL written during the backup comes with it
            "-c", "fast",  # an immediate checkpoint: seconds, not minutes
            # Its own physical slot: the primary keeps the WAL the replica has not received.
            *(["-C", "-S", self.slot] if self.slot else []),
        )  # fmt: skip
        if result.returncode:
            reason = " ".join(result.stdout.split())
            fail(
                f"cannot make a replica of {parts.hostname}:{parts.port} ({reason}): let "
                f"{parts.username or 'postgres'} make replication connections from 127.0.0.1 "
                "(pg_hba.conf: host replication ...), or set DATABASE_REPLICA_URL to a replica"
            )
        self.pgdata.chmod(0o700)  # PostgreSQL refuses a data folder others can read
        # A Debian server keeps its configuration outside its data folder (/etc/postgresql):
        # the copy then has none, and gets the embedded server's loopback-only pair.
        conf, hba = self.pgdata / "postgresql.conf", self.pgdata / "pg_hba.conf"
        if "pgshop.conf" not in (conf.read_text() if conf.exists() else ""):
            with conf.open("a") as fh:
                fh.write("\ninclude_if_exists = 'pgshop.conf'\n")
        if not hba.exists():
            hba.write_text("host all all 127.0.0.1/32 trust\n")  # loopback only, as initdb's
        if self.os_user:
            import pwd

            entry = pwd.getpwnam(self.os_user)
            for path in (conf, hba):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # The primary's log came with the backup; the replica writes its own.
        self.log.unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        """A replica creates nothing: it waits until it streams from the primary."""
        deadline = time.monotonic() + STREAMING_TIMEOUT
        while time.monotonic() < deadline:
            if self.streaming():
                return
            time.sleep(0.1)
        fail(f"replica {self.index} is not streaming after {STREAMING_TIMEOUT} s (see {self.log})")

    def streaming(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=2) as conn:
                found = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        except psycopg.OperationalError:
            return False
        return found is not None and found[0] == "streaming"

    def _copied_from(self) -> str | None:
        """host:port of the primary this data folder streams from (the primary_conninfo
        pg_basebackup -R wrote), or None before it is made."""
        auto = self.pgdata / "postgresql.auto.conf"
        found = re.search(r"\bhost=(\S+) port=(\d+)", auto.read_text()) if auto.exists() else None
        return f"{found[1]}:{found[2]}" if found else None

    def _primary_address(self) -> str:
        parts = urlsplit(self.primary_url)
        return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"

    def start(self) -> bool:
        began = time.monotonic()
        copied = self._copied_from()
        if self.primary_url and copied is not None and copied != self._primary_address():
            # Its primary_conninfo (postgresql.auto.conf) names another server (PG_PORT or
            # DATABASE_URL changed): it could never stream again, so it is made anew.
            say(f"replica {self.index} copies {copied}, not {self._primary_address()}: remade")
            self.stop()
            shutil.rmtree(self.pgdata)
        started = super().start()
        if started:
            say(f"replica {self.index} streaming {time.monotonic() - began:.1f} s after start")
        return started


def replicas_of(
    primary_url: str, count: int, data: Path = DATA, pg_port: int = PG_PORT, environ=None
) -> list[Replica]:
    """`count` replicas of the server at primary_url (the binaries of its major version)."""
    if not count:
        return []
    if not 0 < count <= MAX_REPLICAS:
        fail(f"REPLICAS is 0 to {MAX_REPLICAS} (ports PG_PORT+1..+{MAX_REPLICAS})")
    import psycopg

    maintenance = urlsplit(primary_url)._replace(path="/postgres").geturl()  # always there
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    bin_dir = bin_for(major)
    embedded = not (os.environ if environ is None else environ).get("DATABASE_URL")
    return [
        Replica(data, n, replica_port(n, pg_port, environ), primary_url, bin_dir, slot=embedded)
        for n in range(1, count + 1)
    ]


def main(argv: list[str]) -> int:
    if argv[:1] != ["status"]:
        print(__doc__)
        return 2
    for n in range(1, MAX_REPLICAS + 1):
        folder = DATA / f"replica{n}"
        if folder.exists():
            replica = Replica(DATA, n, replica_port(n), "")
            print(f"replica {n}: {'running' if replica.running() else 'stopped'} ({folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
