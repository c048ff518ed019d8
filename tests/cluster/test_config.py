"""What scripts/cluster.py writes and starts, read without starting anything."""

import json
from pathlib import Path

import pytest

from scripts import stack
from scripts.cluster import NODES, PACKAGES, PORTS, Cluster, from_env


def test_ten_ports_from_the_base_inside_the_reserved_offsets():
    cluster = Cluster(Path("/nowhere"), 23042)
    assert sorted(cluster.ports.values()) == list(range(23042, 23052))
    assert sorted(PORTS.values()) == list(range(10))


def test_make_cluster_takes_pg_port_plus_10_to_19_and_the_test_plus_20_to_29(monkeypatch):
    monkeypatch.delenv("CLUSTER_PORT", raising=False)
    assert from_env().ports["etcd"] == stack.PG_PORT + 10
    assert max(from_env().ports.values()) == stack.PG_PORT + 19
    stack_with_cluster = stack.Stack(environ={"CLUSTER": "1", "REDIS_URL": "redis://x/0"})
    assert isinstance(stack_with_cluster.postgres, Cluster)
    assert stack_with_cluster.direct_url() == stack_with_cluster.postgres.leader_url()
    # An external DATABASE_URL wins: the cluster is not started.
    external = stack.Stack(environ={"CLUSTER": "1", "DATABASE_URL": "postgres://x/y"})
    assert external.postgres is None


def test_patroni_runs_synchronous_with_the_measured_timings(tmp_path):
    cluster = Cluster(tmp_path, 23042)
    cluster.dir.mkdir()
    config = json.loads(cluster._patroni_config("node2").read_text())
    dcs = config["bootstrap"]["dcs"]
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (10, 2, 4)
    assert (dcs["synchronous_mode"], dcs["synchronous_mode_strict"]) == (True, False)
    assert dcs["postgresql"]["use_pg_rewind"] is dcs["postgresql"]["use_slots"] is True
    assert dcs["postgresql"]["parameters"]["shared_preload_libraries"] == "pg_stat_statements"
    assert config["etcd3"] == {"hosts": ["127.0.0.1:23042"]}
    assert config["postgresql"]["listen"] == "127.0.0.1:23044"
    assert config["restapi"]["listen"] == "127.0.0.1:23047"
    assert config["postgresql"]["bin_dir"] == str(stack.EmbeddedPostgres.bin_path())


def test_haproxy_routes_rw_to_the_primary_and_ro_to_replicas(tmp_path):
    cluster = Cluster(tmp_path, 23042)
    cluster.dir.mkdir()
    text = cluster._haproxy_config().read_text()
    rw, ro = text.split("listen rw")[1].split("listen ro")
    assert "bind 127.0.0.1:23049" in rw
    assert "option httpchk OPTIONS /primary" in rw
    assert "bind 127.0.0.1:23050" in ro
    assert "option httpchk OPTIONS /replica" in ro
    for section in (rw, ro):
        assert "on-marked-down shutdown-sessions" in section
        for n, node in enumerate(NODES):
            assert f"server {node} 127.0.0.1:{23043 + n} check port {23046 + n}" in section


def test_pgbouncer_pools_transactions_in_front_of_rw(tmp_path):
    cluster = Cluster(tmp_path, 23042)
    text = cluster.pooler.ini()
    assert "* = host=127.0.0.1 port=23049\n" in text
    assert "listen_port = 23051\n" in text
    assert "pool_mode = transaction\n" in text
    assert "server_login_retry = 1\n" in text
    assert "query_wait_timeout = 20\n" in text
    assert cluster.pooler.dir == tmp_path / "cluster" / "pgbouncer"
    users = cluster.pooler.userlist()
    assert users == '"postgres" ""\n"pgshop_app" ""\n"pgshop_staff" ""\n'


def test_missing_packages_are_installed_as_root_on_debian():
    assert sorted(PACKAGES) == ["etcd-server", "haproxy", "patroni", "pgbouncer"]
    missing = {name: PACKAGES[name] for name in ("patroni", "haproxy")}
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]
    assert stack.package_plan(missing, root=True, debian=True, why="w") == [
        ["apt-get", *lock_wait, "update", "-qq"],
        ["apt-get", *lock_wait, "install", "-y", "-qq", "patroni", "haproxy"],
    ]
    assert stack.package_plan({}, root=False, debian=False, why="w") == []


def test_ensure_packages_names_the_command_when_it_cannot_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(stack.os, "geteuid", lambda: 1000)
    ran = []
    monkeypatch.setattr(stack.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(SystemExit) as stopped:
        stack.ensure_packages({"patroni": tmp_path / "patroni"}, why="the failover cluster")
    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        f"[stack] error: {tmp_path / 'patroni'} is missing, needed by the failover cluster: run "
        "`sudo apt-get install -y patroni` (Debian)\n"
    )
    assert ran == []
