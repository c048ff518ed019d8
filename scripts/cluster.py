"""A three-node PostgreSQL cluster with automatic failover, on loopback.

    etcd (one member)            the DCS: who leads, who is the synchronous standby
    Patroni x 3                  each drives one embedded PostgreSQL 18 (bin_dir)
    HAProxy  :rw / :ro           routes by Patroni's REST checks (/primary, /replica)
    PgBouncer                    transaction pooling in front of HAProxy's :rw

Debian's packages (patroni, etcd-server, haproxy, pgbouncer) run the embedded server's
binaries; they are installed when missing as root on Debian (scripts/stack.py
ensure_packages). As root every process runs as the embedded server's OS user, started with
`setpriv` (which execs, so the pid we keep is the server's own). Replication is synchronous
(Patroni's synchronous_mode): a COMMIT is acknowledged once the synchronous standby has it,
and Patroni only ever promotes that standby, so an automatic failover loses no acknowledged
commit (docs/scaling.md).

    python scripts/cluster.py up | down | status | leader

Ports: ten, from CLUSTER_PORT (default PG_PORT + 10; see PORTS). Data under
PGSHOP_DATA/cluster. The failover test starts a second one of its own (tests/cluster/).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from scripts import stack  # noqa: E402  (the embedded binaries, the OS user, apt)
from scripts.pgbouncer import PgBouncer  # noqa: E402

NODES = ("node1", "node2", "node3")
SCOPE = "pgshop"
# Offsets from the cluster's base port. etcd's peer listener is a Unix socket in its data
# folder (a single member talks to no peer), so the whole cluster takes ten TCP ports.
PORTS = {
    "etcd": 0,  # etcd's client API (Patroni's DCS)
    "node1": 1,  # PostgreSQL of each node
    "node2": 2,
    "node3": 3,
    "node1_api": 4,  # Patroni's REST API of each node (HAProxy's health checks)
    "node2_api": 5,
    "node3_api": 6,
    "rw": 7,  # HAProxy: the leader, whichever node it is
    "ro": 8,  # HAProxy: the running replicas, round robin
    "pgbouncer": 9,  # PgBouncer, transaction pooling, in front of :rw
}
# Debian package -> a file it installs, installed when missing (scripts/stack.py
# ensure_packages).
PACKAGES = {
    "patroni": Path("/usr/bin/patroni"),
    "etcd-server": Path("/usr/bin/etcd"),
    "haproxy": Path("/usr/sbin/haproxy"),
    "pgbouncer": Path("/usr/sbin/pgbouncer"),
}
START_TIMEOUT = 60  # seconds for the whole cluster to come up (5-11 s measured)


def say(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


def http_json(url: str, timeout: float = 2.0) -> tuple[int, dict]:
    """(status, JSON body) of a GET to Patroni's REST API; (0, {}) when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as failure:
        try:
            return failure.code, json.loads(failure.read() or b"{}")
        except ValueError:
            return failure.code, {}
    except (OSError, ValueError):
        return 0, {}


class Cluster:
    """The cluster's processes in DATA/cluster (or a test's folder), on base_port + PORTS."""

    def __init__(self, data: Path, base_port: int, database: str = stack.DB_NAME) -> None:
        self.dir = data / "cluster"
        self.run = self.dir / "run"
        self.database = database
        self.ports = {name: base_port + offset for name, offset in PORTS.items()}
        self.bin = stack.EmbeddedPostgres.bin_path()
        self.os_user = stack.PG_OS_USER if os.geteuid() == 0 else None
        # PgBouncer in front of HAProxy's :rw, so it follows the leader (scripts/pgbouncer.py).
        self.pooler = PgBouncer(
            self.dir, self.ports["pgbouncer"], "127.0.0.1", self.ports["rw"],
            os_user=stack.PG_OS_USER,
            # Listed, so a login needs no lookup through :rw while there is no leader.
            users=(stack.APP_ROLE, stack.STAFF_ROLE),
            # A client waiting for a server connection longer than this (a failover longer
            # than any measured here) gets an error, answered 503, rather than a hang.
            options={"query_wait_timeout": "20"},
        )  # fmt: skip

    # ----------------------------------------------------------------------- addresses

    def url(self, database: str | None = None, user: str = "postgres") -> str:
        """What the app connects to: PgBouncer, which follows the leader through HAProxy."""
        return self._url("pgbouncer", database, user)

    def leader_url(self, database: str | None = None, user: str = "postgres") -> str:
        """HAProxy's :rw, straight to the leader: migrations, pg_dump, checks."""
        return self._url("rw", database, user)

    def direct_url(self) -> str:
        """The owner on the leader, no pooler in between (stack.py: migrations, seeding)."""
        return self.leader_url()

    def replica_url(self, database: str | None = None, user: str = "postgres") -> str:
        return self._url("ro", database, user)

    def node_url(self, node: str, database: str | None = None) -> str:
        return self._url(node, database, "postgres")

    def _url(self, port: str, database: str | None, user: str) -> str:
        return f"postgres://{user}@127.0.0.1:{self.ports[port]}/{database or self.database}"

    def api(self, node: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'{node}_api']}"

    # ----------------------------------------------------------------------- state

    def members(self) -> list[dict]:
        """Patroni's view of the cluster (name, role, state, timeline, lag), from any node."""
        for node in NODES:
            status, body = http_json(f"{self.api(node)}/cluster")
            if status == 200 and body.get("members"):
                return body["members"]
        return []

    def leader(self) -> str | None:
        for member in self.members():
            if member["role"] == "leader" and member["state"] == "running":
                return member["name"]
        return None

    def healthy(self) -> bool:
        """A running leader, a synchronous standby and every other node running as replica."""
        members = self.members()
        roles = sorted(m["role"] for m in members if m["state"] in {"running", "streaming"})
        return roles == ["leader", "replica", "sync_standby"]

    def _pid(self, name: str) -> int | None:
        pidfile = self.run / f"{name}.pid"
        if not pidfile.exists():
            return None
        pid = int(pidfile.read_text())
        return pid if Path(f"/proc/{pid}").exists() else None

    def postmaster_pid(self, node: str) -> int | None:
        pidfile = self.dir / node / "pgdata" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().split()[0])
            if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                return pid
        return None

    def running(self) -> bool:
        return self._pid("etcd") is not None and self.leader() is not None

    # ----------------------------------------------------------------------- start / stop

    def start(self) -> bool:
        """Start whatever is not running, wait until the cluster is healthy. True when this
        call started it."""
        stack.ensure_packages(PACKAGES, why="the failover cluster (scripts/cluster.py)")
        if self.running() and self.healthy():
            say(f"cluster already running, leader {self.leader()} (adopted)")
            return False
        began = time.monotonic()
        self.run.mkdir(parents=True, exist_ok=True)
        self._prepare()
        self._spawn("etcd", self._etcd_argv())
        self._wait(lambda: http_json(f"http://127.0.0.1:{self.ports['etcd']}/health")[0] == 200)
        for node in NODES:
            self._patroni_config(node)
            self.start_node(node)
        self._wait(self.healthy)
        self._create_database()
        self._spawn("haproxy", ["/usr/sbin/haproxy", "-db", "-f", str(self._haproxy_config())])
        self._wait(self._routes_settled)
        try:
            self.pooler.start()
        except RuntimeError as error:
            raise RuntimeError(f"cluster: {error}") from error
        self._wait(self._pgbouncer_answers)
        say(
            f"up in {time.monotonic() - began:.1f} s: leader {self.leader()}, "
            f"PgBouncer 127.0.0.1:{self.ports['pgbouncer']}, HAProxy rw :{self.ports['rw']} "
            f"ro :{self.ports['ro']}, logs in {self.dir}"
        )
        return True

    def stop(self) -> None:
        """PgBouncer, HAProxy, then each Patroni (which stops its PostgreSQL), then etcd."""
        self.pooler.stop()
        for name in ("haproxy", *NODES, "etcd"):
            pid = self._pid(name)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                self._wait_gone(pid, 30)
            (self.run / f"{name}.pid").unlink(missing_ok=True)
        for node in NODES:  # a PostgreSQL orphaned by a killed Patroni
            pid = self.postmaster_pid(node)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)  # fast shutdown
                self._wait_gone(pid, 30)
        say("cluster stopped")

    def destroy(self) -> None:
        """Stop, and remove every node's data: the next start bootstraps a new cluster."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill_node(self, node: str) -> None:
        """The node's machine lost: its Patroni, then its PostgreSQL, SIGKILLed (no shutdown,
        no leader key released; the others wait for it to expire, ttl)."""
        pid = self._pid(node)
        postmaster = self.postmaster_pid(node)
        for victim in (pid, postmaster):
            if victim:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
        for victim in (pid, postmaster):
            if victim:
                self._wait_gone(victim, 10)
        (self.run / f"{node}.pid").unlink(missing_ok=True)

    def start_node(self, node: str) -> None:
        """The node's Patroni (again): a lost leader rejoins as a replica, by pg_rewind."""
        self._spawn(node, ["/usr/bin/patroni", str(self.dir / f"{node}.yml")])

    # ----------------------------------------------------------------------- internals

    def _prepare(self) -> None:
        for node in NODES:
            (self.dir / node).mkdir(parents=True, exist_ok=True)
        (self.dir / "etcd").mkdir(parents=True, exist_ok=True)
        if self.os_user:
            # As stack.py's EmbeddedPostgres: the user exists, reaches the binaries, owns the data.
            (self.dir / "postgres").mkdir(exist_ok=True)
            stack.EmbeddedPostgres(self.dir, 0)._prepare_root()
            entry = pwd.getpwnam(self.os_user)
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text)
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return path

    def _spawn(self, name: str, argv: list[str]) -> None:
        if self._pid(name):
            return
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            argv = [
                "setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                "--init-groups", *argv,
            ]  # fmt: skip
        log = (self.dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        (self.run / f"{name}.pid").write_text(str(process.pid))

    def _wait(self, predicate, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                    for log in sorted(self.dir.glob("*.log"))
                )
                raise RuntimeError(f"cluster: {predicate.__name__} not true in {timeout} s\n{logs}")
            time.sleep(0.2)

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
            time.sleep(0.05)

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = "unix://etcd-peer:0"  # a socket file in self.dir (etcd's cwd); no TCP port
        return [
            "/usr/bin/etcd", "--name", "etcd", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"etcd={peer}", "--initial-cluster-state", "new",
        ]  # fmt: skip

    def _patroni_config(self, node: str) -> Path:
        embedded = {
            key: value.strip("'")
            for key, value in stack.EmbeddedPostgres.SETTINGS.items()
            if key not in {"listen_addresses", "unix_socket_directories"}
        }
        config = {
            "scope": SCOPE,
            "name": node,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{self.ports[f'{node}_api']}",
                "connect_address": f"127.0.0.1:{self.ports[f'{node}_api']}",
            },
            "etcd3": {"hosts": [f"127.0.0.1:{self.ports['etcd']}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": 10,  # a dead leader's key expires after 10 s: the failover's floor
                    "loop_wait": 2,  # each Patroni looks at the cluster every 2 s
                    "retry_timeout": 4,  # etcd or PostgreSQL unreachable this long: demote
                    # A COMMIT waits for the synchronous standby, and only that standby may be
                    # promoted: no acknowledged commit is lost by a failover. Not strict: with
                    # every standby gone, the leader goes on alone rather than refusing writes.
                    "synchronous_mode": True,
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,  # a failed leader rejoins as a replica
                        "use_slots": True,  # the leader keeps WAL until each replica has it
                        "parameters": {
                            **embedded,
                            "wal_level": "replica",
                            "wal_log_hints": "on",  # pg_rewind needs it (or data checksums)
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "hot_standby": "on",
                            # Off: it holds back VACUUM on the leader (scale-out notes).
                            "hot_standby_feedback": "off",
                        },
                    },
                },
                "initdb": [
                    {"encoding": "UTF8"},
                    {"locale-provider": "builtin"},
                    {"builtin-locale": "C.UTF-8"},
                    {"auth": "trust"},
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.ports[node]}",
                "connect_address": f"127.0.0.1:{self.ports[node]}",
                "data_dir": str(self.dir / node / "pgdata"),
                "bin_dir": str(self.bin),
                "pgpass": str(self.dir / node / "pgpass"),
                # Loopback-only development cluster: trust, as the embedded server's initdb.
                "pg_hba": [
                    "host replication all 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 trust",
                ],
                "authentication": {
                    "superuser": {"username": "postgres"},
                    "replication": {"username": "postgres"},
                    "rewind": {"username": "postgres"},
                },
                "parameters": {"unix_socket_directories": ""},  # TCP only, as stack.py's
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }
        # JSON is YAML: Patroni reads it as its configuration file.
        return self._write(f"{node}.yml", json.dumps(config, indent=2))

    def _haproxy_config(self) -> Path:
        def servers(check: str) -> str:
            return "\n".join(
                f"    server {node} 127.0.0.1:{self.ports[node]} check port "
                f"{self.ports[f'{node}_api']}"
                for node in NODES
            )

        text = f"""# Written by scripts/cluster.py on every start.
global
    maxconn 200

defaults
    mode tcp
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s

# The leader: the one node whose Patroni answers 200 on /primary. A node marked down has
# its sessions cut at once, so no client keeps talking to a demoted or dead leader.
listen rw
    bind 127.0.0.1:{self.ports["rw"]}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
{servers("primary")}

# The running replicas (Patroni's /replica), round robin.
listen ro
    bind 127.0.0.1:{self.ports["ro"]}
    balance roundrobin
    option httpchk OPTIONS /replica
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
{servers("replica")}
"""
        return self._write("haproxy.cfg", text)

    def _routes_settled(self) -> bool:
        """HAProxy counts a server up until its first failed checks: wait until :rw reaches
        only the leader and :ro only replicas, a few connections in a row each."""
        import psycopg

        try:
            for url, recovery in ((self.leader_url(), False), (self.replica_url(), True)):
                for _ in range(4):
                    with psycopg.connect(url, connect_timeout=2) as conn:
                        if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] != recovery:
                            return False
        except psycopg.Error:
            return False
        return True

    def _pgbouncer_answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
                return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()[0]
        except psycopg.Error:
            return False

    def _create_database(self) -> None:
        import psycopg

        def created() -> bool:
            try:
                with psycopg.connect(
                    self.node_url(self.leader() or "node1", "postgres"),
                    autocommit=True,
                    connect_timeout=2,
                ) as conn:
                    found = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
                    ).fetchone()
                    if not found:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                        say(f"created database {self.database}")
                    return True
            except psycopg.Error:
                return False

        self._wait(created)


def from_env() -> Cluster:
    """The cluster of `make cluster` / `CLUSTER=1 make run`: PGSHOP_DATA/cluster, ports from
    CLUSTER_PORT (default PG_PORT + 10, the range reserved for it)."""
    return Cluster(stack.DATA, int(os.environ.get("CLUSTER_PORT", stack.PG_PORT + 10)))


def main(argv: list[str]) -> int:
    cluster = from_env()
    command = argv[0] if argv else ""
    if command == "up":
        cluster.start()
        print(f"export DATABASE_URL={cluster.url()}")
        return 0
    if command == "down":
        cluster.stop()
        return 0
    if command == "status":
        for member in cluster.members():
            print(f"{member['name']}: {member['role']} {member['state']} lag={member.get('lag')}")
        return 0
    if command == "leader":
        print(cluster.leader() or "none")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
