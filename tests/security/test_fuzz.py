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

import base64
import json
from pathlib import Path

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
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
def world():
    """A catalogue and orders to find, with the normal rate limits: a 429 is an answer the
    schema documents (with Retry-After), so throttling is fuzzed too, not switched off.

    As Django's test client does, neither the start nor the end of a request closes the
    connection: the test's transaction (rolled back afterwards) must survive from one
    request to the next.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
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
    and 401 (orders, signed out) without the schema saying so; and every operation can be
    throttled (429), refuse an Accept header (406) or meet a database outage (503), and
    every one that reads a body can get one too large (413) or not JSON (415)."""
    responses = {
        (path, method): sorted(operation["responses"])
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post"} and path in {"/api/v1/products/", "/api/v1/orders/"}
    }

    assert responses == {
        ("/api/v1/products/", "get"): ["200", "400", "406", "429", "503"],
        ("/api/v1/orders/", "get"): ["200", "400", "401", "406", "429", "503"],
        ("/api/v1/orders/", "post"): ["201", "400", "401", "406", "409", "413", "415", "422",
                                      "429", "503"],
    }  # fmt: skip


# --------------------------------------------------------------------------- beyond the schema
# What the schema cannot describe, fuzzed with hypothesis through the same WSGI app: any
# cookie, header, cursor, nesting depth or body size. Whatever arrives, the answer is a
# 4xx or a success, never a 5xx; under /api/ a refusal is the JSON error shape; and a
# refused request writes nothing.

ERROR_STATUSES = {400, 401, 403, 404, 405, 406, 409, 413, 415, 429}
PAGES = ["/api/v1/products/", "/api/v1/me/", "/api/v1/orders/", "/api/v1/categories/",
         "/admin/", "/admin/login/"]  # fmt: skip
HEADERS = ["HTTP_AUTHORIZATION", "HTTP_IF_MATCH", "HTTP_IDEMPOTENCY_KEY", "HTTP_ACCEPT",
           "HTTP_X_FORWARDED_FOR", "HTTP_COOKIE", "HTTP_ACCEPT_LANGUAGE", "HTTP_USER_AGENT",
           "HTTP_X_CSRFTOKEN", "HTTP_HOST", "CONTENT_TYPE"]  # fmt: skip
# What WSGI can hand Django in a header: latin-1 text (each byte one character), NUL included.
# Biased towards what breaks parsers and databases: NUL, quotes, separators, escapes.
LATIN1 = st.text(
    st.sampled_from("\x00\"';=,% \\\t\xff\xe9a0") | st.characters(max_codepoint=255),
    max_size=300,
)
HOSTILE = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _row_counts() -> dict[str, int]:
    from tests.shop.api.conftest import row_counts

    return row_counts()


def _fresh_limits() -> None:
    """Each example starts with no rate-limit counters: these tests are about input, and
    after the first 120 requests every answer would otherwise be the same 429."""
    cache.delete_pattern("throttle_*")


def _check(response, path: str) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400 and path.startswith("/api/"):
        assert response["Content-Type"] == "application/json", response.content[:300]
        body = json.loads(response.content)
        assert set(body) == {"code", "message", "fields"}, body
        assert response.status_code in ERROR_STATUSES, body


@pytest.fixture
def client(world):
    return Client(raise_request_exception=True)


# Garbage, and garbage shaped like what the header holds (a token, a session cookie...).
SHAPES = {"HTTP_AUTHORIZATION": "Token ", "HTTP_COOKIE": "sessionid=", "HTTP_IF_MATCH": '"',
          "CONTENT_TYPE": "application/json; charset="}  # fmt: skip


@pytest.mark.parametrize("header", HEADERS)
@given(
    path=st.sampled_from(PAGES),
    shaped=st.booleans(),
    value=st.text(st.sampled_from("\x00\"';=,%\\\xff\xe9a0") | st.characters(max_codepoint=255)),
)
@example(path="/api/v1/me/", shaped=True, value="abcdefgh\x00")  # the 500s once found
@example(path="/admin/", shaped=True, value="abcdefgh\x00")
@settings(HOSTILE, max_examples=40)
def test_any_header_or_cookie_is_never_a_5xx(client, world, header, path, shaped, value):
    _fresh_limits()
    if shaped:
        value = SHAPES.get(header, "") + value
    if header == "CONTENT_TYPE":
        # Django's WSGIRequest itself raises ValueError for a NUL in the Content-Type's
        # charset (codecs.lookup), before any middleware runs. gunicorn refuses NUL in every
        # header (a 400 of its own), so it never reaches Django in production.
        value = value.replace("\x00", "")

    _check(client.get(path, **{header: value}), path)


@given(name=st.sampled_from(["sessionid", "csrftoken", "messages"]), value=LATIN1)
@HOSTILE
def test_any_session_cookie_is_never_a_5xx(client, world, name, value):
    _fresh_limits()
    client.cookies[name] = value
    for path in ("/api/v1/me/", "/admin/"):
        _check(client.get(path), path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


def _encode(payload) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Values a cursor's key may hold, the hostile ones named: beyond numeric(10, 2) or bigint.
KEY_VALUES = st.tuples(
    st.sampled_from(["i", "d", "f", "t", "x"]),
    st.sampled_from(["1e999999", "-1e999999", "NaN", "1e-999999", "99999999.995", 2**63, 10**30,
                     "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-23:59"])
    | JSON_VALUES,
)  # fmt: skip
DEPTHS = st.sampled_from([999, 1000, 1500, 3000]) | st.integers(1, 3000)
CURSOR_PAYLOADS = (
    st.binary(max_size=200)
    | JSON_VALUES
    | st.fixed_dictionaries(
        {
            "o": st.sampled_from([["price", "id"], ["-price", "-id"], ["-created_at", "-id"]]),
            "v": st.lists(KEY_VALUES, min_size=2, max_size=2) | st.lists(KEY_VALUES, max_size=3),
            "r": st.booleans() | JSON_VALUES,
        }
    )
    | DEPTHS.map(lambda depth: ("[" * depth + "]" * depth).encode())
)


@given(
    ordering=st.sampled_from(["newest", "price", "-price"]),
    payload=CURSOR_PAYLOADS,
    raw=st.none() | LATIN1,
)
@HOSTILE
def test_any_cursor_is_a_page_or_a_400_naming_the_cursor(client, world, ordering, payload, raw):
    _fresh_limits()
    cursor = raw if raw is not None else _encode(payload)

    response = client.get("/api/v1/products/", {"ordering": ordering, "cursor": cursor})

    _check(response, "/api/v1/products/")
    if response.status_code == 400:
        fields = json.loads(response.content)["fields"]
        assert list(fields) == ["cursor"], fields


BODY_ENDPOINTS = [("post", "/api/v1/auth/login/"), ("post", "/api/v1/auth/register/"),
                  ("post", "/api/v1/orders/"), ("patch", "/api/v1/me/profile/")]  # fmt: skip


@given(
    endpoint=st.sampled_from(BODY_ENDPOINTS),
    depth=DEPTHS | st.just(0),
    padding=st.integers(0, 4000),
    opener=st.sampled_from(["[", '{"a":']),
)
@HOSTILE
def test_any_nesting_depth_and_body_size_is_never_a_5xx(
    client, world, settings, endpoint, depth, padding, opener
):
    _fresh_limits()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    closer = "]" if opener == "[" else "}"
    body = opener * depth + '"' + "x" * padding + '"' + closer * depth
    method, path = endpoint
    before = _row_counts()

    response = getattr(client, method)(
        path,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {world['token']}",
        HTTP_IF_MATCH="*",
    )

    _check(response, path)
    assert response.status_code >= 400
    assert _row_counts() == before
    if len(body.encode()) > 2000:
        assert response.status_code in {413, 429}
