"""Redis with Sentinel: the cache's master SIGKILLed under traffic.

The live server's cache is django-redis's SentinelClient on a Sentinel setup of this test's
own (scripts/sentinel.py; settings REDIS_SENTINELS): it asks the sentinels for the master.
Four threads browse the catalogue (each request reads the cache and writes rate-limit
counters) while the master is killed. Until the sentinels promote the replica, the cache
degrades to "no cache" (IGNORE_EXCEPTIONS, the breaker): every request is still answered
200 from PostgreSQL. Then the cache writes to the new master, found through the sentinels,
without a restart.
"""

import os
import time

import pytest
import redis
from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework.authtoken.models import Token

from config.settings.base import sentinel_cache_options
from shop.factories import ProductFactory, UserFactory
from tests.brokers.conftest import TIMEOUT
from tests.conftest import wait_until
from tests.faults.conftest import browsing

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4


def counters(port: int) -> int:
    """How many rate-limit counters the Redis on `port` holds."""
    return len(redis.Redis(port=port).keys("*throttle_*"))


@pytest.fixture
def sentinel_cache(sentinel_setup, settings):
    """The cache pointed at the Sentinel setup, as REDIS_SENTINELS does in the settings."""
    default = settings.CACHES["default"]
    settings.CACHES = {
        "default": {
            **default,
            "LOCATION": ["redis://pgshop/0"],
            "OPTIONS": {**default["OPTIONS"], **sentinel_cache_options(sentinel_setup.sentinels)},
        }
    }
    return sentinel_setup


def test_the_cache_s_master_killed_costs_no_request_and_the_new_master_takes_over(
    live_server, sentinel_cache
):
    setup = sentinel_cache
    product = ProductFactory(name="Lamp")
    token = Token.objects.create(user=UserFactory(username="ada")).key
    urls = [
        f"{live_server.url}/api/v1/products/",
        f"{live_server.url}/api/v1/products/{product.pk}/",
    ]
    with browsing(urls, token, THREADS) as answers:
        wait_until(lambda: len(answers) >= 20)
        assert counters(setup.master_port) == 3  # anon IP's anon and user counters, ada's
        old_master = setup.kill(setup.master_port)
        killed = time.monotonic()
        wait_until(lambda: setup.master() == ("127.0.0.1", setup.replica_port), timeout=TIMEOUT)
        promoted = time.monotonic() - killed
        # The counters came over by replication: wipe them, and see them written anew.
        redis.Redis(port=setup.replica_port).flushall()
        wait_until(lambda: counters(setup.replica_port) == 3, timeout=TIMEOUT)
        print(f"\nsentinels promoted the replica {promoted:.2f} s after the kill; "
              f"the cache wrote to it {time.monotonic() - killed:.2f} s after")  # fmt: skip
        served = len(answers)
        wait_until(lambda: len(answers) >= served + 20)

    assert set(answers) == {200}
    assert setup.role(setup.replica_port) == "master"
    assert not setup.running()  # the old master stays dead: nothing restarted it
    with pytest.raises(ProcessLookupError):
        os.kill(old_master, 0)
    # This thread's cache client too: its writes land on the new master, read back from it.
    assert cache.set("after-failover", "yes") is True
    assert cache.get("after-failover") == "yes"
    master = get_redis_connection("default")
    assert master.connection_pool.get_master_address() == ("127.0.0.1", setup.replica_port)
    assert master.get(cache.make_key("after-failover")) is not None
