import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connection

# pytest-django's live_server is Django's threaded development server, which listens with a
# backlog of 10: the 11th connection arriving at once is reset by the kernel before a thread
# can accept it. The concurrency tests open 20-40 at once (gunicorn's backlog is 2048).
WSGIServer.request_queue_size = 128


@pytest.fixture
def immediate_constraints():
    """Run deferred constraint triggers now rather than at COMMIT.

    Tests run inside a transaction that is rolled back, so deferred checks (the order total)
    would otherwise never fire.
    """

    def check():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    return check


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no cached values and a closed breaker (keys of this run only)."""
    from django.core.cache import cache

    from shop.cache import breaker

    cache.delete_pattern("*")
    breaker.reset()
    yield
    cache.delete_pattern("*")
    breaker.reset()
