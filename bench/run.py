"""`make bench`: every pair measured side by side in one run, printed as ratios.

    make bench                  # moderate sizes (docs/performance.md has the figures)
    make bench-smoke            # tiny sizes: the harness runs and prints its ratio lines
    ROUNDS=7 LARGE=1000000 make bench

Pairs (target ratios: docs/performance.md):
    checkout  orders/s through the API (gunicorn, concurrent clients on 127.0.0.1) vs
              pgbench running the same transaction in SQL (locks, stock UPDATE, order and
              item INSERTs, the same triggers)                                     >= 0.20
    reads     cached / uncached product detail, product search vs a trivial view  >= 0.70
              (cached detail; the others are printed, with no target)
    growth    each admin changelist (each filter) and API list, latency at LARGE
              orders vs SMALL orders                                               <= 1.5
    audit     order writes with history on vs off (bench/audit_history.py)        >= 0.75
    seeding   manage.py seed --fast rows/s vs `pgbench -i` rows/s                 >= 0.25
    fastpath  each fast path (shop/fastpaths/) vs the idiomatic code it replaces, the
              checkout's orders/s with one and with the other (bench/idioms.py)     (none)

Each pair's two sides alternate round by round, so drift (autovacuum, a neighbour's load)
hits both alike; a ratio is the median of the per-round ratios, with its min-max spread.
Everything runs in throwaway databases (bench_*) next to the development one; bench_large
(LARGE orders, by the seed's fast path) is kept between runs, as loading it is the slow part.

The jobs are split by module: bench/harness.py (sizes, databases, RATIO lines), server.py
(gunicorn), client.py (the load generator), cpu.py (CPU time from /proc), pgbench.py (the
checkout's SQL twin), and bench/benchmarks/<pair>.py, one per pair; this file runs them.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project, for `bench.*`

import bench.harness  # noqa: E402, F401, I001  (first: it sets Django up on bench.settings)
import django  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.benchmarks import audit, checkout, fastpaths, growth, reads, seeding  # noqa: E402
from bench.harness import (  # noqa: E402
    CLIENTS,
    LARGE,
    PGBENCH_SCALE,
    RESULTS,
    ROUNDS,
    SECONDS,
    SEED_ORDERS,
    SMALL,
    admin_sql,
    db_url,
    fresh_db,
    manage,
    meets,
    seed,
)

SECTIONS = {
    "checkout": checkout.run,
    "reads": reads.run,
    "growth": growth.run,
    "audit": audit.run,
    "seeding": seeding.run,
    "fastpaths": fastpaths.run,
}


def main() -> None:
    chosen = [name for name in os.environ.get("ONLY", "").split(",") if name] or list(SECTIONS)
    began = time.perf_counter()
    with psycopg.connect(db_url("postgres")) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"machine: {os.cpu_count()} CPUs, {memory:.1f} GiB; PostgreSQL {version}; "
        f"Python {sys.version.split()[0]}; Django {django.get_version()}"
    )
    print(
        f"sizes: rounds {ROUNDS}, {SECONDS} s per side, {CLIENTS} clients, growth {SMALL} vs "
        f"{LARGE} orders, seeding {SEED_ORDERS} orders vs pgbench -i -s {PGBENCH_SCALE}"
    )
    admin_sql(
        "DROP DATABASE IF EXISTS bench_template WITH (FORCE)", "CREATE DATABASE bench_template"
    )
    manage("bench_template", "migrate", "--no-input", "-v", "0")
    assert settings.ROOT_URLCONF == "bench.urls"
    try:
        if "checkout" in chosen or "reads" in chosen:
            checkout.run() if "checkout" in chosen else None
            if "reads" in chosen:
                if "checkout" not in chosen:
                    fresh_db("bench_checkout")
                    seed("bench_checkout", orders=100, users=CLIENTS * 4, products=300)
                reads.run()
        for name in ("growth", "audit", "seeding", "fastpaths"):
            if name in chosen:
                SECTIONS[name]()
    finally:
        connection.close()
        admin_sql(
            "DROP DATABASE IF EXISTS bench_checkout WITH (FORCE)",
            "DROP DATABASE IF EXISTS bench_small WITH (FORCE)",
            "DROP DATABASE IF EXISTS bench_template WITH (FORCE)",
            "DROP DATABASE IF EXISTS bench_smoke_large WITH (FORCE)",
        )
    print(f"done in {time.perf_counter() - began:.0f} s")
    failed = [r for r in RESULTS if not meets(r[2], r[5])]
    print(f"{len(RESULTS) - len(failed)} of {len(RESULTS)} ratios meet their targets")


if __name__ == "__main__":
    main()
