"""The bench's harness: sizes read from the environment, throwaway databases (bench_*), the
seed's fast path, and the RATIO lines every benchmark prints.

Importing it sets Django up on bench.settings, so bench/run.py imports it before anything
that touches Django; the other bench modules import their names from here.
"""

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ["DB_POOL"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connections  # noqa: E402

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ROUNDS = int(os.environ.get("ROUNDS", "2" if SMOKE else "5"))
SECONDS = float(os.environ.get("SECONDS", "0.3" if SMOKE else "4"))  # per side per round
CLIENTS = int(os.environ.get("CLIENTS", "4"))  # concurrent clients, the same on both sides
# gunicorn: servers (client n talks to server n % WEB_SERVERS), each of gthread workers x
# threads (see Server for the choice; WEB_SERVERS=1 WEB_WORKERS=4 is the earlier harness).
WEB_SERVERS = int(os.environ.get("WEB_SERVERS", str(CLIENTS)))
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "1"))
WEB_THREADS = int(os.environ.get("WEB_THREADS", "1"))
WEB_WORKER_CLASS = os.environ.get("WEB_WORKER_CLASS", "gthread")
SMALL = int(os.environ.get("SMALL", "200" if SMOKE else "10000"))
LARGE = int(os.environ.get("LARGE", "1000" if SMOKE else "1000000"))
SEED_ORDERS = int(os.environ.get("SEED_ORDERS", "500" if SMOKE else "50000"))
PGBENCH_SCALE = int(os.environ.get("PGBENCH_SCALE", "1" if SMOKE else "2"))
REQUESTS = int(os.environ.get("REQUESTS", "1" if SMOKE else "15"))  # per page per round
# The smoke run's large database is its own, dropped afterwards: never the kept bench_large.
LARGE_DB = "bench_smoke_large" if SMOKE else "bench_large"
PY = sys.executable
URL = urlsplit(os.environ["DATABASE_URL"])
RESULTS: list[tuple[str, str, float, float, float, str]] = []


def db_url(name: str) -> str:
    return urlunsplit(URL._replace(path=f"/{name}"))


def admin_sql(*statements: str) -> None:
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def manage(db: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url(db), "DJANGO_SETTINGS_MODULE": "bench.settings"}
    done = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def fresh_db(name: str) -> None:
    """A migrated empty database, cloned from bench_template (migrated once per run)."""
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin_sql(f"CREATE DATABASE {name} TEMPLATE bench_template")


def use_db(name: str) -> None:
    """This process's connections, the staff login's included (the admin pages), on `name`."""
    for alias in ("default", "staff"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name


def seed(db: str, *, orders: int, users: int, products: int) -> float:
    out = manage(
        db, "seed", "--fast", "--users", str(users), "--products", str(products),
        "--orders", str(orders), "--categories", "24", "--verbosity", "1",
    )  # fmt: skip
    return float(re.search(r"by the fast path in ([0-9.]+) s", out).group(1))


def record(pair: str, label: str, ratios: list[float], target: str, unit: str = "") -> None:
    median = statistics.median(ratios)
    RESULTS.append((pair, label, median, min(ratios), max(ratios), target))
    spread = f"[{min(ratios):.2f}-{max(ratios):.2f}]"
    print(f"RATIO {pair:<8} {label:<52} {median:6.2f} {spread:<13} target {target} {unit}")
    sys.stdout.flush()


def meets(value: float, target: str) -> bool:
    """Whether a ratio meets a target written as ">= 0.70" or "<= 1.5" ("(none)": always)."""
    match = re.match(r"([<>]=) ([0-9.]+)", target)
    if match is None:
        return True
    op, bound = match.group(1), float(match.group(2))
    return value >= bound if op == ">=" else value <= bound
