"""fastpaths: each fast path of the app (shop/fastpaths/) against the idiomatic code it
replaces, both serving the checkout side by side.

Two sets of gunicorn servers on one database: one runs the app as shipped, the other with
one fast path swapped for its idiom (bench/idioms.py), and the rounds alternate between them
as the checkout pair alternates with pgbench. A ratio above 1 is what the fast path gains in
orders/s; the gunicorn CPU per order of both sides is printed each round, as it moves less
with the neighbours' load than a rate does.
"""

from bench.benchmarks import checkout
from bench.client import load
from bench.harness import ROUNDS, SECONDS, WEB_SERVERS, record
from bench.server import Server

# The rate limits at a rate the checkout load never reaches, but with a window that holds
# requests: DRF's list is then as long as the requests of the last second (about 50).
THROTTLE_ENV = {"THROTTLE_USER": "100000/s", "THROTTLE_ANON": "100000/s"}
PAIRS = {
    "token": ("token authentication, SQL / DRF's queryset", {}),
    "prototype": ("one serializer per class / one per use", {}),
    "batched": ("one cache round trip / one per action", {}),
    "throttle": ("Lua sliding window / DRF's SimpleRateThrottle", THROTTLE_ENV),
}


def run() -> None:
    order_request, _ = checkout.prepare()
    seconds = max(1.0, SECONDS)
    for name, (label, env) in PAIRS.items():
        shipped = Server("bench_checkout", env=env)
        idiom = Server("bench_checkout", idiom=name, first_port=WEB_SERVERS, env=env)
        try:
            for server in (shipped, idiom):
                load(server, order_request, min(SECONDS, 1))  # warm-up
            ratios = []
            for _ in range(ROUNDS):
                rates, cpu = {}, {}
                for side, server in (("shipped", shipped), ("idiom", idiom)):
                    began = server.cpu_seconds()
                    rates[side] = load(server, order_request, seconds)
                    cpu[side] = (server.cpu_seconds() - began) / (rates[side] * seconds) * 1000
                ratios.append(rates["shipped"] / rates["idiom"])
                print(
                    f"  fastpaths {name} round: shipped {rates['shipped']:7.1f} orders/s "
                    f"({cpu['shipped']:.2f} ms gunicorn CPU per order), idiom "
                    f"{rates['idiom']:7.1f} orders/s ({cpu['idiom']:.2f} ms)"
                )
        finally:
            shipped.stop()
            idiom.stop()
        record("fastpath", f"{name}: {label}", ratios, "(none)", "(orders/s)")
