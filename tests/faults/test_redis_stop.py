"""Redis stopped under load: the API keeps answering from PostgreSQL and recovers by itself.

Redis holds the API's rate-limit counters and the cached catalogue reads (shop/cache.py).
The live server's cache points at a redis-server of this test's own, which is stopped and
started while four threads browse the catalogue anonymously and as a signed-in shopper.
The settings make every cache user degrade to "no cache"
(IGNORE_EXCEPTIONS, 0.5 s timeouts, no retries): the rate limiter fails open rather than
refusing everyone, and every request is answered 200 from PostgreSQL.
"""

import pytest
import redis
from rest_framework.authtoken.models import Token

from scripts.stack import EmbeddedRedis
from shop.factories import ProductFactory, UserFactory
from tests.conftest import wait_until
from tests.faults.conftest import browsing

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4


def counters(server: EmbeddedRedis) -> int:
    """How many rate-limit counters the private Redis holds (it answers: it is up)."""
    return len(redis.Redis.from_url(server.url()).keys("*throttle_*"))


def test_redis_stopped_under_load_costs_no_request_and_recovers(live_server, private_redis):
    product = ProductFactory(name="Lamp")
    token = Token.objects.create(user=UserFactory(username="ada")).key
    urls = [
        f"{live_server.url}/api/v1/products/",
        f"{live_server.url}/api/v1/products/{product.pk}/",
    ]
    with browsing(urls, token, THREADS) as answers:
        wait_until(lambda: len(answers) >= 20)
        # Redis in use: the anonymous IP's anon and user counters, and the shopper's.
        assert counters(private_redis) == 3
        private_redis.stop()
        stopped = len(answers)
        wait_until(lambda: len(answers) >= stopped + 40)  # served while Redis is down
        private_redis.start()
        redis.Redis.from_url(private_redis.url()).flushall()  # counters must be written anew
        wait_until(lambda: counters(private_redis) == 3)  # recovered by itself: in use again
        restarted = len(answers)
        wait_until(lambda: len(answers) >= restarted + 20)

    assert set(answers) == {200}
