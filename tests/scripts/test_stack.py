"""scripts/stack.py: the embedded servers behind `make run` and `make test`.

Each test starts its own PostgreSQL and Redis in a temporary folder on free ports, so it
never touches the servers the suite itself runs on.
"""

import os
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest
import redis

from scripts import stack as stack_module
from scripts.stack import EmbeddedPostgres, EmbeddedRedis, Stack
from tests.conftest import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path):
    tmp_path.chmod(0o755)  # as root, PostgreSQL runs as its own user and must reach the folder
    stack = Stack(tmp_path, free_port(), free_port(), environ={})
    yield stack
    stack.down(force=True)


def server_settings(url: str) -> tuple:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT current_setting('listen_addresses'), "
            "current_setting('shared_preload_libraries'), "
            "current_setting('log_min_duration_statement'), "
            "current_setting('server_version_num')::int / 10000"
        ).fetchone()


def test_up_starts_both_servers_on_loopback_with_pg_stat_statements(stack):
    env = stack.up()

    assert env == {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{stack.postgres.port}/shop",
        "REDIS_URL": f"redis://127.0.0.1:{stack.redis.port}/0",
    }
    assert server_settings(env["DATABASE_URL"]) == ("127.0.0.1", "pg_stat_statements", "250ms", 18)
    assert redis.Redis.from_url(env["REDIS_URL"]).ping() is True


def test_data_survives_a_restart(stack):
    env = stack.up()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    redis.Redis.from_url(env["REDIS_URL"]).set("kept", "yes")

    stack.down()
    assert (stack.postgres.running(), stack.redis.running()) == (False, False)
    env = stack.up()

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]
    assert redis.Redis.from_url(env["REDIS_URL"]).get("kept") == b"yes"


def test_a_server_left_running_by_a_crash_is_adopted(stack):
    stack.up()
    stack.me.unlink()  # the invocation that started them died without cleaning up

    again = Stack(stack.run_dir.parent, stack.postgres.port, stack.redis.port, environ={})

    assert again.postgres.start() is False  # adopted, not started twice
    assert again.redis.start() is False


def test_stale_pid_files_are_removed(stack):
    stack.up()
    stack.down()
    # Pid files naming a live process that is not the server (here: this test's own pid).
    (stack.postgres.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n")
    stack.redis.pidfile.write_text(f"{os.getpid()}\n")

    env = stack.up()

    assert server_settings(env["DATABASE_URL"])[3] == 18
    assert redis.Redis.from_url(env["REDIS_URL"]).ping() is True


def test_the_last_user_stops_the_servers(stack):
    stack.up()
    other = subprocess.Popen(["sleep", "60"])  # another live `make test` or `make run`
    (stack.users / str(other.pid)).touch()

    stack.down()
    assert (stack.postgres.running(), stack.redis.running()) == (True, True)

    other.kill()
    other.wait()
    stack.up()
    stack.down()
    assert (stack.postgres.running(), stack.redis.running()) == (False, False)


def test_external_urls_start_nothing(tmp_path):
    stack = Stack(
        tmp_path,
        free_port(),
        free_port(),
        environ={"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r/0"},
    )

    assert stack.up() == {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r/0"}
    assert (stack.postgres, stack.redis) == (None, None)
    assert list(tmp_path.iterdir()) == []


def test_embedded_classes_use_the_wheels_binaries(tmp_path):
    assert (EmbeddedPostgres(tmp_path, 1).bin / "postgres").exists()
    assert EmbeddedRedis(tmp_path, 1).binary.name == "redis-server"


# --------------------------------------------------------------------------- the browser


def test_make_test_installs_chromium_with_apt_get_as_root_on_debian():
    assert stack_module.browser_plan(present=False, root=True, debian=True) == [
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "chromium"],
    ]


@pytest.mark.parametrize(("root", "debian"), [(False, True), (True, False), (False, False)])
def test_make_test_names_the_command_when_it_cannot_install_chromium(root, debian):
    assert stack_module.browser_plan(present=False, root=root, debian=debian) == (
        "/usr/bin/chromium is missing, needed by the dashboard's browser test: run "
        "`sudo apt-get install -y chromium` (Debian)"
    )


def test_make_test_names_the_command_when_it_cannot_install_curl():
    missing = {"curl": stack_module.CURL}
    assert stack_module.package_plan(
        missing, root=False, debian=True, why="the README's API walk-through test"
    ) == (
        "/usr/bin/curl is missing, needed by the README's API walk-through test: run "
        "`sudo apt-get install -y curl` (Debian)"
    )


@pytest.mark.parametrize(("root", "debian"), [(True, True), (False, False)])
def test_make_test_does_nothing_when_chromium_is_there(root, debian):
    assert stack_module.browser_plan(present=True, root=root, debian=debian) == []


def test_a_missing_chromium_stops_make_test_at_once_with_one_line(tmp_path, monkeypatch, capsys):
    """Not root, chromium absent (a path that does not exist stands for it): one line on
    stderr, a non-zero exit, and no server started, nothing run."""
    monkeypatch.setattr(stack_module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(stack_module.os, "geteuid", lambda: 1000)
    ran = []
    monkeypatch.setattr(stack_module.subprocess, "run", lambda *a, **k: ran.append(a))

    with pytest.raises(SystemExit) as stopped:
        stack_module.ensure_browser()

    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        f"[stack] error: {tmp_path / 'no-chromium'} is missing, needed by the dashboard's "
        "browser test: run `sudo apt-get install -y chromium` (Debian)\n"
    )
    assert ran == []


def test_make_test_as_root_on_debian_runs_apt_get_then_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(stack_module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(stack_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(stack_module, "is_debian", lambda: True)
    ran = []

    def run(command, **kwargs):
        ran.append((command, kwargs["env"]["DEBIAN_FRONTEND"]))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(stack_module.subprocess, "run", run)

    stack_module.ensure_browser()

    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    assert ran == [
        (["apt-get", *lock_wait, "update", "-qq"], "noninteractive"),
        (["apt-get", *lock_wait, "install", "-y", "-qq", "chromium"], "noninteractive"),
    ]


def test_several_missing_packages_are_named_in_one_line_and_one_install():
    missing = {"redis-server": Path("/usr/bin/redis-server"), "rabbitmq-server": Path("/x")}
    assert stack_module.package_plan(missing, root=False, debian=True, why="the broker tests") == (
        "/usr/bin/redis-server, /x are missing, needed by the broker tests: run "
        "`sudo apt-get install -y redis-server rabbitmq-server` (Debian)"
    )
    assert stack_module.package_plan(missing, root=True, debian=True, why="the broker tests")[
        1
    ] == ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "redis-server",
          "rabbitmq-server"]  # fmt: skip


def test_a_rabbitmq_that_does_not_answer_stops_make_test_with_one_line(
    tmp_path, monkeypatch, capsys
):
    """Not root, the packages there (files that exist stand for them), nothing listening on
    RABBITMQ_URL's port: one line naming the command, and nothing run."""
    (tmp_path / "present").touch()
    monkeypatch.setattr(stack_module, "BROKER_PACKAGES", {"rabbitmq-server": tmp_path / "present"})
    monkeypatch.setattr(stack_module.os, "geteuid", lambda: 1000)
    port = free_port()
    monkeypatch.setenv("RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:{port}")
    ran = []
    monkeypatch.setattr(stack_module.subprocess, "run", lambda *a, **k: ran.append(a))

    with pytest.raises(SystemExit) as stopped:
        stack_module.ensure_brokers()

    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        f"[stack] error: RabbitMQ does not answer on 127.0.0.1:{port} (the broker tests need "
        "it): run `sudo service rabbitmq-server start`, or set RABBITMQ_URL\n"
    )
    assert ran == []


def test_debian_is_recognised_from_os_release(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    ubuntu = tmp_path / "ubuntu"
    ubuntu.write_text("ID=ubuntu\nID_LIKE=debian\n")
    fedora = tmp_path / "fedora"
    fedora.write_text('ID=fedora\nID_LIKE="rhel centos"\n')

    assert [stack_module.is_debian(path) for path in (release, ubuntu, fedora)] == [
        True,
        True,
        False,
    ]
    assert stack_module.is_debian(tmp_path / "absent") is False


# --------------------------------------------------------------------------- make run's output


def test_each_childs_lines_are_prefixed_with_its_name_whole_lines_only():
    import io

    out = io.StringIO()
    stream = io.BytesIO(b"Listening at: http://127.0.0.1:8000\r\nno newline at the end")

    stack_module.prefix_lines("web", 6, stream, out)

    assert out.getvalue() == (
        "web    | Listening at: http://127.0.0.1:8000\nweb    | no newline at the end\n"
    )
    assert stream.closed


# --------------------------------------------------------------------------- status, reset


def stack_command(data, pg_port: int, redis_port: int, *args: str, stdin=subprocess.DEVNULL, **env):
    outer = {"DATABASE_URL", "REDIS_URL", "DATABASE_REPLICA_URL", "PGBOUNCER_PORT"}  # make test's
    environ = {k: v for k, v in os.environ.items() if k not in outer}
    environ.update(
        PGSHOP_DATA=str(data), PG_PORT=str(pg_port), REDIS_PORT=str(redis_port), PORT="1", **env
    )
    return subprocess.run(
        [stack_module.PYTHON, str(stack_module.ROOT / "scripts" / "stack.py"), *args],
        env=environ,
        capture_output=True,
        text=True,
        stdin=stdin,
        timeout=120,
        check=False,
    )


def test_status_says_what_runs_where(stack, tmp_path):
    data, pg, rd = tmp_path, stack.postgres.port, stack.redis.port
    (data / "demo-password").write_text("admin-pw-123\n")

    down = stack_command(data, pg, rd, "status")
    stack.up()
    up = stack_command(data, pg, rd, "status")

    assert down.stdout.splitlines() == [
        f"Data folder     {data}",
        f"PostgreSQL      down postgres://postgres@127.0.0.1:{pg}/shop  "
        f"data {data}/postgres, log {data}/postgres/server.log",
        f"Redis           down redis://127.0.0.1:{rd}/0  data {data}/redis",
        f"PgBouncer       down postgres://postgres@127.0.0.1:{pg + 6}/pgbouncer  "
        "(transaction mode)",
        "Web (make run)  down http://127.0.0.1:1/  (PORT)",
        "Using the servers: nobody (make run/test pids)",
        f"Demo staff login: admin / admin-pw-123   (kept in {data}/demo-password)",
    ]
    lines = up.stdout.splitlines()
    assert lines[1].startswith(f"PostgreSQL      up   postgres://postgres@127.0.0.1:{pg}/shop")
    assert lines[2].startswith(f"Redis           up   redis://127.0.0.1:{rd}/0")
    assert lines[5] == f"Using the servers: {os.getpid()} (make run/test pids)"
    assert not (data / "demo-shopper-password").exists()  # status makes nothing


def test_reset_needs_confirmation_and_removes_only_the_database(stack, tmp_path):
    data, pg, rd = tmp_path, stack.postgres.port, stack.redis.port
    env = stack.up()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
    (data / "demo-password").write_text("admin-pw-123\n")
    (data / "celerybeat-schedule.dat").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()

    in_use = stack_command(data, pg, rd, "reset", RESET="yes")
    stack.down(force=True)
    refused = stack_command(data, pg, rd, "reset")  # no terminal to say yes on
    done = stack_command(data, pg, rd, "reset", RESET="yes")
    again = stack_command(data, pg, rd, "reset", RESET="yes")

    assert in_use.returncode == 1
    assert in_use.stderr == (
        f"[stack] error: the servers are in use by pids [{os.getpid()}] (make run/test): "
        "stop them first\n"
    )
    assert (refused.returncode, refused.stderr) == (
        1,
        "[stack] error: not confirmed: run `make reset RESET=yes` (nothing was deleted)\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-4:] == [
        f"[stack] removed {data}/celerybeat-schedule.dat",
        f"[stack] removed {data}/postgres",
        f"[stack] removed {data}/redis",
        "[stack] reset: the next `make run` starts from an empty database",
    ]
    assert sorted(path.name for path in data.iterdir()) == ["demo-password", "run"]
    assert outside.is_dir()
    assert again.stdout == f"[stack] nothing to reset in {data}\n"
    # The next start is an empty cluster: the table is gone.
    env = stack.up()
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)


def test_replicas_stream_the_primary_from_their_own_slot_and_stop_with_it(tmp_path):
    """REPLICAS=1 (and make test): a hot standby on PG_PORT+1, made by pg_basebackup from its
    own slot, read-only, with what the primary commits; `down` stops it with the primary."""
    tmp_path.chmod(0o755)
    pg_port = free_port()
    replicated = Stack(tmp_path, pg_port, free_port(), environ={}, replicas=1)
    try:
        env = replicated.up()
        assert env["DATABASE_REPLICA_URL"] == f"postgres://postgres@127.0.0.1:{pg_port + 1}/shop"
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as primary:
            primary.execute("CREATE TABLE streamed (n int)")
            primary.execute("INSERT INTO streamed VALUES (7)")
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            slots = primary.execute("SELECT slot_name, active FROM pg_replication_slots").fetchall()
        with psycopg.connect(env["DATABASE_REPLICA_URL"], autocommit=True) as replica:
            wait_until(
                lambda: replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s", [target]
                ).fetchone()[0]
            )
            assert replica.execute("SELECT n FROM streamed").fetchall() == [(7,)]
            assert replica.execute(
                "SELECT pg_is_in_recovery(), current_setting('listen_addresses'),"
                " current_setting('hot_standby_feedback')"
            ).fetchone() == (True, "127.0.0.1", "off")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                replica.execute("INSERT INTO streamed VALUES (8)")
        assert slots == [("pgshop_replica1", True)]
    finally:
        replicated.down(force=True)
    assert [replica.running() for replica in replicated.replicas] == [False]
