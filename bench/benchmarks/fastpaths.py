"""fastpaths: each fast path of the app (shop/fastpaths/) against the idiomatic code it
replaces, side by side.

- Under load: two sets of gunicorn servers on one database, one running the app as shipped,
  the other with one fast path swapped for its idiom (bench/idioms.py); the rounds alternate
  between them as the checkout pair alternates with pgbench. A ratio above 1 is what the fast
  path gains in orders/s.
- In-process: CPU time of this process per checkout (Django's test client, one at a time),
  idiom / fast path, alternating block by block: what the fast path saves in Python, a
  figure that moves far less with the neighbours' load than a rate does.
- The breaker: requests answered during a Redis stall, with it and without.
"""

import logging
import random
import time
from unittest import mock

import redis
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from bench import idioms
from bench.benchmarks import checkout
from bench.client import load
from bench.harness import ROUNDS, SECONDS, SMOKE, WEB_SERVERS, record, use_db
from bench.server import Server
from shop import cache as shop_cache

# The rate limits at a rate the checkout load never reaches, but with a window that holds
# requests: DRF's list is then as long as the requests of the last second (about 50).
THROTTLE_ENV = {"THROTTLE_USER": "100000/s", "THROTTLE_ANON": "100000/s"}
PAIRS = {
    "serializer_reuse": ("one serializer per class / one per use", {}),
    "token_lookup": ("token and user by SQL / DRF's queryset", {}),
    "throttle_window": ("Lua sliding window / DRF's SimpleRateThrottle", THROTTLE_ENV),
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
    for name, (label, env) in PAIRS.items():
        run_in_process(name, label, order_request, env)
    run_stall()


CHECKOUTS = 10 if SMOKE else 200  # per side per round, in-process


def cpu_per_checkout(client: Client, order_request, rng) -> float:
    """Milliseconds of this process's CPU per checkout, over CHECKOUTS of them."""
    began = time.process_time()
    for _ in range(CHECKOUTS):
        _, path, body, headers = order_request(0, rng)
        response = client.post(path, body, content_type="application/json", headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"{path}: {response.status_code}")
    return (time.process_time() - began) / CHECKOUTS * 1000


def run_in_process(name: str, label: str, order_request, env: dict[str, str]) -> None:
    use_db("bench_checkout")
    rates = {"user": env.get("THROTTLE_USER"), "anon": env.get("THROTTLE_ANON")}
    framework = {**settings.REST_FRAMEWORK}
    framework["DEFAULT_THROTTLE_RATES"] = {
        **framework["DEFAULT_THROTTLE_RATES"],
        **{scope: rate for scope, rate in rates.items() if rate},
    }
    client, rng = Client(), random.Random(0)
    ratios = []
    with override_settings(REST_FRAMEWORK=framework):
        cpu_per_checkout(client, order_request, rng)  # warm-up
        for _ in range(ROUNDS):
            shipped = cpu_per_checkout(client, order_request, rng)
            with idioms.swapped(name):
                idiom = cpu_per_checkout(client, order_request, rng)
            ratios.append(idiom / shipped)
            print(
                f"  fastpaths {name} in-process round: {shipped:.2f} ms CPU per checkout "
                f"shipped, {idiom:.2f} ms idiom"
            )
    connection.close()
    record("fastpath", f"{name}: CPU per checkout in-process, idiom / fast path", ratios,
           "(none)", f"({label})")  # fmt: skip


# A Redis that stops answering (CLIENT PAUSE: paused, overloaded, a network partition) costs
# each Redis call SOCKET_TIMEOUT. The breaker's pair: requests answered during a stall, in
# this process through Django's test client, with the breaker and with one that never opens
# (what django-redis's IGNORE_EXCEPTIONS alone gives: the error swallowed, the wait not).
STALL_SECONDS = 2.0


def answered_during_a_stall(client: Client, paths: list[str]) -> int:
    control = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    shop_cache.breaker.reset()
    control.execute_command("CLIENT", "PAUSE", int(STALL_SECONDS * 1000), "ALL")
    stop = time.monotonic() + STALL_SECONDS
    done = 0
    while time.monotonic() < stop:
        response = client.get(paths[done % len(paths)])
        if response.status_code != 200:
            raise RuntimeError(f"{paths[done % len(paths)]}: {response.status_code}")
        done += 1
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"], socket_timeout=10).ping()
    return done


def run_stall() -> None:
    use_db("bench_checkout")
    from shop.models import Product

    ids = list(Product.objects.filter(is_active=True).values_list("pk", flat=True)[:50])
    paths = [f"/api/v1/products/{pk}/" for pk in ids]
    client = Client()
    for path in paths:
        client.get(path)  # cached before the stall
    ratios = []
    logging.disable(logging.CRITICAL)  # each stalled request logs its Redis timeouts
    for _ in range(ROUNDS):
        shipped = answered_during_a_stall(client, paths)
        with (
            mock.patch.object(shop_cache.breaker, "closed", return_value=True),
            mock.patch.object(shop_cache.breaker, "trip", return_value=None),
        ):
            idiom = answered_during_a_stall(client, paths)
        ratios.append(shipped / max(1, idiom))
        print(
            f"  fastpaths cache_breaker round: {shipped} requests answered in a "
            f"{STALL_SECONDS:.0f} s Redis stall with the breaker, {idiom} without"
        )
    logging.disable(logging.NOTSET)
    shop_cache.breaker.reset()
    connection.close()
    record("fastpath", "cache_breaker: requests in a Redis stall, breaker / none", ratios, "(none)")
