import pytest
from django.db import connection


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
