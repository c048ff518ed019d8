"""Read-your-writes on the stack's streaming replica, measured: how long after a commit on
the primary the replica has replayed past its LSN, and how often a read on the replica right
after the commit misses the row. A scratch table in the `shop` database, dropped afterwards.

    REPLICAS=1 .venv/bin/python scripts/stack.py exec -- .venv/bin/python bench/replica_lag.py
"""

import os
import statistics
import sys
import time

import psycopg

ROUNDS = int(os.environ.get("ROUNDS", "200"))
POLL_TIMEOUT = 5.0  # seconds a single wait may take before the run stops


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def main() -> int:
    primary_url = os.environ["DATABASE_URL"]
    replica_url = os.environ.get("DATABASE_REPLICA_URL", "").split(",")[0]
    if not replica_url:
        print("no replica: run with REPLICAS=1 (see the docstring)", file=sys.stderr)
        return 2
    with (
        psycopg.connect(primary_url, autocommit=True) as primary,
        psycopg.connect(replica_url, autocommit=True) as replica,
    ):
        primary.execute("CREATE TABLE bench_replica_lag (id int PRIMARY KEY)")
        try:
            waits, missed = [], 0
            for n in range(ROUNDS):
                primary.execute("INSERT INTO bench_replica_lag VALUES (%s)", [n])
                target = lsn(primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
                began = time.perf_counter()
                found = replica.execute("SELECT count(*) FROM bench_replica_lag WHERE id = %s", [n])
                missed += found.fetchone()[0] == 0
                while True:
                    replayed = replica.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
                    if lsn(replayed[0]) >= target:
                        break
                    if time.perf_counter() - began > POLL_TIMEOUT:
                        print(
                            f"replica not past the commit after {POLL_TIMEOUT} s", file=sys.stderr
                        )
                        return 1
                waits.append((time.perf_counter() - began) * 1000)
        finally:
            primary.execute("DROP TABLE bench_replica_lag")
    waits.sort()
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    print(
        f"rounds {ROUNDS}: a read on the replica right after COMMIT missed the row {missed} times"
    )
    print(
        f"wait for replay past the commit LSN: median {statistics.median(waits):.2f} ms, "
        f"p99 {p99:.2f} ms, max {waits[-1]:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
