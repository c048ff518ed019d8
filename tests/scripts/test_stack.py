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
