"""checkout: orders/s through the API (gunicorn, concurrent clients on 127.0.0.1) against
pgbench running the same transaction in SQL (bench/pgbench.py's CHECKOUT_SQL)."""

import json
import os
import re
import subprocess
import tempfile

from django.db import connection

from bench import cpu
from bench.client import LOAD_CPU, load
from bench.harness import CLIENTS, ROUNDS, SECONDS, URL, fresh_db, record, seed, use_db
from bench.pgbench import CHECKOUT_SQL, PGBENCH, PGBENCH_SECONDS
from bench.server import Server


def prepare():
    """bench_checkout seeded for checkouts (stock that never runs out, a token per client):
    the request maker for load(), and the ids pgbench's script draws from."""
    fresh_db("bench_checkout")
    seed("bench_checkout", orders=1000, users=CLIENTS * 4, products=300)
    use_db("bench_checkout")
    from rest_framework.authtoken.models import Token

    from shop.models import Product, User

    Product.objects.update(stock_quantity=10**9, is_active=True)
    users = list(User.objects.order_by("pk")[:CLIENTS])
    tokens = [Token.objects.get_or_create(user=user)[0].key for user in users]
    ids = sorted(Product.objects.values_list("pk", flat=True))
    third = len(ids) // 3
    pmin = ids[0]
    assert ids[-1] - pmin + 1 == len(ids), "product ids must be contiguous"
    umin, umax = users[0].pk, users[-1].pk
    connection.close()

    address = {
        "name": "Bench", "line1": "1 High Street", "city": "London",
        "postal_code": "N1 9GU", "country": "GB",
    }  # fmt: skip

    def order_request(n, rng):
        p1 = rng.randrange(pmin, pmin + third)
        body = {
            "items": [{"product": p, "quantity": 1} for p in (p1, p1 + third, p1 + 2 * third)],
            "shipping_address": address,
        }
        headers = {"Authorization": f"Token {tokens[n]}", "Content-Type": "application/json"}
        return "POST", "/api/v1/orders/", json.dumps(body), headers

    return order_request, {"pmin": pmin, "third": third, "umin": umin, "umax": umax}


def run() -> None:
    order_request, ids = prepare()
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    script.write(CHECKOUT_SQL)
    script.close()

    def pgbench_tps() -> float:
        done = subprocess.run(
            [
                PGBENCH, "-n", "-f", script.name, "-c", str(CLIENTS), "-j", "2",
                "-T", str(PGBENCH_SECONDS), *(f"-D{name}={value}" for name, value in ids.items()),
                "-h", URL.hostname,
                "-p", str(URL.port), "-U", URL.username or "postgres", "bench_checkout",
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return float(re.search(r"tps = ([0-9.]+)", done.stdout).group(1))

    server = Server("bench_checkout")
    try:
        load(server, order_request, min(SECONDS, 1))  # warm-up: plans, pools, imports
        ratios = []
        for _ in range(ROUNDS):
            # CPU per order (ms) of gunicorn, PostgreSQL and the clients: where a side's time
            # goes, so the gap can be read rather than guessed.
            web, db = server.cpu_seconds(), cpu.seconds(cpu.postgres_pids())
            api = load(server, order_request, max(1.0, SECONDS))
            orders = api * max(1.0, SECONDS)
            web = (server.cpu_seconds() - web) / orders * 1000
            db, before = cpu.seconds(cpu.postgres_pids()), db  # also pgbench's starting point
            db_api = (db - before) / orders * 1000
            sql = pgbench_tps()
            db_sql = (cpu.seconds(cpu.postgres_pids()) - db) / (sql * PGBENCH_SECONDS) * 1000
            ratios.append(api / sql)
            print(
                f"  checkout round: API {api:7.1f} orders/s, pgbench {sql:7.1f} orders/s; "
                f"CPU ms per order: API gunicorn {web:.1f}, postgres {db_api:.1f}, clients "
                f"{LOAD_CPU[-1] * 1000:.2f}; pgbench's postgres {db_sql:.1f}"
            )
    finally:
        server.stop()
        os.unlink(script.name)
    record("checkout", "API orders/s / pgbench orders/s", ratios, ">= 0.20")
