"""seeding: manage.py seed --fast rows/s against `pgbench -i` rows/s."""

import subprocess
import time

import psycopg

from bench.harness import (
    PGBENCH_SCALE,
    ROUNDS,
    SEED_ORDERS,
    URL,
    admin_sql,
    db_url,
    fresh_db,
    record,
    seed,
)
from bench.pgbench import PGBENCH


def run() -> None:
    users, products = max(10, SEED_ORDERS // 10), max(30, SEED_ORDERS // 20)
    ratios = []
    for _ in range(ROUNDS):
        fresh_db("bench_seed")
        seconds = seed("bench_seed", orders=SEED_ORDERS, users=users, products=products)
        with psycopg.connect(db_url("bench_seed")) as conn:
            rows = sum(
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in (
                    "shop_user", "shop_userprofile", "shop_category", "shop_product",
                    "shop_order", "shop_orderitem",
                )
            )  # fmt: skip
        ours = rows / seconds
        admin_sql(
            "DROP DATABASE IF EXISTS bench_pgbench WITH (FORCE)", "CREATE DATABASE bench_pgbench"
        )
        began = time.perf_counter()
        subprocess.run(
            [
                PGBENCH, "-i", "-q", "-s", str(PGBENCH_SCALE), "-h", URL.hostname,
                "-p", str(URL.port), "-U", URL.username or "postgres", "bench_pgbench",
            ],
            capture_output=True, check=True,
        )  # fmt: skip
        theirs = (100_000 * PGBENCH_SCALE + 11 * PGBENCH_SCALE) / (time.perf_counter() - began)
        ratios.append(ours / theirs)
        print(
            f"  seeding round: seed {ours:9.0f} rows/s ({rows} rows), "
            f"pgbench -i {theirs:9.0f} rows/s"
        )
    admin_sql("DROP DATABASE IF EXISTS bench_seed WITH (FORCE)")
    admin_sql("DROP DATABASE IF EXISTS bench_pgbench WITH (FORCE)")
    record("seeding", "seed rows/s / pgbench -i rows/s", ratios, ">= 0.25")
