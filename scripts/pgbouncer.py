"""PgBouncer in transaction pooling mode, in front of one PostgreSQL (docs/connection-pooling.md).

    PgBouncer(data_dir, listen_port, upstream_host, upstream_port).start()

writes `pgbouncer.ini` and its `userlist.txt` under data_dir/pgbouncer/ and starts Debian's
pgbouncer (1.18, /usr/sbin/pgbouncer) as a daemon, listening on loopback only. `make test`
runs one on PG_PORT + 6 in front of the test's primary, `make run` with PGBOUNCER=1 too
(scripts/stack.py); the Patroni cluster's runs in front of HAProxy. The admin console is the
database `pgbouncer` on the same port: `admin("SHOW POOLS")`.

Every database name is passed through to the upstream server (the `*` entry), so pytest-django
can create and drop its test database through it; `databases` adds entries of their own, e.g.
one with `pool_size=1` that forces two clients onto one server connection (tests/pooler).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

BINARY = Path("/usr/sbin/pgbouncer")
PACKAGE = "pgbouncer"


class PgBouncer:
    """One pgbouncer process, its configuration and its admin console."""

    def __init__(
        self,
        data_dir: Path,
        listen_port: int,
        upstream_host: str,
        upstream_port: int,
        *,
        databases: dict[str, str] | None = None,
        pool_size: int = 20,
        admin_user: str = "postgres",
        os_user: str | None = None,
        name: str = "pgbouncer",
        users: tuple[str, ...] = (),
        options: dict[str, str] | None = None,
    ) -> None:
        self.dir = Path(data_dir) / name
        self.port = listen_port
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.databases = databases or {}
        self.pool_size = pool_size
        self.admin_user = admin_user
        # Logins listed in auth_file as well: they need no auth_user lookup on the upstream
        # (behind HAProxy during a failover, that lookup would fail with the leader).
        self.users = users
        self.options = options or {}  # settings of this instance's own, over the defaults
        # pgbouncer refuses to run as root: it drops to this user (-u) when started by root.
        self.os_user = os_user if os.geteuid() == 0 else None
        self.ini_path = self.dir / "pgbouncer.ini"
        self.auth_path = self.dir / "userlist.txt"
        self.pidfile = self.dir / "pgbouncer.pid"
        self.log = self.dir / "pgbouncer.log"

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    # ------------------------------------------------------------------ configuration

    def ini(self) -> str:
        upstream = f"host={self.upstream_host} port={self.upstream_port}"
        entries = [f"{alias} = {upstream} {options}" for alias, options in self.databases.items()]
        settings = {
            "listen_addr": "127.0.0.1",  # loopback only
            "listen_port": str(self.port),  # PG_PORT + 6 (docs/connection-pooling.md)
            "unix_socket_dir": "",  # TCP only, like the embedded PostgreSQL
            # Loopback development and tests: the client is not asked for a password, as the
            # embedded server (initdb --auth=trust) does not ask; production uses scram-sha-256.
            "auth_type": "trust",
            "auth_file": str(self.auth_path),  # the admin user; every other role via auth_user
            # Roles PgBouncer does not list (the ones tests create) are looked up in pg_shadow
            # through this login, so a new role can connect at once.
            "auth_user": self.admin_user,
            "admin_users": self.admin_user,  # SHOW POOLS, KILL, RECONNECT on the console
            "stats_users": self.admin_user,
            # Each transaction gets a server connection and gives it back at COMMIT/ROLLBACK:
            # session state (SET, advisory locks, LISTEN, WITH HOLD, temp tables) does not hold.
            "pool_mode": "transaction",
            "default_pool_size": str(self.pool_size),  # server connections per database+user
            "max_client_conn": "1000",  # client connections are cheap: a few kB each
            # A refused server login (PostgreSQL restarting, a failover) is retried after 1 s,
            # not the default 15 s: a client waits through a restart rather than past it.
            "server_login_retry": "1",
            # Closed after 10 minutes unused: a dropped and re-created role does not linger.
            "server_idle_timeout": "600",
            "logfile": str(self.log),
            "pidfile": str(self.pidfile),
            **self.options,
        }
        lines = ["[databases]", *entries, f"* = {upstream}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def userlist(self) -> str:
        # No password: auth_type trust; auth_user's own login to PostgreSQL is trusted too.
        return "".join(f'"{user}" ""\n' for user in (self.admin_user, *self.users))

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ini_path.write_text(self.ini())
        self.auth_path.write_text(self.userlist())
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            for path in (self.dir, self.ini_path, self.auth_path):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if self.log.exists():
                os.chown(self.log, entry.pw_uid, entry.pw_gid)

    # ------------------------------------------------------------------ the process

    def admin(self, command: str) -> list[dict]:
        return admin(self.port, command, self.admin_user)

    def running(self) -> bool:
        import psycopg

        try:
            self.admin("SHOW VERSION")
        except psycopg.Error:
            return False
        return True

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        comm = Path(f"/proc/{pid}/comm")
        return pid if comm.exists() and comm.read_text().strip() == "pgbouncer" else None

    def start(self) -> bool:
        """Start it unless it runs already. Returns True when it was started here. A running
        one with another configuration (another upstream) is given this one (RELOAD)."""
        if self.running():
            if not self.ini_path.exists() or self.ini_path.read_text() != self.ini():
                self.write_config()
                self.admin("RELOAD")
            return False
        if not BINARY.is_file():
            raise RuntimeError(f"{BINARY} is missing: install the {PACKAGE} package")
        self.write_config()
        if self.pidfile.exists() and self.pid() is None:
            self.pidfile.unlink()  # left behind by a crash
        argv = [str(BINARY), "-d", "-q"]  # -d: daemon, -q: quiet on stdout
        if self.os_user:
            argv += ["-u", self.os_user]
        result = subprocess.run([*argv, str(self.ini_path)], capture_output=True, text=True)
        deadline = time.monotonic() + 15
        while not self.running():
            if result.returncode or time.monotonic() > deadline:
                tail = self.log.read_text()[-2000:] if self.log.exists() else result.stderr
                raise RuntimeError(f"PgBouncer did not start on {self.port}:\n{tail}")
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # "safe shutdown": waits for running transactions
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # immediate shutdown

    def release(self, database: str) -> None:
        release(self.port, database, self.admin_user)


def admin(port: int, command: str, user: str = "postgres") -> list[dict]:
    """One admin-console command (SHOW POOLS, RECONNECT db, ...), its rows as dicts. The
    console speaks only the simple query protocol: a client-side cursor, no parameters."""
    import psycopg

    with psycopg.connect(
        f"postgres://{user}@127.0.0.1:{port}/pgbouncer",
        autocommit=True,
        connect_timeout=2,
        prepare_threshold=None,
        cursor_factory=psycopg.ClientCursor,
    ) as conn:
        cursor = conn.execute(command)
        if cursor.description is None:
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def release(port: int, database: str, user: str = "postgres") -> list[str]:
    """Close every server connection to PostgreSQL's `database`, under every entry that leads
    there (KILL, then RESUME so the entry serves again). DROP DATABASE is refused while
    PgBouncer holds one, and a role dropped and re-created would otherwise reuse a connection
    logged in as the old one. Returns the entries released."""
    entries = [
        row["name"] for row in admin(port, "SHOW DATABASES", user) if row["database"] == database
    ]
    for entry in entries:
        admin(port, f'KILL "{entry}"', user)
        admin(port, f'RESUME "{entry}"', user)
    return entries


def reconnect(port: int, database: str, user: str = "postgres") -> list[str]:
    """Close the server connections to PostgreSQL's `database` as each is released (RECONNECT;
    a transaction in progress finishes first): after a role is dropped and re-created under
    the same name, a connection logged in as the old role would refuse the new one's grants."""
    entries = [
        row["name"] for row in admin(port, "SHOW DATABASES", user) if row["database"] == database
    ]
    for entry in entries:
        admin(port, f'RECONNECT "{entry}"', user)
    return entries


def connections_saved(url: str, port: int, clients: int, transactions: int) -> dict:
    """`clients` connections through PgBouncer at once, each running `transactions` short
    transactions (10 ms of pg_sleep) in its own thread; then how many server connections
    PgBouncer opened for them, and how many backends PostgreSQL ran. Bounded: at most
    clients x transactions x 10 ms of sleeping, spread over the pool."""
    import threading
    from urllib.parse import urlsplit

    import psycopg

    database = urlsplit(url).path.lstrip("/")
    opened = [psycopg.connect(url, autocommit=True, prepare_threshold=None) for _ in range(clients)]
    peak = {"servers": 0}
    done = threading.Event()

    def work(conn):
        for _ in range(transactions):
            with conn.transaction():
                conn.execute("SELECT pg_sleep(0.01)")

    def watch():
        while not done.is_set():
            servers = [s for s in admin(port, "SHOW SERVERS") if s["database"] == database]
            peak["servers"] = max(peak["servers"], len(servers))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=work, args=(conn,)) for conn in opened]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done.set()
    watcher.join()
    (backends,) = (
        opened[0]
        .execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        .fetchone()
    )
    for conn in opened:
        conn.close()
    return {
        "clients": clients,
        "transactions": clients * transactions,
        "peak_servers": peak["servers"],
        "backends": backends,
        "seconds": elapsed,
    }


def main(argv: list[str]) -> int:
    """python scripts/pgbouncer.py connections [--clients N] [--transactions T]: connections
    saved, measured through the stack's PgBouncer (PGBOUNCER=1 ... stack.py exec -- ...)."""
    import argparse

    parser = argparse.ArgumentParser(prog="pgbouncer.py")
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("connections")
    measure.add_argument("--clients", type=int, default=100)
    measure.add_argument("--transactions", type=int, default=10)
    args = parser.parse_args(argv)
    url, port = os.environ.get("DATABASE_URL"), os.environ.get("PGBOUNCER_PORT")
    if not (url and port and os.environ.get("DB_TRANSACTION_POOLER") == "true"):
        print("run it through the pooler: PGBOUNCER=1 python scripts/stack.py exec -- ...")
        return 2
    found = connections_saved(url, int(port), args.clients, args.transactions)
    print(
        f"{found['clients']} client connections, {found['transactions']} transactions in "
        f"{found['seconds']:.2f} s -> at most {found['peak_servers']} server connections "
        f"(PostgreSQL backends of the database afterwards: {found['backends']})"
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
