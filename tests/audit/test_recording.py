"""Every kind of write is recorded, exactly once, with exactly its context.

Events are read back with their label and their full context (pgh_context): a write outside
any context must carry none, a write inside one must carry precisely its keys.
"""

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from audit.context import audit_context, command_context, task_context
from audit.models import (
    EVENT_MODELS,
    CategoryEvent,
    OrderEvent,
    OrderItemEvent,
    ProductEvent,
    UserEvent,
    UserGroupEvent,
    UserProfileEvent,
)
from shop.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory
from shop.models import Order, Product, User, UserGroup
from tests.audit.conftest import events
from tests.shop.test_admin import address_fields, product_form

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- ORM and SQL


def test_orm_insert_update_and_delete_are_recorded_without_context():
    category = CategoryFactory(name="Books", slug="books")

    category.name = "Old books"
    category.save()
    category_id = category.pk
    category.delete()

    rows = list(
        CategoryEvent.objects.filter(pgh_obj_id=category_id)
        .order_by("pgh_id")
        .values_list("pgh_label", "name", "pgh_context", "pgh_context_id", "pgh_user_id")
    )
    assert rows == [
        ("insert", "Books", None, None, None),
        ("update", "Old books", None, None, None),
        ("delete", "Old books", None, None, None),
    ]


def test_a_save_that_changes_nothing_records_nothing():
    product = ProductFactory()
    fresh = Product.objects.get(pk=product.pk)

    fresh.save()
    Product.objects.filter(pk=product.pk).update(price=fresh.price)  # the same value

    assert events(ProductEvent, product) == [("insert", None)]


def test_bulk_create_records_one_insert_per_row():
    category = CategoryFactory()

    products = Product.objects.bulk_create(
        Product(name=f"P{n}", price=Decimal("1.00"), category=category) for n in range(3)
    )

    assert sorted(ProductEvent.objects.values_list("pgh_obj_id", "pgh_label", "name")) == [
        (products[0].pk, "insert", "P0"),
        (products[1].pk, "insert", "P1"),
        (products[2].pk, "insert", "P2"),
    ]


def test_queryset_update_records_only_the_rows_it_changed():
    cheap, dear = ProductFactory(price=Decimal("5.00")), ProductFactory(price=Decimal("9.00"))

    Product.objects.filter(pk__in=[cheap.pk, dear.pk]).update(price=Decimal("9.00"))

    updates = ProductEvent.objects.filter(pgh_label="update")
    assert list(updates.values_list("pgh_obj_id", "price", "version")) == [
        (cheap.pk, Decimal("9.00"), 2)
    ]


def test_raw_sql_outside_any_context_is_recorded_with_no_context():
    product = ProductFactory(stock_quantity=3)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE shop_product SET stock_quantity = 7 WHERE id = %s", [product.pk])

    update = ProductEvent.objects.get(pgh_obj_id=product.pk, pgh_label="update")
    assert (update.stock_quantity, update.pgh_context, update.pgh_context_id) == (7, None, None)
    assert update.pgh_user_id is None


def test_raw_sql_inside_a_context_carries_it():
    product = ProductFactory(stock_quantity=3)

    with (
        audit_context(via="task", user=None, task="restock", task_id="t-1") as ctx,
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE shop_product SET stock_quantity = 8 WHERE id = %s", [product.pk])

    update = ProductEvent.objects.get(pgh_obj_id=product.pk, pgh_label="update")
    assert update.pgh_context == {"via": "task", "user": None, "task": "restock", "task_id": "t-1"}
    assert update.pgh_context_id == ctx.id


def test_deleting_an_order_records_the_order_and_each_item():
    first, second = ProductFactory(), ProductFactory()
    order = OrderFactory(lines=[(first, 1), (second, 2)])
    item_ids = sorted(order.items.values_list("pk", flat=True))
    order_id = order.pk

    order.delete()

    assert sorted(
        OrderItemEvent.objects.filter(pgh_label="delete").values_list("pgh_obj_id", "order_id")
    ) == [(item_ids[0], order_id), (item_ids[1], order_id)]
    assert list(
        OrderEvent.objects.filter(pgh_label="delete").values_list("pgh_obj_id", "status")
    ) == [(order_id, "pending")]


def test_password_hashes_never_reach_history():
    user = UserFactory(username="grace")

    user.set_password("a-new-secret-9")
    user.save()

    assert "password" not in {f.name for f in UserEvent._meta.fields}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'audit_userevent' AND column_name = 'password'"
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT row_to_json(e)::text FROM audit_userevent e WHERE pgh_obj_id = %s"
            " ORDER BY pgh_id",
            [user.pk],
        )
        rows = [row[0] for row in cursor.fetchall()]
    # The change is recorded (updated_at moved) without the hash, old or new.
    assert [json.loads(row)["pgh_label"] for row in rows] == ["insert", "update"]
    assert all(user.password not in row and "md5$" not in row for row in rows)


def test_search_vector_is_not_copied_but_its_sources_are():
    fields = {f.name for f in ProductEvent._meta.fields}

    assert "search_vector" not in fields
    assert {"name", "description"} <= fields


def test_group_membership_changes_are_recorded():
    user = UserFactory()
    group = Group.objects.create(name="Support")

    user.groups.add(group)
    membership = UserGroup.objects.get(user=user)
    user.groups.remove(group)

    assert list(
        UserGroupEvent.objects.filter(pgh_obj_id=membership.pk)
        .order_by("pgh_id")
        .values_list("pgh_label", "user_id", "group_id")
    ) == [("insert", user.pk, group.pk), ("delete", user.pk, group.pk)]


def test_every_shop_table_is_tracked():
    from django.apps import apps

    from audit.models import UNTRACKED

    tracked = {m.pgh_tracked_model for m in EVENT_MODELS}
    shop_models = set(apps.get_app_config("shop").get_models())

    assert tracked == {m for m in shop_models if m._meta.label not in UNTRACKED}
    assert [m._meta.label for m in shop_models - tracked] == ["shop.IdempotencyKey"]


# --------------------------------------------------------------------------- context


def test_writes_after_a_context_in_the_same_transaction_carry_no_context():
    # pghistory's settings last for the transaction; audit_context clears them on exit.
    with audit_context(via="task", user=7):
        inside = CategoryFactory()
    outside = CategoryFactory()
    with audit_context(via="task", user=8):
        pass  # wrote nothing: nothing to clear, no extra query
    after_empty = CategoryFactory()

    assert events(CategoryEvent, inside) == [("insert", {"via": "task", "user": 7})]
    assert events(CategoryEvent, outside) == [("insert", None)]
    assert events(CategoryEvent, after_empty) == [("insert", None)]


def test_nested_contexts_share_one_context_id_and_add_their_keys():
    with audit_context(via="command", command="seed") as outer:
        first = CategoryFactory()
        with audit_context(step="orders") as inner:
            second = CategoryFactory()

    assert inner is outer
    first_event = CategoryEvent.objects.get(pgh_obj_id=first.pk)
    second_event = CategoryEvent.objects.get(pgh_obj_id=second.pk)
    assert first_event.pgh_context_id == second_event.pgh_context_id == outer.id
    # Each statement carries the metadata as it was when the statement ran.
    assert first_event.pgh_context == {"via": "command", "command": "seed"}
    assert second_event.pgh_context == {"via": "command", "command": "seed", "step": "orders"}


def test_a_context_user_that_is_not_a_number_is_stored_but_not_filtered_on():
    with audit_context(user="alice"):
        category = CategoryFactory()

    event = CategoryEvent.objects.get(pgh_obj_id=category.pk)
    assert (event.pgh_context, event.pgh_user_id) == ({"user": "alice"}, None)


def test_task_context_names_the_task_and_ties_events_to_its_id():
    product = ProductFactory(stock_quantity=5)

    with task_context(name="shop.tasks.restock", task_id="9f2c-task", user_id=42):
        Product.objects.filter(pk=product.pk).update(stock_quantity=6)
        OrderFactory()

    update = ProductEvent.objects.get(pgh_obj_id=product.pk, pgh_label="update")
    order_insert = OrderEvent.objects.get()
    expected = {
        "via": "task",
        "user": 42,
        "task": "shop.tasks.restock",
        "task_id": "9f2c-task",
        "request_id": "9f2c-task",
    }
    assert (update.pgh_context, update.pgh_user_id) == (expected, 42)
    assert order_insert.pgh_context == expected
    assert order_insert.pgh_context_id == update.pgh_context_id


def test_task_context_keeps_the_enqueuing_requests_id():
    with task_context(name="t", task_id="task-1", request_id="req-from-the-api"):
        category = CategoryFactory()

    context = CategoryEvent.objects.get(pgh_obj_id=category.pk).pgh_context
    assert context["request_id"] == "req-from-the-api"


def test_command_context_names_the_command():
    with command_context(["manage.py", "seed", "--if-empty"]):
        category = CategoryFactory()

    context = CategoryEvent.objects.get(pgh_obj_id=category.pk).pgh_context
    assert set(context) == {"via", "user", "command", "request_id"}
    assert (context["via"], context["user"], context["command"]) == ("command", None, "seed")
    uuid.UUID(context["request_id"])


@pytest.mark.parametrize(
    "argv", [["manage.py"], ["manage.py", "runserver"], ["manage.py", "--help"]]
)
def test_runserver_and_no_command_open_no_context(argv):
    with command_context(argv):
        category = CategoryFactory()

    assert events(CategoryEvent, category) == [("insert", None)]


@pytest.mark.django_db(transaction=True)
def test_manage_py_records_the_command_it_runs():
    # The real manage.py, against the test database (committed: another process reads it).
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "DB_POOL": "false",
        "DEMO_PASSWORD": "demo-password-123",
    }

    subprocess.run(
        [sys.executable, "manage.py", "demo_user", "--username", "demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    user = User.objects.get(username="demo")
    (user_insert,) = UserEvent.objects.filter(pgh_obj_id=user.pk)
    (profile_insert,) = UserProfileEvent.objects.filter(pgh_obj_id=user.pk)
    assert user_insert.pgh_label == profile_insert.pgh_label == "insert"
    assert user_insert.pgh_context["via"] == "command"
    assert user_insert.pgh_context["command"] == "demo_user"
    assert user_insert.pgh_context == profile_insert.pgh_context
    assert user_insert.pgh_context_id == profile_insert.pgh_context_id


# --------------------------------------------------------------------------- requests


def test_admin_edit_is_recorded_with_user_method_path_and_request_id(staff_client, superuser):
    product = ProductFactory(price=Decimal("12.50"))
    path = f"/admin/shop/product/{product.pk}/change/"

    response = staff_client.post(
        path, product_form(product, price="10.00"), headers={"X-Request-ID": "req-0123456789"}
    )

    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-0123456789"
    update = ProductEvent.objects.get(pgh_obj_id=product.pk, pgh_label="update")
    assert update.price == Decimal("10.00")
    assert update.pgh_context == {
        "via": "admin",
        "user": superuser.pk,
        "method": "POST",
        "path": path,
        "request_id": "req-0123456789",
    }
    assert update.pgh_user_id == superuser.pk


def test_an_admin_save_that_changes_nothing_records_nothing(staff_client):
    product = ProductFactory(price=Decimal("12.50"))

    response = staff_client.post(f"/admin/shop/product/{product.pk}/change/", product_form(product))

    assert response.status_code == 302
    assert events(ProductEvent, product) == [("insert", None)]


@pytest.mark.parametrize("given", ["", "short", "has spaces in it", "x" * 65, "<script>1</script>"])
def test_an_unusable_request_id_header_is_replaced_by_a_uuid(staff_client, given):
    category = CategoryFactory()

    response = staff_client.post(
        f"/admin/shop/category/{category.pk}/change/",
        {"name": "Renamed", "slug": category.slug, "parent": ""},
        headers={"X-Request-ID": given},
    )

    assert response.status_code == 302
    context = CategoryEvent.objects.get(pgh_obj_id=category.pk, pgh_label="update").pgh_context
    assert context["request_id"] == response["X-Request-ID"]
    assert str(uuid.UUID(context["request_id"])) == context["request_id"]


def test_every_event_of_one_request_shares_its_context(staff_client, superuser):
    user = UserFactory(username="grace")
    support = Group.objects.create(name="Support")

    response = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        {
            "username": "grace",
            "email": user.email,
            "status": "suspended",
            "is_active": "on",
            "member_of": [support.pk],
            "profile-TOTAL_FORMS": 1,
            "profile-INITIAL_FORMS": 0,
            "profile-MIN_NUM_FORMS": 0,
            "profile-MAX_NUM_FORMS": 1,
            "profile-0-first_name": "Grace",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    user_update = UserEvent.objects.get(pgh_obj_id=user.pk, pgh_label="update")
    profile_insert = UserProfileEvent.objects.get(pgh_obj_id=user.pk)
    membership = UserGroupEvent.objects.get(user_id=user.pk)
    assert user_update.status == "suspended"
    assert (profile_insert.pgh_label, profile_insert.first_name) == ("insert", "Grace")
    assert membership.pgh_label == "insert"
    contexts = {
        (e.pgh_context_id, json.dumps(e.pgh_context, sort_keys=True))
        for e in (user_update, profile_insert, membership)
    }
    assert len(contexts) == 1
    assert user_update.pgh_context["user"] == superuser.pk


def test_order_status_change_in_the_admin_is_recorded(staff_client, immediate_constraints):
    order = OrderFactory(lines=[(ProductFactory(price=Decimal("4.00")), 1)])
    immediate_constraints()

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/",
        {
            "user": order.user_id,
            "status": "processing",
            **address_fields(order.shipping_address),
            "items-TOTAL_FORMS": 1,
            "items-INITIAL_FORMS": 1,
            "items-MIN_NUM_FORMS": 0,
            "items-MAX_NUM_FORMS": 0,
            "items-0-id": order.items.get().pk,
            "items-0-order": order.pk,
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert list(
        OrderEvent.objects.filter(pgh_obj_id=order.pk)
        .order_by("pgh_id")
        .values_list("pgh_label", "status", "version", "pgh_context__via")
    ) == [("insert", "pending", 1, None), ("update", "processing", 2, "admin")]
    assert Order.objects.get(pk=order.pk).status == "processing"
