"""PostgreSQL restarted under load, behind a real gunicorn.

A private PostgreSQL (scripts/stack.py's EmbeddedPostgres) is migrated and seeded; gunicorn
serves the app from it with the production pool settings (a short DB_POOL_TIMEOUT keeps
the test short). Shoppers place orders and browse from four threads while the server is
stopped (pg_ctl stop -m fast: sessions are terminated, in-flight transactions roll back)
and started again. What must hold whatever the interleaving:

- every answer is a success or a clean 503 JSON error with Retry-After, never a 500;
- while the server is down, requests are answered 503 (not hung);
- once it is back, every request succeeds: the pool replaced its dead connections itself;
- every order a client was told about (201) is in the database, whole: its items sum to its
  total (the deferred trigger), and stock taken equals quantities ordered (none half-written).
"""

import json
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest

from scripts.stack import EmbeddedPostgres
from tests.conftest import free_port, wait_until
from tests.faults.conftest import TIMEOUT, django_env, is_clean_503, manage, request

THREADS = 4
STOCK = 10_000
SEED = f"""
import json
from rest_framework.authtoken.models import Token
from shop.factories import ProductFactory, UserFactory
product = ProductFactory(stock_quantity={STOCK}, price="2.50")
token = Token.objects.create(user=UserFactory(username="ada")).key
print(json.dumps({{"product": product.pk, "token": token}}))
"""


@pytest.fixture
def postgres(tmp_path):
    tmp_path.chmod(0o755)  # as root, PostgreSQL runs as its own user and must reach the folder
    server = EmbeddedPostgres(tmp_path, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(postgres, tmp_path, settings):
    env = django_env(
        DATABASE_URL=postgres.url(),
        DB_POOL_MIN="2",
        DB_POOL_MAX="4",
        DB_POOL_TIMEOUT="2",  # production waits 10 s for a connection; the verdict is the same
        DB_CONNECT_TIMEOUT="2",
        THROTTLE_USER="100000/min",
        CACHE_KEY_PREFIX=f"faults-{uuid.uuid4().hex}",
    )
    manage(env, "migrate", "--no-input", "-v", "0")
    seeded = json.loads(manage(env, "shell", "-c", SEED).strip().splitlines()[-1])
    port = free_port()
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(THREADS), "--timeout", str(TIMEOUT)],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.poll() is None and b"Booting worker" in log.read_bytes())
        wait_until(lambda: request(f"{url}/healthz")[0] == 200)
        yield {"url": url, "log": log, **seeded}
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)


def order(app) -> tuple[int, dict, object]:
    body = {
        "items": [{"product": app["product"], "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "1 Road", "city": "London",
                             "postal_code": "N1", "country": "GB"},
    }  # fmt: skip
    return request(f"{app['url']}/api/v1/orders/", body=body, token=app["token"])


def browse(app) -> tuple[int, dict, object]:
    return request(f"{app['url']}/api/v1/orders/", token=app["token"])


def test_a_postgres_restart_under_load_is_503_then_recovers_and_loses_no_order(postgres, app):
    answers: list[tuple[str, tuple]] = []
    stop = threading.Event()

    def shopper(n: int) -> None:
        while not stop.is_set():
            call = order if n % 2 else browse
            answers.append((call.__name__, call(app)))

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: sum(a[1][0] == 201 for a in answers) >= 10)  # under load
        postgres.stop()  # pg_ctl stop -m fast, while requests are in flight
        down = [browse(app), order(app)]  # sent while the server is surely down
        wait_until(lambda: sum(is_clean_503(a[1]) for a in answers) >= 4)
        postgres.start()
        restarted = len(answers)
        wait_until(lambda: len(answers) >= restarted + 40)  # load goes on after the restart
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT)

    # During the outage: a clean, fast 503 JSON error, never a 500 or a hang.
    assert [is_clean_503(a) for a in down] == [True, True], down
    unexpected = [a for a in answers if a[1][0] not in (200, 201) and not is_clean_503(a[1])]
    assert unexpected == []
    # After the restart (answers to requests sent once pg_ctl start returned): all succeed.
    # A request in flight at that moment may still see the tail of the outage, so the
    # verdict starts one request per thread later.
    after = answers[restarted + THREADS :]
    assert {a[1][0] for a in after} == {200, 201}
    # Every later request, one by one, too: nothing is left broken in the pool.
    assert [browse(app)[0] for _ in range(8)] == [200] * 8
    # The server logged the outage as such (with its traceback, for the operator): no 500.
    assert "Internal Server Error" not in app["log"].read_text()
    assert "Service Unavailable: /api/v1/orders/" in app["log"].read_text()

    # No order a client was told about is lost, none is half-written.
    told = {a[1][2]["id"] for a in answers if a[1][0] == 201}
    with psycopg.connect(postgres.url()) as conn:
        rows = conn.execute(
            "SELECT o.id, o.total_amount, count(i.id), coalesce(sum(i.subtotal), 0), "
            "coalesce(sum(i.quantity), 0) FROM shop_order o "
            "LEFT JOIN shop_orderitem i ON i.order_id = o.id GROUP BY o.id"
        ).fetchall()
        (stock,) = conn.execute(
            "SELECT stock_quantity FROM shop_product WHERE id = %s", [app["product"]]
        ).fetchone()
    stored = {row[0] for row in rows}
    assert told - stored == set()
    assert [row for row in rows if row[2] != 1 or row[1] != row[3]] == []
    assert STOCK - stock == sum(row[4] for row in rows)
