"""reads: cached and uncached product detail, and product search, against a trivial view."""

from urllib.parse import quote

from django.db import connection

from bench.client import load
from bench.harness import ROUNDS, SECONDS, record, use_db
from bench.server import Server


def run() -> None:
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
