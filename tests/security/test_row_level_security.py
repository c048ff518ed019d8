"""Row-level security that fails closed (shop/migrations/0015, shop/api/rls.py), proven with
the real login roles of production: pgshop_app (shoppers) and pgshop_staff (staff, jobs).

The suite's owner role is exempt from RLS, as PostgreSQL intends, so every statement here runs
as one of the two logins, on a connection of its own (data committed: transaction=True).
"""

import contextlib

import psycopg
import pytest
from django.db import connection, connections
from psycopg.types.json import Jsonb

from shop import selectors
from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Order, UserProfile
from tests.conftest import APP_PASSWORD, APP_ROLE, STAFF_PASSWORD, STAFF_ROLE
from tests.shop.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

SHOPPER_TABLES = (
    "shop_order",
    "shop_orderitem",
    "audit_orderevent",
    "audit_orderitemevent",
    "audit_userevent",
    "audit_userprofileevent",
    "audit_usergroupevent",
    "audit_userpermissionevent",
)


def login(role: str, password: str) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=role, password=password,
        autocommit=True,
    )  # fmt: skip


@pytest.fixture
def app_login():
    conn = login(APP_ROLE, APP_PASSWORD)
    yield conn
    conn.close()


@pytest.fixture
def staff_login():
    conn = login(STAFF_ROLE, STAFF_PASSWORD)
    yield conn
    conn.close()


@pytest.fixture
def two_shoppers():
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    for shopper in (ada, bob):
        UserProfile.objects.update_or_create(user=shopper, defaults={"phone": "+44 20 7946 0000"})
    product = ProductFactory(stock_quantity=50)
    orders = {
        "ada": [OrderFactory(user=ada, lines=[(product, 1)]).pk for _ in range(2)],
        "bob": [OrderFactory(user=bob, lines=[(product, 2)]).pk],
    }
    return ada, bob, orders


def counts(conn) -> dict[str, int]:
    """Rows of each shopper table this connection's statements see (no WHERE at all)."""
    return {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        for table in SHOPPER_TABLES
    }


def log_counts(conn) -> dict[str, int]:
    """Rows of the audit_log view per shopper model (security_invoker: RLS applies)."""
    rows = conn.execute(
        "SELECT object_model, count(*) FROM audit_log "
        "WHERE object_model IN ('shop.order', 'shop.orderitem', 'shop.user', 'shop.userprofile') "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(rows)


NOTHING = dict.fromkeys(SHOPPER_TABLES, 0)


def test_without_a_scope_the_application_login_sees_no_shopper_rows(app_login, two_shoppers):
    assert counts(app_login) == NOTHING
    assert log_counts(app_login) == {}


def test_a_cleared_scope_gives_nothing(app_login, two_shoppers):
    ada, _, _ = two_shoppers
    app_login.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(ada.pk)])
    app_login.execute("SELECT set_config('app.rls_user_id', '', false)")  # the injection
    assert counts(app_login) == NOTHING
    app_login.execute("RESET app.rls_user_id")
    assert counts(app_login) == NOTHING
    assert log_counts(app_login) == {}


def test_the_application_login_cannot_become_staff(app_login, two_shoppers):
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        app_login.execute(f"SET ROLE {STAFF_ROLE}")
    app_login.execute("RESET ROLE")  # back to the login role, which is still pgshop_app

    who = app_login.execute("SELECT session_user, current_user").fetchone()
    member = app_login.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER')", [APP_ROLE, STAFF_ROLE]
    ).fetchone()
    assert 'permission denied to set role "pgshop_staff"' in str(refused.value)
    assert who == (APP_ROLE, APP_ROLE)
    assert member == (False,)
    assert counts(app_login) == NOTHING


def test_a_scoped_statement_sees_only_its_shoppers_orders_items_and_history(
    app_login, two_shoppers
):
    ada, bob, orders = two_shoppers
    app_login.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(ada.pk)])

    seen = app_login.execute("SELECT id FROM shop_order ORDER BY id").fetchall()  # no WHERE
    items = app_login.execute("SELECT DISTINCT order_id FROM shop_orderitem ORDER BY 1").fetchall()
    order_events = app_login.execute(
        "SELECT DISTINCT pgh_obj_id, user_id FROM audit_orderevent ORDER BY 1"
    ).fetchall()
    addresses = app_login.execute(
        "SELECT DISTINCT shipping_address->>'name' FROM audit_orderevent"
    ).fetchall()
    item_orders = app_login.execute(
        "SELECT DISTINCT order_id FROM audit_orderitemevent ORDER BY 1"
    ).fetchall()
    users = app_login.execute("SELECT DISTINCT id FROM audit_userevent").fetchall()
    profiles = app_login.execute("SELECT DISTINCT user_id FROM audit_userprofileevent").fetchall()

    assert [row[0] for row in seen] == orders["ada"]
    assert [row[0] for row in items] == orders["ada"]
    assert order_events == [(pk, ada.pk) for pk in orders["ada"]]
    assert addresses == [(Order.objects.get(pk=orders["ada"][0]).shipping_address["name"],)]
    assert [row[0] for row in item_orders] == orders["ada"]
    assert users == [(ada.pk,)]
    assert profiles == [(ada.pk,)]


def test_a_scoped_statement_cannot_write_another_shoppers_order(app_login, two_shoppers):
    ada, bob, orders = two_shoppers
    app_login.execute("SELECT set_config('app.rls_user_id', %s, false)", [str(ada.pk)])

    updated = app_login.execute(
        "UPDATE shop_order SET shipping_address = shipping_address WHERE id = %s",
        [orders["bob"][0]],
    ).rowcount
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        app_login.execute(
            "INSERT INTO shop_order (user_id, shipping_address) VALUES (%s, %s)",
            [bob.pk, Jsonb(shipping_address_for("x"))],
        )

    assert updated == 0  # bob's row is invisible, so nothing matches
    assert "row-level security policy" in str(refused.value)
    assert Order.objects.filter(user=bob).count() == 1


def test_without_a_scope_the_application_login_writes_no_order(app_login, two_shoppers):
    ada, _, orders = two_shoppers

    updated = app_login.execute("UPDATE shop_order SET version = version").rowcount
    deleted = app_login.execute("DELETE FROM shop_orderitem").rowcount
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_login.execute(
            "INSERT INTO shop_order (user_id, shipping_address) VALUES (%s, %s)",
            [ada.pk, Jsonb(shipping_address_for("x"))],
        )

    assert (updated, deleted) == (0, 0)
    assert Order.objects.count() == 3


def test_the_staff_login_sees_every_row(staff_login, two_shoppers):
    ada, bob, orders = two_shoppers
    per_user = staff_login.execute(
        "SELECT user_id, count(*) FROM shop_order GROUP BY 1 ORDER BY 1"
    ).fetchall()
    events = staff_login.execute(
        "SELECT count(DISTINCT pgh_obj_id) FROM audit_orderevent"
    ).fetchone()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        staff_login.execute(f"SET ROLE {APP_ROLE}")  # nor is staff a member of the app role

    assert per_user == [(ada.pk, 2), (bob.pk, 1)]
    assert events == (3,)


class RecordLogin:
    """Test middleware, last: the logins each request's statements run as."""

    seen: list[tuple[str, str, str]] = []

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT session_user, current_user")
            self.seen.append((request.path, *cursor.fetchone()))
        return self.get_response(request)


@pytest.fixture
def recorded(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.RecordLogin"]
    RecordLogin.seen = []
    return RecordLogin.seen


@contextlib.contextmanager
def real_logins(settings):
    """Production's path: no emulation, DATABASES default and staff log in as the two roles
    (fresh connections, no pool), as `make run` and docker compose configure them."""
    settings.DB_EMULATED_ROLES = None
    originals = {alias: connections[alias] for alias in ("default", "staff")}
    base = originals["default"].settings_dict
    logins = {"default": (APP_ROLE, APP_PASSWORD), "staff": (STAFF_ROLE, STAFF_PASSWORD)}
    for alias, (user, password) in logins.items():
        options = {**base["OPTIONS"], "pool": False}
        settings_dict = {**base, "USER": user, "PASSWORD": password, "OPTIONS": options}
        connections[alias] = originals["default"].__class__(settings_dict, alias=alias)
    try:
        yield
    finally:
        for alias, original in originals.items():
            connections[alias].close()
            connections[alias] = original


def _unfiltered(monkeypatch):
    # A selector that forgot "WHERE user_id = ...": PostgreSQL still filters.
    monkeypatch.setattr(
        selectors,
        "order_list_for_user",
        lambda *, user_id, status=None: Order.objects.order_by("-created_at", "-id"),
    )


@pytest.mark.django_db(transaction=True, databases=["default", "staff"])
def test_with_real_logins_the_api_is_the_app_and_the_admin_is_staff(
    two_shoppers, client, monkeypatch, recorded, settings
):
    ada, bob, orders = two_shoppers
    _unfiltered(monkeypatch)
    shopper = client_for(ada)
    staff_api = client_for(UserFactory(username="boss", is_staff=True))
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    with real_logins(settings):
        mine = shopper.get("/api/v1/orders/?page_size=10")
        bobs_as_staff = staff_api.get(f"/api/v1/staff/orders/{orders['bob'][0]}/")
        changelist = client.get("/admin/shop/order/")

    assert mine.status_code == 200
    assert sorted(order["id"] for order in mine.json()["results"]) == orders["ada"]
    assert bobs_as_staff.status_code == 200
    assert bobs_as_staff.json()["id"] == orders["bob"][0]
    assert changelist.status_code == 200
    for pk in orders["ada"] + orders["bob"]:
        assert f"/admin/shop/order/{pk}/change/" in changelist.content.decode()
    assert recorded == [
        ("/api/v1/orders/", APP_ROLE, APP_ROLE),
        (f"/api/v1/staff/orders/{orders['bob'][0]}/", STAFF_ROLE, STAFF_ROLE),
        ("/admin/shop/order/", STAFF_ROLE, STAFF_ROLE),
    ]


@pytest.mark.django_db(transaction=False)
def test_in_the_suite_requests_run_as_the_two_roles_and_the_test_as_the_owner(
    two_shoppers, client, monkeypatch, recorded
):
    """The suite's emulation (settings DB_EMULATED_ROLES): the owner's one test transaction,
    each request's statements under SET LOCAL ROLE, the owner again afterwards."""
    ada, bob, orders = two_shoppers
    _unfiltered(monkeypatch)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    mine = client_for(ada).get("/api/v1/orders/?page_size=10")
    changelist = client.get("/admin/shop/order/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_user, current_user")
        after = cursor.fetchone()

    owner = connection.settings_dict["USER"]
    assert sorted(order["id"] for order in mine.json()["results"]) == orders["ada"]
    assert changelist.status_code == 200
    assert recorded == [
        ("/api/v1/orders/", owner, APP_ROLE),
        ("/admin/shop/order/", owner, STAFF_ROLE),
    ]
    assert after == (owner, owner)
