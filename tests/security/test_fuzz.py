"""The API fuzzed against its own OpenAPI schema (docs/openapi.yaml) with schemathesis.

Every operation gets a bounded number of generated requests (hypothesis, derandomized:
the same inputs on every run), once anonymous and once with a shopper's token, through the
real WSGI application, the test database and Redis. Every answer must be no 5xx, a status
the schema documents for the operation, the documented content type and headers, and a
body that validates against the documented schema.

One check is left out: positive_data_acceptance (every schema-valid request must succeed).
Rules the schema cannot state refuse schema-valid input, rightly: a wrong password at login,
a weak or taken one at registration, an unknown product in an order, an empty cursor. Those
answers are still checked to be documented 4xx in the error shape.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from shop.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
EXAMPLES = 10  # per operation and client, plus schemathesis's own edge cases; seconds in all

schema = schemathesis.openapi.from_path(SCHEMA)
schema.app = get_wsgi_application()  # requests go through the real WSGI app, in-process


@schema.hook
def filter_query(ctx, query) -> bool:
    """No empty query values (`?ordering=`): like an HTML form's empty field, the lists take
    them as "not given" (django-filter's convention), which the schema cannot express."""
    return all(value != "" for value in (query or {}).values())


@pytest.fixture
def world(settings):
    """A catalogue and orders to find, and no rate limit getting in the way.

    As Django's test client does, neither the start nor the end of a request closes the
    connection: the test's transaction (rolled back afterwards) must survive from one
    request to the next.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min",
                                   "login": "100000/min"},
    }  # fmt: skip
    ada = UserFactory(username="ada")
    for product in ProductFactory.create_batch(3):
        OrderFactory(user=ada, lines=[(product, 1)])
    yield {"token": Token.objects.create(user=ada).key}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


EXCLUDED = [positive_data_acceptance]
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,  # nothing remembered between runs: every run is the same
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)  # fmt: skip


@schema.parametrize()
@FUZZ
def test_anonymous(case, world):
    case.call_and_validate(excluded_checks=EXCLUDED)


@schema.parametrize()
@FUZZ
def test_authenticated(case, world):
    case.call_and_validate(
        headers={"Authorization": f"Token {world['token']}"}, excluded_checks=EXCLUDED
    )


def test_list_endpoints_document_their_refusals():
    """Found by the fuzzer: the product and order lists answered 400 (a bad filter or cursor)
    and 401 (orders, signed out) without the schema saying so."""
    responses = {
        (path, method): sorted(operation["responses"])
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post"} and path in {"/api/v1/products/", "/api/v1/orders/"}
    }

    assert responses == {
        ("/api/v1/products/", "get"): ["200", "400"],
        ("/api/v1/orders/", "get"): ["200", "400", "401"],
        ("/api/v1/orders/", "post"): ["201", "400", "401", "409", "422", "503"],
    }
