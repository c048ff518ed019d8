"""What the application role cannot switch off: the database's triggers and its history.

Connected as the application role (tests/security/conftest.py), the way an attacker holding
its credentials would be: every way to skip a trigger or to write history is tried and
refused, and the owner can still skip triggers (the bulk seed's load). core/roles.py
(lock_triggers), audit/roles.py (history_grants); docs/security.md "What the application role
cannot switch off".
"""

import uuid
from decimal import Decimal

import pgtrigger
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from pghistory.models import Context
from psycopg.types.json import Jsonb

from audit import roles as audit_roles
from audit.models import EVENT_MODELS, ProductEvent
from core import roles
from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

# Every trigger of the schema by name, as pgtrigger.ignore lists them: ignore them all.
EVERY_TRIGGER = (
    "SELECT set_config('pgtrigger.ignore', "
    "'{' || string_agg(tgname, ',') || '}', true) FROM pg_trigger WHERE NOT tgisinternal"
)

STATUS_TRANSITION = next(
    trigger for trigger in Order._meta.triggers if trigger.name == "status_transition"
).get_pgid(Order)

# The functions that write history, found by what they do rather than by name.
WRITERS_SQL = """
SELECT proname, prosecdef, proconfig FROM pg_proc
 WHERE pronamespace = 'public'::regnamespace AND prosrc ~ 'INSERT INTO "audit_[a-z]+event"'
 ORDER BY proname
"""


def sqlstate(conn, *statements, params=None) -> str:
    """The SQLSTATE that ends a transaction running `statements` (COMMIT included)."""

    def run():
        with conn.transaction():
            for statement in statements:
                conn.execute(statement, params if "%s" in statement else None)

    with pytest.raises(psycopg.Error) as failure:
        run()
    return failure.value.sqlstate


def as_shopper(user_id: int) -> str:
    """Row-level security's scope (shop/api/rls.py), so the statement reaches the order."""
    return f"SELECT set_config('app.rls_user_id', '{int(user_id)}', true)"


def test_ignoring_every_trigger_leaves_an_illegal_status_transition_refused(app_db):
    order = OrderFactory(status="delivered")

    state = sqlstate(
        app_db,
        EVERY_TRIGGER,
        as_shopper(order.user_id),
        "UPDATE shop_order SET status = 'pending' WHERE id = %s",
        params=[order.pk],
    )

    assert state == "23514"  # check_violation: shop_order_status_transition
    assert Order.objects.get(pk=order.pk).status == "delivered"


def test_ignoring_every_trigger_leaves_an_unbalanced_order_refused_at_commit(app_db):
    user = UserFactory()

    state = sqlstate(
        app_db,
        EVERY_TRIGGER,
        as_shopper(user.pk),
        "INSERT INTO shop_order (user_id, status, total_amount, shipping_address, created_at, "
        "updated_at) VALUES (%s, 'pending', 99.00, %s, now(), now())",
        params=[user.pk, Jsonb(shipping_address_for("Eve"))],
    )

    assert state == "23514"  # shop_order_total_matches_items, at COMMIT
    assert Order.objects.count() == 0


def test_ignoring_every_trigger_still_writes_the_audit_event(app_db):
    lamp = ProductFactory(price="5.00")

    with app_db.transaction():
        app_db.execute(EVERY_TRIGGER)
        app_db.execute("UPDATE shop_product SET price = 1.00 WHERE id = %s", [lamp.pk])

    events = ProductEvent.objects.filter(pgh_obj_id=lamp.pk).order_by("pgh_id")
    assert list(events.values_list("pgh_label", "price")) == [
        ("insert", Decimal("5.00")),
        ("update", Decimal("1.00")),
    ]


def test_a_temporary_table_cannot_stand_in_for_the_one_a_trigger_reads_or_writes(app_db):
    """pg_temp is searched first by default: the triggers' functions fix their search_path."""
    user = UserFactory()
    lamp = ProductFactory(price="5.00")
    app_db.execute("CREATE TEMP TABLE shop_orderitem (order_id bigint, subtotal numeric)")
    app_db.execute(
        "CREATE TEMP TABLE audit_productevent "
        "(LIKE public.audit_productevent INCLUDING DEFAULTS INCLUDING GENERATED)"
    )

    def order_with_items_of_its_own():
        with app_db.transaction():
            app_db.execute(as_shopper(user.pk))
            (order_id,) = app_db.execute(
                "INSERT INTO public.shop_order (user_id, status, total_amount, shipping_address, "
                "created_at, updated_at) VALUES (%s, 'pending', 99.00, %s, now(), now()) "
                "RETURNING id",
                [user.pk, Jsonb(shipping_address_for("Eve"))],
            ).fetchone()
            # Items that add up, in a table of the session's own.
            app_db.execute("INSERT INTO pg_temp.shop_orderitem VALUES (%s, 99.00)", [order_id])

    try:
        with pytest.raises(psycopg.Error) as failure:
            order_with_items_of_its_own()
        with app_db.transaction():
            app_db.execute("UPDATE public.shop_product SET price = 1.00 WHERE id = %s", [lamp.pk])
        shadow_events = app_db.execute("SELECT count(*) FROM pg_temp.audit_productevent").fetchone()
    finally:
        # Dropped now: the fixture drops the role, which a closing session's tables outlive.
        app_db.execute("DISCARD TEMP")

    assert failure.value.sqlstate == "23514"  # the real items were summed: none
    assert Order.objects.count() == 0
    assert ProductEvent.objects.filter(pgh_obj_id=lamp.pk).count() == 2  # insert, update
    assert shadow_events == (0,)


def test_the_context_the_application_sets_is_still_recorded(app_db):
    lamp = ProductFactory()
    context_id = uuid.uuid4()

    with app_db.transaction():
        app_db.execute(
            "SELECT set_config('pghistory.context_id', %s, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [str(context_id), '{"via": "api", "user": 7}'],
        )
        app_db.execute("UPDATE shop_product SET name = 'Lamp 2' WHERE id = %s", [lamp.pk])

    event = ProductEvent.objects.get(pgh_obj_id=lamp.pk, pgh_label="update")
    assert (event.pgh_context_id, event.pgh_context, event.pgh_user_id) == (
        context_id,
        {"via": "api", "user": 7},
        7,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE pghistory_context SET metadata = '{}'",
        "DELETE FROM pghistory_context",
        "INSERT INTO pghistory_context (id, created_at, updated_at, metadata) "
        "VALUES (gen_random_uuid(), now(), now(), '{}')",
        *(
            f"INSERT INTO {model._meta.db_table} (pgh_created_at, pgh_label, pgh_obj_id) "  # noqa: S608
            "VALUES (now(), 'insert', 1)"
            for model in EVENT_MODELS
        ),
        "SELECT nextval('audit_event_pgh_id_seq')",
        # The other switches: each is the owner's or a superuser's.
        "ALTER TABLE shop_order DISABLE TRIGGER USER",
        "ALTER TABLE shop_order DISABLE TRIGGER ALL",
        "SET session_replication_role = replica",
        f"DROP TRIGGER {STATUS_TRANSITION} ON shop_order",
        "CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name name) "
        "RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        "ALTER FUNCTION shop_check_order_total(bigint) RESET search_path",
        "CREATE OR REPLACE FUNCTION shop_check_order_total(p_order_id bigint) RETURNS void "
        "LANGUAGE sql AS 'SELECT'",
        "ALTER FUNCTION shop_check_order_total(bigint) OWNER TO CURRENT_USER",
    ],
    ids=lambda statement: statement[:60],
)
def test_the_application_role_cannot_write_history_or_switch_a_trigger_off(app_db, statement):
    with transaction.atomic():
        Context.objects.create(id=uuid.uuid4(), metadata={"via": "command"})
    before = list(Context.objects.values_list("id", "metadata"))

    assert sqlstate(app_db, statement) == "42501"  # insufficient_privilege
    assert list(Context.objects.values_list("id", "metadata")) == before
    assert [model.objects.count() for model in EVENT_MODELS] == [0] * len(EVENT_MODELS)


@pytest.mark.parametrize("become", ["SET ROLE {}", "SET SESSION AUTHORIZATION {}"])
def test_the_application_role_cannot_become_the_owner(app_db, become):
    owner = connection.settings_dict["USER"]

    assert sqlstate(app_db, become.format(owner)) == "42501"
    assert app_db.execute("SELECT session_user = current_user").fetchone() == (True,)


def test_the_owner_can_still_ignore_a_trigger():
    order = OrderFactory(status="delivered")

    with pgtrigger.ignore("shop.Order:status_transition"), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status="pending")

    assert Order.objects.get(pk=order.pk).status == "pending"


def assert_locked(history: set[str]) -> None:
    """Every history writer runs as the owner, every trigger function has a fixed path, and
    nothing but the owner-only check reads pgtrigger.ignore."""
    with connection.cursor() as cursor:
        cursor.execute(WRITERS_SQL)
        writers = cursor.fetchall()
        cursor.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace NOT IN "
            "('pg_catalog'::regnamespace, 'information_schema'::regnamespace) "
            "AND prosrc LIKE '%pgtrigger.ignore%'"
        )
        readers = cursor.fetchall()
        cursor.execute(
            "SELECT DISTINCT p.proname, p.proconfig FROM pg_trigger t "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal ORDER BY 1"
        )
        triggers = cursor.fetchall()
    assert writers == [
        (name, True, [f"search_path={roles.SEARCH_PATH}"]) for name in sorted(history)
    ]
    assert readers == [(roles.IGNORE_FUNCTION,)]
    assert {config[0] for _, config in triggers} == {f"search_path={roles.SEARCH_PATH}"}


def test_after_a_full_migrate_history_triggers_run_as_the_owner_and_honour_no_ignore(app_db):
    history = audit_roles.history_trigger_functions()
    honoured = (
        "SELECT count(*) FILTER (WHERE public._pgtrigger_should_ignore(tgname)), count(*) "
        "FROM pg_trigger WHERE NOT tgisinternal"
    )

    with app_db.transaction():
        app_db.execute(EVERY_TRIGGER)
        (for_the_app, triggers) = app_db.execute(honoured).fetchone()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(EVERY_TRIGGER)
        cursor.execute(honoured)
        (for_the_owner, _) = cursor.fetchone()

    assert len(history) == 3 * len(EVENT_MODELS)  # insert, update, delete per tracked table
    assert (for_the_app, for_the_owner) == (0, triggers)
    assert_locked(history)


def test_a_trigger_reinstall_is_locked_again_by_the_next_migrate():
    history = audit_roles.history_trigger_functions()
    try:
        pgtrigger.install()  # what a migration's AddTrigger runs: pgtrigger's own SQL
        with connection.cursor() as cursor:
            cursor.execute(WRITERS_SQL)
            reinstalled = {secdef for _, secdef, _ in cursor.fetchall()}
        assert reinstalled == {False}  # CREATE OR REPLACE reset them
    finally:
        call_command("migrate", verbosity=0)  # nothing to apply; post_migrate all the same

    assert_locked(history)
