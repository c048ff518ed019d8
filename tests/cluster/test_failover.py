"""The leader of a Patroni cluster lost under a stream of checkouts, behind a real gunicorn.

scripts/cluster.py starts a cluster of this test's own (etcd, three Patroni nodes on the
embedded PostgreSQL 18, HAProxy, PgBouncer) on its own ports (CLUSTER_TEST_PORT, default
PG_PORT + 20), migrated through HAProxy's :rw. gunicorn serves the app through PgBouncer,
with the production pool settings. Shoppers place orders, each with an Idempotency-Key,
while the leader's node is lost (its Patroni and its postmaster SIGKILLed: no shutdown, the
leader key left to expire). What must hold:

- every answer is a 201 or a clean 503 JSON error with Retry-After, never a 500, never a hang
  (each request has a 30 s bound);
- the synchronous standby is promoted, and the app recovers without a restart;
- every order answered 201 is on the new leader, whole (its items, its total); no order is
  half-written; retrying each key that got no 201 gives each key exactly one order.

It prints the seconds without a successful checkout and the orders acknowledged / found.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from scripts import stack
from scripts.cluster import NODES, Cluster
from tests.conftest import free_port, wait_until
from tests.faults.conftest import TIMEOUT, django_env, is_clean_503, manage, request

THREADS = 3
STOCK = 10_000
PRICE = "2.50"
SEED = f"""
import json
from rest_framework.authtoken.models import Token
from shop.factories import ProductFactory, UserFactory
product = ProductFactory(stock_quantity={STOCK}, price="{PRICE}")
token = Token.objects.create(user=UserFactory(username="ada")).key
print(json.dumps({{"product": product.pk, "token": token}}))
"""
# Prints the port of the server a Django connection reaches, and whether it is a standby.
WHERE = (
    "import json\n"
    "from django.db import connection\n"
    "with connection.cursor() as c:\n"
    "    c.execute('SELECT inet_server_port(), pg_is_in_recovery()')\n"
    "    print(json.dumps(list(c.fetchone())))\n"
)


@pytest.fixture(scope="module")
def cluster():
    base = int(os.environ.get("CLUSTER_TEST_PORT", stack.PG_PORT + 20))
    server = Cluster(stack.DATA / "failover-test", base)
    server.destroy()  # what the last run left: stopped, and bootstrapped anew
    server.start()
    yield server
    server.stop()  # its logs stay in .data/failover-test/cluster/ until the next run


@pytest.fixture(scope="module")
def app(cluster):
    env = django_env(
        DATABASE_URL=cluster.url(),  # PgBouncer -> HAProxy :rw -> the leader
        DB_POOL_MIN="2",
        DB_POOL_MAX="4",
        DB_POOL_TIMEOUT="2",
        DB_CONNECT_TIMEOUT="2",
        THROTTLE_USER="100000/min",
        CACHE_KEY_PREFIX=f"failover-{uuid.uuid4().hex}",
    )
    owner = {**env, "DATABASE_URL": cluster.leader_url()}  # migrations straight to the leader
    manage(owner, "migrate", "--no-input", "-v", "0")
    seeded = json.loads(manage(owner, "shell", "-c", SEED).strip().splitlines()[-1])
    port = free_port()
    log = cluster.dir / "gunicorn.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(THREADS + 1), "--timeout", str(TIMEOUT)],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.poll() is None and b"Booting worker" in log.read_bytes())
        wait_until(lambda: request(f"{url}/healthz")[0] == 200)
        yield {"url": url, "log": log, "env": env, "pid": server.pid, **seeded}
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


def checkout(app, key: str):
    body = {
        "items": [{"product": app["product"], "quantity": 2}],
        "shipping_address": {"name": "Ada", "line1": "1 Road", "city": "London",
                             "postal_code": "N1", "country": "GB"},
    }  # fmt: skip
    return request(f"{app['url']}/api/v1/orders/", body=body, token=app["token"], key=key)


def test_the_leader_lost_mid_stream_loses_no_acknowledged_order(cluster, app, capsys):
    old = cluster.leader()
    with psycopg.connect(cluster.leader_url()) as conn:
        # Synchronous replication is on: a COMMIT waits for one named standby.
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        (standbys,) = conn.execute("SHOW synchronous_standby_names").fetchone()
    sync = [m["name"] for m in cluster.members() if m["role"] == "sync_standby"]
    assert len(sync) == 1
    assert standbys == sync[0]

    # (key, sent at, answered at, answer), in the order answered.
    answers: list[tuple[str, float, float, tuple]] = []
    stop = threading.Event()

    def shopper() -> None:
        while not stop.is_set():
            key = uuid.uuid4().hex
            sent = time.monotonic()
            answer = checkout(app, key)
            answers.append((key, sent, time.monotonic(), answer))

    def acknowledged() -> int:
        return sum(a[3][0] == 201 for a in answers)

    threads = [threading.Thread(target=shopper) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: acknowledged() >= 15)  # under load
        killed_at = time.monotonic()
        cluster.kill_node(old)  # the leader's machine lost, mid-stream
        new = wait_until(lambda: (cluster.leader() not in (None, old)) and cluster.leader())
        after_kill = len(answers)
        wait_until(lambda: sum(a[3][0] == 201 for a in answers[after_kill:]) >= 15, timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT)

    # Only the synchronous standby may be promoted.
    assert new == sync[0]
    # Every answer, during the switch too: a 201, or a clean 503 JSON error with Retry-After.
    unexpected = [a[3] for a in answers if a[3][0] != 201 and not is_clean_503(a[3])]
    assert unexpected == [], app["log"].read_text()[-5000:]
    assert "Internal Server Error" not in app["log"].read_text()
    # Recovered without a restart: the same gunicorn, every request one by one succeeds.
    assert [checkout(app, uuid.uuid4().hex)[0] for _ in range(5)] == [201] * 5
    assert app["log"].read_text().count("Booting worker") == 1

    told = {a[3][2]["id"]: a[3][2] for a in answers if a[3][0] == 201}
    with psycopg.connect(cluster.leader_url()) as conn:
        # HAProxy's :rw reaches the new leader.
        port, recovery = conn.execute("SELECT inet_server_port(), pg_is_in_recovery()").fetchone()
        assert (port, recovery) == (cluster.ports[new], False)
        rows = conn.execute(
            "SELECT o.id, o.total_amount::text, count(i.id), coalesce(sum(i.subtotal), 0)::text, "
            "coalesce(sum(i.quantity), 0) FROM shop_order o "
            "LEFT JOIN shop_orderitem i ON i.order_id = o.id GROUP BY o.id"
        ).fetchall()
        (stock,) = conn.execute(
            "SELECT stock_quantity FROM shop_product WHERE id = %s", [app["product"]]
        ).fetchone()
    stored = {row[0]: row for row in rows}
    # Every acknowledged order is on the new leader with its one line and its total.
    found = [oid for oid in told if oid in stored]
    assert sorted(found) == sorted(told)
    assert {oid: (stored[oid][1], stored[oid][2], stored[oid][4]) for oid in told} == {
        oid: (body["total_amount"], 1, 2) for oid, body in told.items()
    }
    assert {body["total_amount"] for body in told.values()} == {"5.00"}
    # No order is half-written: each has its line, its total is its line's, stock matches.
    assert [row for row in rows if row[2] != 1 or row[1] != row[3] or row[4] != 2] == []
    assert STOCK - stock == sum(row[4] for row in rows)

    # A key that got no 201 (its answer lost in the switch) is retried: the order is made
    # now, or the one committed before the crash is replayed; never two for one key.
    unanswered = [a[0] for a in answers if a[3][0] != 201]
    retried = [checkout(app, key) for key in unanswered]
    assert [answer[0] for answer in retried] == [201] * len(unanswered)
    with psycopg.connect(cluster.leader_url()) as conn:
        (orders,) = conn.execute("SELECT count(*) FROM shop_order").fetchone()
        (keys,) = conn.execute("SELECT count(*) FROM shop_idempotencykey").fetchone()
    assert orders == keys == len(answers) + 5

    # The settings keep a multi-host URL's target_session_attrs: listed first, the dead
    # node and a standby; the connection still lands on the leader.
    standby = next(n for n in NODES if n not in (old, new))
    hosts = ",".join(f"127.0.0.1:{cluster.ports[n]}" for n in (old, standby, new))
    multi = f"postgres://postgres@{hosts}/{cluster.database}?target_session_attrs=read-write"
    where = manage({**app["env"], "DATABASE_URL": multi, "DB_POOL": "false"}, "shell", "-c", WHERE)
    assert json.loads(where.strip().splitlines()[-1]) == [cluster.ports[new], False]

    # The lost node comes back: it rejoins as a replica of the new leader, and with
    # synchronous replication nothing it had acknowledged is discarded on the way.
    cluster.start_node(old)
    wait_until(cluster.healthy, timeout=60)
    members = {m["name"]: m["role"] for m in cluster.members()}
    assert members[new] == "leader"
    assert members[old] in {"replica", "sync_standby"}
    with psycopg.connect(cluster.node_url(new)) as conn:
        (lsn,) = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()

    def replayed():
        with psycopg.connect(cluster.node_url(old)) as conn:
            return conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[
                0
            ]

    wait_until(replayed, timeout=30)
    with psycopg.connect(cluster.node_url(old)) as conn:
        on_old = {
            row[0]
            for row in conn.execute("SELECT id FROM shop_order WHERE id = ANY(%s)", [list(told)])
        }
    assert on_old == set(told)

    # The figures docs/scaling.md records.
    last_before = max(a[2] for a in answers if a[3][0] == 201 and a[2] <= killed_at)
    first_after = min(a[2] for a in answers if a[3][0] == 201 and a[1] >= killed_at)
    longest = max(a[2] - a[1] for a in answers)
    with capsys.disabled():
        print(
            f"\nfailover: leader {old} lost, {new} promoted; "
            f"{first_after - last_before:.1f} s without a successful checkout, longest answer "
            f"{longest:.1f} s; {len(answers)} checkouts: {len(told)} acknowledged (201), "
            f"{len(found)} found on the new leader, {len(told) - len(found)} lost; "
            f"{len(unanswered)} answered 503 (each retried by its key: {orders} orders for "
            f"{keys} keys); {old} rejoined as {members[old]} with all {len(on_old)}"
        )
