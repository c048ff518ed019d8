"""What REDIS_SENTINELS and CELERY_BROKER_URL make of the cache and broker settings.

config/settings/base.py is executed afresh for each environment (as a module of its own
name, so the running settings are untouched).
"""

import importlib.util
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2] / "config" / "settings" / "base.py"
SENTINEL_KWARGS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def settings_with(monkeypatch, **env: str):
    for name in ("REDIS_SENTINELS", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("base_settings_under_test", BASE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_redis_server_without_sentinels(monkeypatch):
    base = settings_with(monkeypatch, REDIS_URL="redis://10.0.0.5:6380/2")

    assert base.CACHES["default"]["LOCATION"] == "redis://10.0.0.5:6380/2"
    assert "CLIENT_CLASS" not in base.CACHES["default"]["OPTIONS"]
    assert base.CELERY_BROKER_URL == "redis://10.0.0.5:6380/3"
    assert base.CELERY_BROKER_TRANSPORT_OPTIONS == {"visibility_timeout": 3600}


def test_sentinels_serve_the_cache_from_the_master_and_the_broker_through_each_sentinel(
    monkeypatch,
):
    base = settings_with(
        monkeypatch, REDIS_URL="redis://pgshop/4", REDIS_SENTINELS="10.0.0.1:26379,s2:26380"
    )

    cache = base.CACHES["default"]
    assert cache["LOCATION"] == ["redis://pgshop/4"]  # one server: reads on the master
    assert {key: cache["OPTIONS"][key] for key in (
        "CLIENT_CLASS", "CONNECTION_FACTORY", "SENTINELS", "SENTINEL_KWARGS", "IGNORE_EXCEPTIONS"
    )} == {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": [("10.0.0.1", 26379), ("s2", 26380)],
        "SENTINEL_KWARGS": SENTINEL_KWARGS,
        "IGNORE_EXCEPTIONS": True,
    }  # fmt: skip
    assert base.CELERY_BROKER_URL == "sentinel://10.0.0.1:26379/5;sentinel://s2:26380/5"
    assert base.CELERY_BROKER_TRANSPORT_OPTIONS == {
        "visibility_timeout": 3600,
        "master_name": "pgshop",
        "sentinel_kwargs": SENTINEL_KWARGS,
    }


@pytest.mark.parametrize("scheme", ["amqp", "pyamqp"])
def test_rabbitmq_publishes_with_confirms_and_every_broker_retries_a_failed_publish(
    monkeypatch, scheme
):
    base = settings_with(
        monkeypatch, REDIS_URL="redis://redis:6379/0", CELERY_BROKER_URL=f"{scheme}://u:p@mq//shop"
    )

    assert f"{scheme}://u:p@mq//shop" == base.CELERY_BROKER_URL
    assert base.CELERY_BROKER_TRANSPORT_OPTIONS == {"confirm_publish": True}
    assert base.CELERY_TASK_PUBLISH_RETRY is True
    assert base.CELERY_TASK_PUBLISH_RETRY_POLICY == {
        "max_retries": 30, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5
    }  # fmt: skip
