"""Hostile input: nothing a client sends is answered 500, and a refusal writes nothing.

Bodies (shop/api/parsers.py): nesting depth, size, NUL and lone surrogates, charset, NaN.
Cursors (shop/api/pagination.py): shape, type and range per ordering column. NUL in a query
string, cookie or header (shop/api/middleware.py). Strict numbers and strings, unknown body
keys (shop/api/fields.py). JSON errors under DEBUG (shop/api/middleware.py). Changes that
change nothing write nothing (shop/services.py).
"""

import base64
import json
import os
import socket
import subprocess
import sys

import pytest
from django.db import connection, transaction
from django.test import Client, override_settings

from audit.models import UserEvent, UserProfileEvent
from shop.factories import OrderFactory, ProductFactory, UserProfileFactory, shipping_address_for
from shop.models import User, UserProfile

from .conftest import PASSWORD, error, row_counts

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
ORDERS = "/api/v1/orders/"
PROFILE = "/api/v1/me/profile/"
ME = "/api/v1/me/"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Every endpoint that reads a JSON body, as (method, path) with {order} for an order's id.
JSON_ENDPOINTS = [
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/login/"),
    ("patch", ME),
    ("patch", PROFILE),
    ("post", ORDERS),
    ("patch", "/api/v1/orders/{order}/"),
    ("post", "/api/v1/staff/orders/{order}/transition/"),
]


@pytest.fixture
def order(user):
    return OrderFactory(user=user)


@pytest.fixture
def boss_api(staff):
    return staff


def _send(client, method, path, body, **extra):
    return getattr(client, method)(path, body, content_type="application/json", **extra)


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_a_body_nested_1500_deep_is_a_400_on_every_json_endpoint(api, staff, order, method, path):
    """DRF's parser let RecursionError out: a 500, anonymous login and register included."""
    client = staff if "/staff/" in path else api
    before = row_counts()

    body = error(
        _send(client, method, path.format(order=order.pk), nested(1500), HTTP_IF_MATCH="*"),
        400,
        "parse_error",
    )

    assert body["message"] == "JSON nested more than 32 levels deep."
    assert row_counts() == before


def test_nesting_is_allowed_to_32_levels_and_refused_at_33(anon):
    at_limit = _send(anon, "post", "/api/v1/auth/login/", nested(32))
    over = _send(anon, "post", "/api/v1/auth/login/", nested(33))

    # 32 levels parse (the list is then not a login's object); 33 do not.
    assert error(at_limit, 400, "invalid")["message"] == (
        "Invalid data. Expected a dictionary, but got list."
    )
    assert error(over, 400, "parse_error")["message"] == "JSON nested more than 32 levels deep."


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"username": "a\\u0000b", "password": "x"}', "Strings may not contain NUL"),
        ('{"username\\u0000": "ada", "password": "x"}', "Strings may not contain NUL"),
        ('{"username": "\\ud800", "password": "x"}', "Strings must be valid Unicode"),
        ('{"username": NaN, "password": "x"}', "JSON parse error - NaN is not a JSON number"),
        ('{"username": "ada", "password": 1e999}', "Numbers must be finite."),
        (b'{"username": "\xff"}', "JSON parse error - 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_bodies_postgresql_or_json_cannot_hold_are_400(anon, user, raw, message):
    before = row_counts()

    body = error(_send(anon, "post", "/api/v1/auth/login/", raw), 400, "parse_error")

    assert body["message"].startswith(message), body
    assert row_counts() == before


def test_a_charset_other_than_utf8_is_a_400(anon, user):
    response = anon.post(
        "/api/v1/auth/login/",
        json.dumps({"username": "ada", "password": PASSWORD}),
        content_type="application/json; charset=no-such-codec",
    )

    assert error(response, 400, "parse_error")["message"] == "JSON must be sent in UTF-8."


def test_a_body_one_byte_over_the_limit_is_413_and_at_the_limit_is_read(anon, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    login = json.dumps({"username": "ada", "password": PASSWORD})
    at_limit = login[:-1] + " " * (1000 - len(login)) + "}"

    assert _send(anon, "post", "/api/v1/auth/login/", at_limit).status_code == 200
    body = error(_send(anon, "post", "/api/v1/auth/login/", at_limit + " "), 413, "too_large")
    assert body["message"] == "The request body is over 1000 bytes."


# --------------------------------------------------------------------------- cursors


def cursor(payload) -> str:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(raw.encode()).decode()


BAD_CURSORS = [
    ("price", nested(1500)),  # RecursionError in json.loads: was a 500
    ("price", {"o": ["price", "id"], "v": [["d", "1e999999"], ["i", 1]], "r": False}),  # 500
    ("price", {"o": ["price", "id"], "v": [["d", "100000000"], ["i", 1]], "r": False}),
    ("price", {"o": ["price", "id"], "v": [["d", "1.001"], ["i", 1]], "r": False}),
    ("price", {"o": ["price", "id"], "v": [["i", 1], ["i", 1]], "r": False}),  # wrong type
    ("price", {"o": ["price", "id"], "v": [["d", "1"], ["i", 2**63]], "r": False}),
    ("price", {"o": ["price", "id"], "v": [["d", "1"], 1], "r": False}),
    ("price", {"o": ["price", "id"], "v": [["d", "1", "x"], ["i", 1]], "r": False}),
    ("price", {"o": ["price", "id"], "v": {"a": 1}, "r": False}),
    ("price", {"o": ["price", "id"], "v": [["d", "1"], ["i", 1]], "r": False, "x": 1}),
    ("newest", {"o": ["-created_at", "-id"], "v": [["f", "1.0"], ["i", 1]], "r": False}),
    ("relevance", {"o": ["-rank", "-id"], "v": [["d", "1"], ["i", 1]], "r": False}),
    ("price", "x" * 2000),
]


@pytest.mark.parametrize(("ordering", "payload"), BAD_CURSORS)
def test_bad_cursors_are_400_naming_the_cursor(anon, ordering, payload):
    ProductFactory(name="Walnut desk")
    query = {"ordering": ordering, "cursor": cursor(payload)}
    if ordering == "relevance":
        query["q"] = "walnut"

    body = error(anon.get(PRODUCTS, query), 400, "invalid")

    assert body["fields"] == {
        "cursor": ["Invalid cursor: use the next or previous link of a page as it is."]
    }


def test_a_cursor_at_the_columns_extremes_is_a_page(anon):
    """The range check refuses nothing a row could hold: 99999999.99 is numeric(10, 2)'s top."""
    ProductFactory(price="10.00")
    payload = {"o": ["price", "id"], "v": [["d", "99999999.99"], ["i", 2**63 - 1]], "r": True}

    response = anon.get(PRODUCTS, {"ordering": "price", "cursor": cursor(payload)})

    assert response.status_code == 200
    assert [row["price"] for row in response.json()["results"]] == ["10.00"]


# --------------------------------------------------------------------------- NUL anywhere


def test_a_nul_in_the_session_cookie_is_a_400_everywhere_not_a_500():
    """The session store looked the key up in PostgreSQL, which refuses NUL in text."""
    browser = Client()
    browser.cookies["sessionid"] = "abcdefgh\x00ijkl"

    api = browser.get(ME)
    admin = browser.get("/admin/")

    body = error(api, 400, "invalid")
    assert body["fields"] == {"cookie sessionid": ["Contains a NUL character."]}
    assert admin.status_code == 400
    assert admin["Content-Type"] == "text/plain; charset=utf-8"
    assert admin.content == (
        b"Bad Request: cookie sessionid: contains a NUL character, which is never valid input."
    )


def test_a_nul_escaped_in_a_quoted_cookie_is_a_400():
    """What passes gunicorn (which refuses a raw NUL in a header): Python's cookie parser
    turns the octal escape of a quoted value into a NUL."""
    response = Client().get(ME, HTTP_COOKIE='sessionid="abcdefgh\\000"')

    assert error(response, 400, "invalid")["fields"] == {
        "cookie sessionid": ["Contains a NUL character."]
    }


def test_a_nul_in_the_token_is_a_400_and_sends_no_query(anon, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon.get(ME, HTTP_AUTHORIZATION="Token abc\x00def")

    assert error(response, 400, "invalid")["fields"] == {
        "header Authorization": ["Contains a NUL character."]
    }


@pytest.mark.parametrize("query", ["q=a%00b", "q%00=1", "cursor=%00", "page_size=1%00"])
def test_a_nul_in_the_query_string_is_a_400_naming_the_parameter(anon, query):
    body = error(anon.get(f"{PRODUCTS}?{query}"), 400, "invalid")

    name = query.split("=")[0].replace("%00", "\\u0000")
    assert body["fields"] == {name: ["Contains a NUL character."]}


def test_a_nul_in_the_query_outside_the_api_is_a_plain_400():
    response = Client().get("/admin/login/?next=%00")

    assert response.status_code == 400
    assert response.content == (
        b"Bad Request: next: contains a NUL character, which is never valid input."
    )


# --------------------------------------------------------------------------- JSON under DEBUG


@override_settings(DEBUG=True)
def test_unknown_api_urls_are_json_404_under_debug(anon):
    body = error(anon.get("/api/v1/nothing-here/"), 404, "not_found")

    assert body["message"] == "No API endpoint at /api/v1/nothing-here/."


@override_settings(DEBUG=True)
def test_a_post_without_the_trailing_slash_is_a_json_404_naming_the_url(anon, user):
    """Under DEBUG, APPEND_SLASH raised RuntimeError for a POST: an HTML 500."""
    response = anon.post("/api/v1/auth/login", {"username": "ada", "password": PASSWORD})

    body = error(response, 404, "not_found")
    assert body["message"] == (
        "No API endpoint at /api/v1/auth/login; did you mean /api/v1/auth/login/?"
    )


def test_outside_the_api_a_get_without_the_slash_still_redirects():
    response = Client().get("/admin")

    assert (response.status_code, response["Location"]) == (301, "/admin/")


def _statement_cancelled(*args, **kwargs):
    """A real fault of the real server: PostgreSQL cancels the statement (OperationalError),
    as it does when it shuts down under a request."""
    # In a savepoint, which the error rolls back: the test's own transaction lives on.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '1ms'")
        cursor.execute("SELECT pg_sleep(1)")


@pytest.mark.parametrize("debug", [True, False])
def test_a_database_fault_is_a_json_503_with_retry_after_in_every_mode(
    anon, monkeypatch, settings, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr("shop.api.representations.product_detail", _statement_cancelled)
    client = Client(raise_request_exception=False)

    response = client.get(f"{PRODUCTS}1/")

    body = error(response, 503, "unavailable")
    assert body["message"] == "The database is unavailable; please try again in a moment."
    assert response["Retry-After"] == "5"


OUTAGE = """
import json
from django.test import Client
client = Client(SERVER_NAME="localhost", raise_request_exception=False)
answers = {}
for name, response in [
    ("outage", client.get("/api/v1/products/1/")),
    ("unknown", client.get("/api/v1/nothing/")),
    ("slash", client.post("/api/v1/orders", "{}", content_type="application/json")),
]:
    answers[name] = [response.status_code, response.get("Retry-After"), response.json()]
print(json.dumps(answers))
"""


def test_under_make_runs_settings_an_outage_and_bad_urls_are_json(tmp_path):
    """config.settings.dev (DEBUG on), its database a closed port: a real outage, which
    waits out DB_POOL_TIMEOUT. Under DEBUG these were the technical 500 and 404 pages."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": f"postgres://shop@127.0.0.1:{closed}/shop",
        "DB_POOL_TIMEOUT": "1",
        "DB_CONNECT_TIMEOUT": "1",
        "CACHE_KEY_PREFIX": f"outage-{os.getpid()}",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", OUTAGE],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip

    answers = json.loads(result.stdout.strip().splitlines()[-1])
    unavailable = "The database is unavailable; please try again in a moment."
    assert answers == {
        "outage": [503, "5", {"code": "unavailable", "message": unavailable, "fields": {}}],
        "unknown": [404, None, {"code": "not_found", "fields": {},
                                "message": "No API endpoint at /api/v1/nothing/."}],
        "slash": [404, None, {"code": "not_found", "fields": {}, "message":
                              "No API endpoint at /api/v1/orders; did you mean /api/v1/orders/?"}],
    }  # fmt: skip


# --------------------------------------------------------------------------- strict fields


@pytest.mark.parametrize("quantity", ["1_0", "2.0", " 3 ", "3", 2.0, True, None, [1], {"n": 1}])
def test_a_quantity_must_be_a_json_integer(api, quantity):
    product = ProductFactory(stock_quantity=50)
    before = row_counts()
    body = {"items": [{"product": product.pk, "quantity": quantity}],
            "shipping_address": shipping_address_for("Ada")}  # fmt: skip

    refused = error(api.post(ORDERS, body), 400, "invalid")

    message = "This field may not be null." if quantity is None else "A valid integer is required."
    assert refused["fields"] == {"items.0.quantity": [message]}
    assert refused["message"] == message
    assert row_counts() == before


@pytest.mark.parametrize("username", [123, 1.5, True, ["ada"]])
def test_a_name_must_be_a_json_string(anon, username):
    before = row_counts()

    body = error(
        anon.post("/api/v1/auth/register/",
                  {"username": username, "email": "x@example.com", "password": PASSWORD}),
        400,
        "invalid",
    )  # fmt: skip

    assert body["fields"] == {"username": ["Not a valid string."]}
    assert row_counts() == before


def test_a_status_must_be_a_string_choice(staff, order):
    body = error(
        staff.post(f"/api/v1/staff/orders/{order.pk}/transition/", {"status": 1}), 400, "invalid"
    )

    assert body["fields"] == {"status": ["Not a valid string."]}


def test_every_input_field_is_strict():
    """No serializer input is left with one of DRF's coercing fields."""
    from rest_framework import serializers

    from shop.api import fields as strict
    from shop.api import serializers as s

    inputs = [s.RegisterInput, s.LoginInput, s.UserUpdateInput, s.ProfileSerializer,
              s.ShippingAddressSerializer, s.OrderLineInput, s.OrderCreateInput,
              s.OrderUpdateInput, s.OrderTransitionInput]  # fmt: skip
    loose = []
    for serializer_class in inputs:
        assert issubclass(serializer_class, strict.InputSerializer)
        for name, field in serializer_class().fields.items():
            child = getattr(field, "child", field)
            if isinstance(child, serializers.Serializer):
                assert isinstance(child, strict.InputSerializer), name
            elif not isinstance(child, strict.StrictIntegerField | strict.StrictStringMixin):
                loose.append(f"{serializer_class.__name__}.{name}")
    assert loose == []


def test_unknown_body_keys_are_400_naming_them(api, user):
    before = row_counts()

    body = error(
        api.patch(ME, {"username": "ada2", "is_staff": True}, HTTP_IF_MATCH="*"), 400, "invalid"
    )

    assert body["fields"] == {"is_staff": ["Unknown field. Known: username, email."]}
    assert User.objects.get().username == "ada"
    assert row_counts() == before


# --------------------------------------------------------------------------- no-op writes


@pytest.mark.parametrize("body", [{}, {"first_name": ""}])
def test_an_empty_profile_patch_writes_nothing_and_answers_the_blank_profile(
    api, user, django_assert_num_queries, body
):
    etag = api.get(PROFILE)["ETag"]

    # token, SAVEPOINT, SELECT ... FOR UPDATE (no row), RELEASE; no INSERT, no UPDATE, and no
    # statement carried the audit context, so there is none to reset (core/db.py: transaction
    # control gets no prefix).
    with django_assert_num_queries(4) as queries:
        response = api.patch(PROFILE, body, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json() == {"first_name": "", "last_name": "", "phone": "", "bio": "",
                               "avatar_url": ""}  # fmt: skip
    assert response["ETag"] == etag
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert not [q for q in queries.captured_queries if "pghistory" in q["sql"]]
    assert UserProfile.objects.count() == 0
    assert UserProfileEvent.objects.count() == 0


def test_a_profile_patch_that_changes_nothing_writes_nothing(api, user):
    UserProfileFactory(user=user, first_name="Ada")
    etag = api.get(PROFILE)["ETag"]
    updated_at = UserProfile.objects.get().updated_at
    events = UserProfileEvent.objects.count()

    response = api.patch(PROFILE, {"first_name": "Ada"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["first_name"] == "Ada"
    assert response["ETag"] == etag
    assert UserProfile.objects.get().updated_at == updated_at
    assert UserProfileEvent.objects.count() == events


@pytest.mark.parametrize("body", [{}, {"username": "ada"}, {"email": "ada@example.com"}])
def test_a_me_patch_that_changes_nothing_sends_no_update(
    api, user, django_assert_num_queries, body
):
    etag = api.get(ME)["ETag"]
    events = UserEvent.objects.count()

    # token, SAVEPOINT, SELECT ... FOR UPDATE, RELEASE; no UPDATE, no audit context to reset.
    with django_assert_num_queries(4) as queries:
        response = api.patch(ME, body, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["username"] == "ada"
    assert response["ETag"] == etag
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert not [q for q in queries.captured_queries if "pghistory" in q["sql"]]
    assert UserEvent.objects.count() == events


# --------------------------------------------------------------------------- query parameters


@pytest.mark.parametrize("path", [ME, PROFILE, "/api/v1/categories/"])
def test_endpoints_without_query_parameters_say_so(api, path):
    body = error(api.get(path, {"x": "1"}), 400, "invalid")

    assert body["fields"] == {
        "x": ["Unknown query parameter. This endpoint takes no query parameters."]
    }
