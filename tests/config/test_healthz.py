"""/healthz: 200 when PostgreSQL and Redis answer, 503 naming whichever did not.

"Down" is real here: the connection goes to a port nothing listens on.
"""

import socket

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.fixture
def database_down():
    original = connections["default"]
    settings = {
        **original.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": closed_port(),
        "OPTIONS": {**original.settings_dict["OPTIONS"], "pool": False, "connect_timeout": 1},
    }
    connections["default"] = original.__class__(settings, alias="default")
    yield
    connections["default"].close()
    connections["default"] = original


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }


def test_healthy(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_redis_down(client, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable", "status": "unavailable"}


def test_database_down(client, database_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"database": "unavailable", "redis": "ok", "status": "unavailable"}


def test_both_down(client, database_down, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "database": "unavailable",
        "redis": "unavailable",
        "status": "unavailable",
    }
