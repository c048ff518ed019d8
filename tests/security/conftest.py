"""The API tests' clients and fixtures, shared (tests/shop/api/conftest.py)."""

from tests.shop.api.conftest import anon, api, fresh_throttle_counters, staff, user  # noqa: F401
