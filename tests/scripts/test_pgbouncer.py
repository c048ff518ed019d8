"""scripts/pgbouncer.py's configuration and scripts/stack.py's hooks for it. The running
PgBouncer itself is the one every `make test` starts (tests/pooler uses it)."""

import os
from pathlib import Path

from scripts import pgbouncer, stack
from scripts.pgbouncer import PgBouncer


def test_the_configuration_is_transaction_mode_on_loopback(tmp_path):
    bouncer = PgBouncer(tmp_path, 22038, "127.0.0.1", 22032, databases={"one": "pool_size=1"})

    lines = bouncer.ini().splitlines()

    assert lines[:4] == [
        "[databases]",
        "one = host=127.0.0.1 port=22032 pool_size=1",
        "* = host=127.0.0.1 port=22032",
        "",
    ]
    settings = dict(line.split(" = ", 1) for line in lines[5:])
    assert {key: settings[key] for key in ("listen_addr", "listen_port", "pool_mode")} == {
        "listen_addr": "127.0.0.1",
        "listen_port": "22038",
        "pool_mode": "transaction",
    }
    assert (settings["auth_user"], settings["admin_users"]) == ("postgres", "postgres")
    assert settings["unix_socket_dir"] == ""
    assert bouncer.userlist() == '"postgres" ""\n'


def test_the_stack_puts_it_in_front_of_a_given_database_and_keeps_the_direct_url(tmp_path):
    given = {"DATABASE_URL": "postgres://shop:secret@10.0.0.5:5433/shop", "REDIS_URL": "x"}
    pooled_stack = stack.Stack(tmp_path, environ=given, pgbouncer_port=22038)

    env = pooled_stack.pooled_env({**given, "OTHER": "kept"})

    upstream = (pooled_stack.pgbouncer.upstream_host, pooled_stack.pgbouncer.upstream_port)
    assert upstream == ("10.0.0.5", 5433)
    assert env == {
        "DATABASE_URL": "postgres://shop:secret@127.0.0.1:22038/shop",
        "DATABASE_DIRECT_URL": "postgres://shop:secret@10.0.0.5:5433/shop",
        "DB_TRANSACTION_POOLER": "true",
        "PGBOUNCER_ADMIN_URL": "postgres://postgres@127.0.0.1:22038/pgbouncer",
        "REDIS_URL": "x",
        "OTHER": "kept",
    }


def test_the_run_s_pgbouncer_listens_on_pg_port_plus_6():
    assert os.environ["PGBOUNCER_PORT"] == str(stack.PG_PORT + 6)
    assert pgbouncer.admin(int(os.environ["PGBOUNCER_PORT"]), "SHOW VERSION") == [
        {"version": "PgBouncer 1.18.0"}
    ]


def test_make_test_installs_pgbouncer_with_apt_get_as_root_on_debian():
    missing = {"pgbouncer": Path("/usr/sbin/pgbouncer")}
    plan = stack.package_plan(missing, root=True, debian=True, why="why")

    assert plan == [
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "pgbouncer"],
    ]
    assert stack.package_plan(missing, root=False, debian=True, why="why") == (
        "/usr/sbin/pgbouncer is missing, needed by why: run `sudo apt-get install -y pgbouncer` "
        "(Debian)"
    )
