"""scripts/stack.py: the embedded servers behind `make run` and `make test`.

Each test starts its own PostgreSQL and Redis in a temporary folder on free ports, so it
never touches the servers the suite itself runs on.
"""

import os
import socket
import subprocess

import psycopg
import pytest
import redis

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
