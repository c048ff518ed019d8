"""Accounts: register, log in and out, my user and profile with ETag/If-Match, throttling."""

import threading

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from shop import cache as shop_cache
from shop.api.authentication import TokenAuthentication
from shop.api.throttles import LoginThrottle
from shop.factories import UserFactory, UserProfileFactory
from shop.models import User, UserProfile

from .conftest import PASSWORD, client_for, error, row_counts

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PROFILE = "/api/v1/me/profile/"


# --------------------------------------------------------------------------- register


def test_register_creates_an_account_that_can_log_in(anon):
    response = anon.post(
        REGISTER, {"username": "grace", "email": "Grace@Example.COM", "password": PASSWORD}
    )

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get()
    assert body == {
        "id": user.pk,
        "username": "grace",
        "email": "Grace@example.com",  # the domain is lower-cased, as UserManager does
        "is_staff": False,
        "created_at": body["created_at"],
    }
    assert user.check_password(PASSWORD)
    assert user.password != PASSWORD
    login = anon.post(LOGIN, {"username": "grace", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json() == {"token": Token.objects.get(user=user).key}


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("4815162342", "This password is entirely numeric."),
        ("grace-hopper-1", "The password is too similar to the username."),
    ],
)
def test_register_refuses_a_weak_password_and_writes_nothing(anon, password, message):
    before = row_counts()

    response = anon.post(
        REGISTER, {"username": "grace-hopper", "email": "g@example.com", "password": password}
    )

    body = error(response, 400, "invalid")
    assert message in body["fields"]["password"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "grace", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "bad name!", "email": "g@example.com", "password": PASSWORD}, "username"),
        ({"username": ["grace"], "email": "g@example.com", "password": PASSWORD}, "username"),
        ({"username": "g" * 151, "email": "g@example.com", "password": PASSWORD}, "username"),
        ({"email": "g@example.com", "password": PASSWORD}, "username"),
        ({"username": "grace", "email": "g@example.com"}, "password"),
    ],
)
def test_register_refuses_bad_fields(anon, payload, field):
    before = row_counts()

    body = error(anon.post(REGISTER, payload), 400, "invalid")

    assert list(body["fields"]) == [field]
    assert row_counts() == before


def test_a_taken_email_gets_the_same_answer_as_a_taken_username(anon):
    """No user enumeration beyond what a username already allows: both answers are equal."""
    UserFactory(username="ada", email="ada@example.com")
    before = row_counts()

    taken_username = anon.post(
        REGISTER, {"username": "ada", "email": "new@example.com", "password": PASSWORD}
    )
    taken_email = anon.post(
        REGISTER, {"username": "newcomer", "email": "ADA@example.com", "password": PASSWORD}
    )

    assert error(taken_username, 409, "account_unavailable") == taken_email.json()
    assert taken_email.status_code == taken_username.status_code
    assert row_counts() == before


def test_register_refuses_malformed_json_and_other_media_types(anon):
    before = row_counts()

    malformed = anon.post(REGISTER, data='{"username": "x",', content_type="application/json")
    form = anon.post(REGISTER, data="username=x", content_type="application/x-www-form-urlencoded")
    a_list = anon.post(REGISTER, data="[]", content_type="application/json")

    assert error(malformed, 400, "parse_error")["message"].startswith("JSON parse error")
    assert error(form, 415, "unsupported_media_type")["message"] == (
        'Unsupported media type "application/x-www-form-urlencoded" in request.'
    )
    # The whole body is at fault, not one field: the message says it, and fields is empty.
    assert error(a_list, 400, "invalid") == {
        "code": "invalid",
        "message": "Invalid data. Expected a dictionary, but got list.",
        "fields": {},
    }
    assert row_counts() == before


# --------------------------------------------------------------------------- login / logout


def test_wrong_password_unknown_user_and_suspended_account_get_one_answer(anon, user):
    UserFactory(username="sus", raw_password=PASSWORD, status=User.Status.SUSPENDED)

    answers = [
        anon.post(LOGIN, {"username": "ada", "password": "wrong-password-1"}),
        anon.post(LOGIN, {"username": "nobody", "password": PASSWORD}),
        anon.post(LOGIN, {"username": "sus", "password": PASSWORD}),
    ]

    bodies = [error(answer, 400, "invalid_credentials") for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert Token.objects.count() == 0


def test_login_is_throttled_after_five_attempts_per_minute(anon, user):
    statuses = [
        anon.post(LOGIN, {"username": "ada", "password": f"guess-{n}"}).status_code
        for n in range(5)
    ]

    sixth = anon.post(LOGIN, {"username": "ada", "password": PASSWORD})

    assert statuses == [400] * 5
    body = error(sixth, 429, "throttled")
    assert 1 <= int(sixth["Retry-After"]) <= 60
    assert body["message"].startswith("Request was throttled.")
    assert Token.objects.count() == 0  # even the right password waits


def test_concurrent_requests_are_each_counted_by_the_rate_limit():
    # 20 requests from one address at once against 5 a minute: exactly 5 pass. (A GET then a
    # SET of the list of times, DRF's way, lets two requests read the same list and both
    # pass.)
    request = APIRequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR="203.0.113.9")
    start = threading.Barrier(20)
    allowed: list[bool] = []

    def attempt() -> None:
        start.wait()
        allowed.append(LoginThrottle().allow_request(request, None))

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 15 + [True] * 5
    refused = LoginThrottle()
    assert refused.allow_request(request, None) is False
    assert 59 <= refused.wait() <= 60  # the oldest of the five expires in a minute


def test_a_rate_limit_key_left_by_drfs_throttle_is_not_in_the_way():
    request = APIRequestFactory().post("/api/v1/auth/login/", REMOTE_ADDR="203.0.113.9")
    cache.set("throttle_login_203.0.113.9", [1.0, 2.0], 60)  # DRF's list, from before a deploy

    allowed = [LoginThrottle().allow_request(request, None) for _ in range(6)]

    assert allowed == [True] * 5 + [False]
    assert shop_cache.breaker.closed()  # no Redis error on the way


def test_anonymous_clients_are_throttled(anon, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "user": "5/min", "login": "5/min"},
    }

    statuses = [anon.get("/api/v1/categories/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_logout_deletes_the_token(api, user):
    assert api.get(ME).status_code == 200

    response = api.post(LOGOUT)

    assert response.status_code == 204
    assert Token.objects.filter(user=user).exists() is False
    error(api.get(ME), 401, "authentication_failed")


def test_me_needs_authentication(anon):
    response = anon.get(ME)

    error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_suspended_users_token_stops_working(api, user):
    User.objects.filter(pk=user.pk).update(status=User.Status.SUSPENDED)

    body = error(api.get(ME), 401, "authentication_failed")

    assert body["message"] == "This account is suspended or closed."


def test_a_deactivated_users_token_stops_working(api, user):
    User.objects.filter(pk=user.pk).update(is_active=False)

    body = error(api.get(ME), 401, "authentication_failed")

    assert body["message"] == "User inactive or deleted."


def test_an_unknown_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    body = error(anon.get(ME), 401, "authentication_failed")

    assert body["message"] == "Invalid token."


def test_token_authentication_loads_the_whole_user_in_one_query(user, django_assert_num_queries):
    token = Token.objects.create(user=user)

    with django_assert_num_queries(1):
        found, found_token = TokenAuthentication().authenticate_credentials(token.key)

    fields = [field.attname for field in User._meta.concrete_fields]
    stored = User.objects.get(pk=user.pk)
    assert [getattr(found, name) for name in fields] == [getattr(stored, name) for name in fields]
    assert (found_token.pk, found_token.user_id, found_token.created) == (
        token.pk,
        user.pk,
        token.created,
    )
    assert found_token.user is found
    assert found._state.adding is False


def test_session_login_works_too(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)

    assert client.get(ME).json()["username"] == "ada"


# --------------------------------------------------------------------------- me


def test_get_me_costs_one_query_and_carries_an_etag(api, user, django_assert_num_queries):
    with django_assert_num_queries(1):  # the token, joined to its user
        response = api.get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"
    assert response["ETag"].startswith('"user-')


def test_patch_me_with_the_current_etag_changes_it(api, user):
    etag = api.get(ME)["ETag"]

    response = api.patch(ME, {"email": "ada@lovelace.org"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["email"] == "ada@lovelace.org"
    assert response["ETag"] != etag
    assert response["ETag"] == api.get(ME)["ETag"]
    user.refresh_from_db()
    assert user.email == "ada@lovelace.org"


def test_patch_me_with_a_stale_etag_is_412_and_writes_nothing(api, user):
    stale = api.get(ME)["ETag"]
    User.objects.filter(pk=user.pk).update(email="changed@example.com")  # someone else

    response = api.patch(ME, {"email": "mine@example.com"}, HTTP_IF_MATCH=stale)

    error(response, 412, "precondition_failed")
    user.refresh_from_db()
    assert user.email == "changed@example.com"


def test_patch_me_without_if_match_is_428(api, user):
    error(api.patch(ME, {"email": "mine@example.com"}), 428, "precondition_required")

    user.refresh_from_db()
    assert user.email == "ada@example.com"


def test_patch_me_to_a_taken_email_is_the_registration_answer(api, user):
    UserFactory(username="grace", email="grace@example.com")
    etag = api.get(ME)["ETag"]

    response = api.patch(ME, {"email": "GRACE@example.com"}, HTTP_IF_MATCH=etag)

    body = error(response, 409, "account_unavailable")
    assert body["message"] == "That username or email address cannot be used. Choose another."
    user.refresh_from_db()
    assert user.email == "ada@example.com"


# --------------------------------------------------------------------------- profile


def test_a_missing_profile_reads_blank_and_is_made_on_first_patch(
    api, user, django_capture_on_commit_callbacks
):
    blank = api.get(PROFILE)
    assert blank.json() == {
        "first_name": "",
        "last_name": "",
        "phone": "",
        "bio": "",
        "avatar_url": "",
    }
    assert UserProfile.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):  # the commit invalidates the cache
        response = api.patch(
            PROFILE,
            {"first_name": "Ada", "phone": "+44 20 7946 0000"},
            HTTP_IF_MATCH=blank["ETag"],
        )

    assert response.status_code == 200
    profile = UserProfile.objects.get(user=user)
    assert (profile.first_name, profile.phone, profile.last_name) == ("Ada", "+44 20 7946 0000", "")
    assert response["ETag"] == api.get(PROFILE)["ETag"] != blank["ETag"]


def test_get_profile_costs_two_queries(api, user, django_assert_num_queries):
    UserProfileFactory(user=user)

    with django_assert_num_queries(2):  # token + profile
        response = api.get(PROFILE)

    assert response.status_code == 200


def test_profile_phone_rule_is_a_field_error_and_writes_nothing(api, user):
    UserProfileFactory(user=user, phone="+44 20 7946 0000")
    etag = api.get(PROFILE)["ETag"]

    response = api.patch(PROFILE, {"phone": "call me maybe"}, HTTP_IF_MATCH=etag)

    body = error(response, 400, "invalid")
    assert body["fields"] == {"phone": ["Enter a phone number of digits, spaces, + ( ) and -."]}
    assert UserProfile.objects.get().phone == "+44 20 7946 0000"


def test_patch_profile_with_a_stale_etag_is_412(api, user):
    UserProfileFactory(user=user, first_name="Ada")
    stale = api.get(PROFILE)["ETag"]
    UserProfile.objects.filter(user=user).update(first_name="Augusta")

    error(
        api.patch(PROFILE, {"first_name": "Countess"}, HTTP_IF_MATCH=stale),
        412,
        "precondition_failed",
    )

    assert UserProfile.objects.get().first_name == "Augusta"


def test_if_match_star_matches_any_current_state(api, user):
    response = api.patch(PROFILE, {"bio": "Analyst"}, HTTP_IF_MATCH="*")

    assert response.status_code == 200
    assert UserProfile.objects.get().bio == "Analyst"


def test_another_users_token_sees_their_own_profile_only(user):
    other = UserFactory(username="grace")
    UserProfileFactory(user=user, first_name="Ada")
    UserProfileFactory(user=other, first_name="Grace")

    assert client_for(other).get(PROFILE).json()["first_name"] == "Grace"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token", "token"])
def test_the_token_is_accepted_as_bearer_and_as_token(anon, user, scheme):
    """Swagger UI's Authorize dialog and most HTTP clients send `Bearer <token>`; DRF's
    clients send `Token <token>`: the same token works under both."""
    token = Token.objects.create(user=user)
    anon.credentials(HTTP_AUTHORIZATION=f"{scheme} {token.key}")

    response = anon.get(ME)

    assert response.status_code == 200
    assert response.json()["username"] == "ada"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "Invalid token header. No credentials provided."),
        ("Bearer a b", "Invalid token header. Token string should not contain spaces."),
        ("Bearer " + "0" * 40, "Invalid token."),
    ],
)
def test_a_malformed_bearer_header_is_401_naming_what_is_wrong(anon, header, message):
    anon.credentials(HTTP_AUTHORIZATION=header)

    response = anon.get(ME)

    assert error(response, 401, "authentication_failed")["message"] == message
    assert response["WWW-Authenticate"] == "Bearer"


def test_another_scheme_is_not_a_login(anon, user):
    token = Token.objects.create(user=user)
    anon.credentials(HTTP_AUTHORIZATION=f"Basic {token.key}")

    response = anon.get(ME)

    error(response, 401, "not_authenticated")
