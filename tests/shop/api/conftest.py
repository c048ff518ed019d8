"""Fixtures for the API tests: clients authenticated the way real clients are (a token in
the Authorization header, so each request pays the token lookup it pays in production)."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shop.factories import UserFactory
from shop.models import Category, IdempotencyKey, Order, OrderItem, Product, User

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def fresh_throttle_counters():
    """Rate-limit counters live in Redis across tests; each test starts with none."""
    cache.delete_pattern("throttle_*")
    yield
    cache.delete_pattern("throttle_*")


@pytest.fixture
def anon():
    return APIClient()


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def user():
    return UserFactory(username="ada", email="ada@example.com", raw_password=PASSWORD)


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def staff():
    return client_for(UserFactory(username="boss", is_staff=True))


def row_counts() -> dict[str, int]:
    """How many rows each table the API writes holds: a refused request changes none."""
    return {
        model.__name__: model.objects.count()
        for model in (User, Category, Product, Order, OrderItem, IdempotencyKey, Token)
    }


def error(response, status: int, code: str) -> dict:
    """Assert the one error shape, its status and code; return the body."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "fields"}, body
    assert body["code"] == code, body
    assert body["message"], body
    return body
