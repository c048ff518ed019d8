"""Login limited per account as well as per address: a guesser spread over many addresses
is stopped, and the account's shopper still gets in from a device they logged in from."""

import threading

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from shop.api.throttles import DEVICE_COOKIE, LoginAccountThrottle

from .conftest import PASSWORD, error

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    """X-Forwarded-For is the client's address, as behind the production proxy."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def from_address(client: APIClient, address: str, username: str, password: str):
    return client.post(
        LOGIN, {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=address
    )


def test_twelve_addresses_one_wrong_password_each_the_later_ones_are_refused(user):
    answers = [from_address(APIClient(), f"198.51.100.{n}", "ada", f"guess-{n}") for n in range(12)]

    assert [answer.status_code for answer in answers] == [400] * 10 + [429] * 2
    body = error(answers[10], 429, "throttled")
    assert body["message"].startswith("Request was throttled.")
    assert 3500 <= int(answers[10]["Retry-After"]) <= 3600  # the first failure, an hour on
    assert Token.objects.count() == 0


def test_the_username_is_counted_normalised(user):
    spellings = ["ada", "ADA", " Ada ", "ａｄａ"]  # the last in fullwidth letters (NFKC: "ada")
    answers = [
        from_address(APIClient(), f"198.51.100.{n}", spellings[n % 4], "wrong-password")
        for n in range(11)
    ]

    assert [answer.status_code for answer in answers] == [400] * 10 + [429]


def test_the_shopper_gets_in_from_a_device_that_logged_in_before(user):
    shopper = APIClient()
    first = from_address(shopper, "203.0.113.7", "ada", PASSWORD)
    assert first.status_code == 200
    assert first.cookies[DEVICE_COOKIE]["path"] == "/api/v1/auth/"
    assert first.cookies[DEVICE_COOKIE]["httponly"] is True

    # A guesser spends the account's budget from twelve addresses...
    for n in range(12):
        from_address(APIClient(), f"198.51.100.{n}", "ada", f"guess-{n}")
    stranger = from_address(APIClient(), "192.0.2.1", "ada", PASSWORD)
    # ...the shopper's known device is not refused, and gets the token.
    again = from_address(shopper, "203.0.113.7", "ada", PASSWORD)

    assert stranger.status_code == 429  # a new device waits for Retry-After
    assert again.status_code == 200
    assert again.json() == {"token": Token.objects.get(user=user).key}


def test_a_correct_password_does_not_use_up_the_account_budget(user):
    for n in range(20):
        client = APIClient()  # a new device each time: no cookie
        assert from_address(client, f"198.51.100.{n}", "ada", PASSWORD).status_code == 200

    answers = [
        from_address(APIClient(), f"192.0.2.{n}", "ada", "wrong-password").status_code
        for n in range(11)
    ]

    assert answers == [400] * 10 + [429]


def test_a_known_device_has_its_own_budget_for_wrong_passwords(user):
    device = APIClient()
    assert from_address(device, "203.0.113.7", "ada", PASSWORD).status_code == 200

    # From many addresses, so that only the per-account limit is in play.
    answers = [
        from_address(device, f"203.0.113.{n}", "ada", "wrong-password").status_code
        for n in range(11)
    ]

    assert answers == [400] * 10 + [429]
    # The account's shared budget is untouched by that device's failures.
    assert from_address(APIClient(), "192.0.2.1", "ada", "wrong-password").status_code == 400


def test_a_cookie_for_another_account_or_forged_is_ignored(user):
    from shop.factories import UserFactory

    UserFactory(username="grace", raw_password=PASSWORD)
    graces = APIClient()
    assert from_address(graces, "203.0.113.7", "grace", PASSWORD).status_code == 200
    forged = APIClient()
    forged.cookies[DEVICE_COOKIE] = "not-a-signed-value"
    for n in range(10):
        from_address(APIClient(), f"198.51.100.{n}", "ada", f"guess-{n}")

    assert from_address(graces, "203.0.113.8", "ada", PASSWORD).status_code == 429
    assert from_address(forged, "203.0.113.9", "ada", PASSWORD).status_code == 429


def test_the_per_address_limit_is_unchanged(user):
    client = APIClient()
    statuses = [
        from_address(client, "203.0.113.5", f"someone-{n}", "wrong-password").status_code
        for n in range(5)
    ]
    sixth = from_address(client, "203.0.113.5", "ada", PASSWORD)

    assert statuses == [400] * 5
    error(sixth, 429, "throttled")
    assert 1 <= int(sixth["Retry-After"]) <= 60


def test_concurrent_attempts_cannot_overshoot_the_account_budget():
    # 20 attempts at once for one account: exactly 10 get a place (each takes it before its
    # password is checked), so a burst of guesses is no way around the limit.
    request = APIRequestFactory().post(LOGIN)
    start = threading.Barrier(20)
    allowed: list[bool] = []

    def attempt() -> None:
        start.wait()
        allowed.append(LoginAccountThrottle("ada", None).allow_request(request, None))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 10 + [True] * 10
