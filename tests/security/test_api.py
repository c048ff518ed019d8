"""Attacks on the API that other tests do not already cover.

Already proven elsewhere (not repeated here): another user's order by id is 404 on every
order endpoint (tests/shop/api/test_orders.py::test_another_users_order_is_404_everywhere),
login throttled after five tries (tests/shop/api/test_accounts.py), one answer for a taken
username or email and for every kind of failed login (same file), admin and dashboard
refused to non-staff (tests/shop/test_admin.py, tests/dbhealth/test_access.py).
"""

import logging

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.authtoken.models import Token

from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Order, Product
from tests.shop.api.conftest import PASSWORD, client_for, error, row_counts

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
ORDERS = "/api/v1/orders/"

# Classic payloads: quote breaking, tautologies, stacked statements, comments, casts,
# time-based probes, a NUL byte (which PostgreSQL text refuses outright).
INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE shop_product; --",
    "1' UNION SELECT password FROM shop_user --",
    "') OR pg_sleep(5) IS NULL --",
    "1::text",
    "\\x00'",
    "\x00",
    "-price, id",
    "name) desc; --",
]
PRODUCT_PARAMETERS = ["category", "min_price", "max_price", "tags", "in_stock", "q", "ordering",
                      "cursor", "page_size"]  # fmt: skip


@pytest.fixture
def catalogue():
    """Two active products and one hidden one, which must never leak."""
    return [
        ProductFactory(name="Oak desk", tags=["oak"]),
        ProductFactory(name="Lamp", tags=["light"]),
        ProductFactory(name="Secret prototype", is_active=False),
    ]


@pytest.mark.parametrize("parameter", PRODUCT_PARAMETERS)
@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_through_product_parameters_is_refused_or_harmless(
    anon, catalogue, parameter, payload
):
    response = anon.get(PRODUCTS, {parameter: payload})

    if response.status_code == 200:  # a free-text parameter: the payload is only a value
        assert parameter in {"q", "tags"}
        names = {row["name"] for row in response.json()["results"]}
        assert names <= {"Oak desk", "Lamp"}  # never the inactive product
    else:
        body = error(response, 400, "invalid")
        assert list(body["fields"]) == [parameter]
    assert Product.objects.count() == 3  # the table is still there, untouched


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("parameter", ["status", "cursor", "page_size"])
def test_sql_injection_through_order_parameters_is_400_and_shows_no_other_orders(
    api, user, parameter, payload
):
    OrderFactory(user=UserFactory(username="mallory"))

    body = error(api.get(ORDERS, {parameter: payload}), 400, "invalid")

    assert list(body["fields"]) == [parameter]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_through_the_order_id_in_the_path_is_a_404(api, payload):
    response = api.get(f"{ORDERS}{payload}/")

    error(response, 404, "not_found")


def test_search_with_injection_finds_nothing_it_should_not(anon, catalogue):
    response = anon.get(PRODUCTS, {"q": "zzz' OR 1=1 --"})

    assert [row["name"] for row in response.json()["results"]] == []
    assert response.status_code == 200


def test_session_writes_need_the_csrf_token(user):
    """A browser signed in with a session cookie cannot be made to post by another site."""
    product = ProductFactory(stock_quantity=3)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    before = row_counts()
    body = {"items": [{"product": product.pk, "quantity": 1}],
            "shipping_address": shipping_address_for("Ada")}  # fmt: skip

    forged = browser.post(ORDERS, body, content_type="application/json")

    error(forged, 403, "permission_denied")
    assert "CSRF" in forged.json()["message"]
    assert row_counts() == before
    browser.get("/admin/login/")  # any page that renders the token sets the cookie
    token = browser.cookies["csrftoken"].value
    genuine = browser.post(ORDERS, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert genuine.status_code == 201
    assert Order.objects.count() == 1


def test_token_clients_need_no_csrf_token(api):
    """A token is not sent by browsers on their own: it is no ambient credential."""
    assert api.post("/api/v1/auth/logout/").status_code == 204


def test_register_and_login_errors_do_not_tell_whether_an_account_exists(anon, user):
    taken = anon.post(
        "/api/v1/auth/register/",
        {"username": "ada", "email": "someone@example.com", "password": PASSWORD},
    ).json()
    taken_email = anon.post(
        "/api/v1/auth/register/",
        {"username": "someone", "email": "ada@example.com", "password": PASSWORD},
    ).json()
    wrong_password = anon.post("/api/v1/auth/login/", {"username": "ada", "password": "nope"})
    unknown_user = anon.post("/api/v1/auth/login/", {"username": "nobody", "password": "nope"})

    assert taken == taken_email
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.status_code == unknown_user.status_code == 400


def test_secrets_never_reach_the_logs(anon, caplog, settings):
    """Register, log in, order, log in wrongly, with every logger at its configured level
    and the root at DEBUG: no password, hash or token in any record.

    Statement logging (django.db.backends at DEBUG, with DEBUG on) would show the hash and
    the token as parameters: LOGGING pins that logger to INFO, in every environment."""
    settings.DEBUG = True  # the development server's setting, the most talkative one
    product = ProductFactory(stock_quantity=3)
    password = "Un1que-Passw0rd-For-Logs"
    with caplog.at_level(logging.DEBUG):
        account = {"username": "grace", "email": "grace@example.com", "password": password}
        anon.post("/api/v1/auth/register/", account)
        token = anon.post("/api/v1/auth/login/", {"username": "grace", "password": password})
        token = token.json()["token"]
        anon.post("/api/v1/auth/login/", {"username": "grace", "password": password + "x"})
        anon.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        anon.post(ORDERS, {"items": [{"product": product.pk, "quantity": 1}],
                           "shipping_address": shipping_address_for("Grace")})  # fmt: skip
    hashed = Token.objects.get(key=token).user.password

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Bad Request: /api/v1/auth/login/" in logged  # the capture saw the requests
    assert settings.LOGGING["loggers"]["django.db.backends"] == {"level": "INFO"}
    assert password not in logged
    assert hashed.split("$")[-1] not in logged
    assert token not in logged


def test_tokens_and_passwords_are_not_in_audit_history():
    """History tables copy tracked rows: the token table is not tracked, and the user's
    event table has no password column."""
    tracked = {
        model.pgh_tracked_model._meta.db_table
        for model in apps.get_app_config("audit").get_models()
        if hasattr(model, "pgh_tracked_model")
    }
    user_event = apps.get_model("audit", "UserEvent")

    assert "shop_user" in tracked  # the check looks at the right thing
    assert "authtoken_token" not in tracked
    assert "password" not in {field.column for field in user_event._meta.fields}


def test_a_token_of_another_user_cannot_be_used_to_read_their_data_through_mine(user):
    """Order ids are global: listing mine never includes another user's, even with a
    filter naming them."""
    mallory = UserFactory(username="mallory")
    theirs = OrderFactory(user=mallory)
    mine = OrderFactory(user=user)

    ids = [row["id"] for row in client_for(user).get(ORDERS).json()["results"]]

    assert ids == [mine.pk]
    assert theirs.pk not in ids
