"""Staff see history: each object's History page and the audit log, on exact query budgets."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.context import audit_context
from audit.models import AuditLog
from shop.factories import (
    CategoryFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
)
from shop.models import Product
from tests.audit.conftest import db_now
from tests.shop.test_admin import product_form

pytestmark = pytest.mark.django_db


def edit_product_in_admin(client, product, **changes):
    data = product_form(product, **changes)
    response = client.post(f"/admin/shop/product/{product.pk}/change/", data)
    assert response.status_code == 302
    product.refresh_from_db()


# --------------------------------------------------------------------------- History view


@pytest.mark.parametrize("updates", [1, 8])
def test_history_view_query_count_does_not_grow_with_events(
    staff_client, superuser, django_assert_num_queries, updates
):
    product = ProductFactory(price=Decimal("50.00"))
    for n in range(updates):
        edit_product_in_admin(staff_client, product, price=f"{40 - n}.00")

    # session, user, the product, its events, the usernames in their contexts, the name of
    # the category its insert names
    with django_assert_num_queries(6):
        response = staff_client.get(f"/admin/shop/product/{product.pk}/history/")

    assert response.status_code == 200
    entries = response.context["entries"]
    assert [e.event.pgh_label for e in entries] == ["update"] * updates + ["insert"]
    newest = entries[0]
    assert newest.username == "boss"
    assert newest.context["via"] == "admin"
    price = [c for c in newest.changes if c.field == "price"]
    assert [(c.old, c.new) for c in price] == [
        (Decimal("50.00") if updates == 1 else Decimal(f"{42 - updates}.00"), product.price)
    ]
    assert entries[-1].username is None  # the factory's insert: no context, no user
    assert b"database (no context)" in response.content


def test_history_view_shows_the_object_as_of_a_moment(staff_client, django_assert_num_queries):
    product = ProductFactory(name="Desk", price=Decimal("100.00"))
    moment = db_now()
    Product.objects.filter(pk=product.pk).update(name="Walnut desk")

    # ... plus the one time-travel query
    with django_assert_num_queries(6):
        response = staff_client.get(
            f"/admin/shop/product/{product.pk}/history/", {"at": moment.isoformat()}
        )

    assert response.status_code == 200
    as_of = dict(response.context["as_of"])
    assert (as_of["name"], as_of["price"], as_of["version"]) == ("Desk", "100.00", "1")


def test_history_view_before_the_object_existed(staff_client):
    moment = db_now() - timedelta(days=1)
    product = ProductFactory()

    response = staff_client.get(
        f"/admin/shop/product/{product.pk}/history/", {"at": moment.isoformat()}
    )

    assert response.context["as_of"] is None
    assert b"It did not exist then." in response.content


def test_a_moment_that_is_not_a_date_is_a_form_error(staff_client):
    product = ProductFactory()

    response = staff_client.get(f"/admin/shop/product/{product.pk}/history/", {"at": "noonish"})

    assert response.status_code == 200
    assert response.context["moment_error"] == "Enter a date and time such as 2025-01-31 12:00."
    assert response.context["as_of"] is None


def test_history_of_a_deleted_object_remains_readable(staff_client):
    product = ProductFactory(name="Lamp")
    pk = product.pk
    product.delete()

    response = staff_client.get(f"/admin/shop/product/{pk}/history/")

    assert response.status_code == 200
    assert [e.event.pgh_label for e in response.context["entries"]] == ["delete", "insert"]
    assert b"no longer exists; its history remains" in response.content


@pytest.mark.parametrize("object_id", ["999999", "not-a-number"])
def test_history_of_an_object_that_never_existed_redirects(staff_client, object_id):
    response = staff_client.get(f"/admin/shop/product/{object_id}/history/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_history_pages_link_to_older_events(staff_client):
    product = ProductFactory(stock_quantity=0)
    for stock in range(1, 52):  # 51 updates + the insert: 52 events, 50 a page
        Product.objects.filter(pk=product.pk).update(stock_quantity=stock)

    first = staff_client.get(f"/admin/shop/product/{product.pk}/history/")
    older = staff_client.get(
        f"/admin/shop/product/{product.pk}/history/", {"before": first.context["older"]}
    )

    assert len(first.context["entries"]) == 50
    assert f'href="?before={first.context["older"]}"'.encode() in first.content
    assert [e.event.stock_quantity for e in older.context["entries"]] == [1, 0]
    assert older.context["older"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/admin/shop/user/{user}/history/",
        "/admin/shop/userprofile/{user}/history/",
        "/admin/shop/category/{category}/history/",
        "/admin/shop/product/{product}/history/",
        "/admin/shop/order/{order}/history/",
        "/admin/shop/orderitem/{item}/history/",
    ],
)
def test_every_shop_admin_has_the_history_view(staff_client, path):
    product = ProductFactory()
    order = OrderFactory(lines=[(product, 1)])
    UserProfileFactory(user=order.user)
    ids = {
        "user": order.user_id,
        "category": product.category_id,
        "product": product.pk,
        "order": order.pk,
        "item": order.items.get().pk,
    }

    response = staff_client.get(path.format(**ids))

    assert response.status_code == 200
    # An order's History holds its item's insert too
    expected = ["insert", "insert"] if "/order/" in path else ["insert"]
    assert [e.event.pgh_label for e in response.context["entries"]] == expected


def test_shoppers_cannot_see_history(client):
    product = ProductFactory()
    client.force_login(UserFactory(is_staff=False, is_superuser=True))

    response = client.get(f"/admin/shop/product/{product.pk}/history/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_view_permission_cannot_see_history(client):
    product = ProductFactory()
    client.force_login(UserFactory(is_staff=True))

    response = client.get(f"/admin/shop/product/{product.pk}/history/")

    assert response.status_code == 403


# --------------------------------------------------------------------------- audit log


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize(
    "query", [{}, {"model": "shop.category"}, {"action": "insert"}, {"user": "ME"}]
)
def test_audit_log_query_count_does_not_grow_with_rows(
    staff_client, superuser, django_assert_num_queries, rows, query
):
    with audit_context(user=superuser.pk):
        for _ in range(rows):
            CategoryFactory()
    query = {k: str(superuser.pk) if v == "ME" else v for k, v in query.items()}

    # session, user, the user filter's staff list, the capped count, the page
    with django_assert_num_queries(5):
        response = staff_client.get("/admin/audit/auditlog/", query)

    assert response.status_code == 200
    listed = [(e.object_model, e.pgh_label) for e in response.context["cl"].result_list]
    assert listed[:rows] == [("shop.category", "insert")] * rows
    assert response.context["cl"].result_count == len(listed)


def test_audit_log_never_counts_the_whole_table(staff_client):
    CategoryFactory()

    with CaptureQueriesContext(connection) as queries:
        staff_client.get("/admin/audit/auditlog/")

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "LIMIT 10001" in counts[0]


def test_audit_log_count_past_the_cap_is_a_bound_and_every_page_is_reachable(
    staff_client, monkeypatch
):
    from audit.admin import AuditLogAdmin, AuditLogPaginator

    monkeypatch.setattr(AuditLogPaginator, "CAP", 3)
    monkeypatch.setattr(AuditLogAdmin, "list_per_page", 2)
    for _ in range(4):
        CategoryFactory()
    # boss's insert and login, 4 categories: 6 events, more than the cap of 3.
    events = list(AuditLog.objects.order_by("-pgh_created_at", "-pgh_id"))

    first = staff_client.get("/admin/audit/auditlog/")
    last = staff_client.get("/admin/audit/auditlog/", {"p": "3"})

    assert first.context["cl"].result_count == 4  # CAP + 1 rows seen: a bound, not a guess
    assert first.context["cl"].paginator.count_label == "3+"
    assert list(first.context["cl"].result_list) == events[:2]
    assert last.context["cl"].result_count == 6  # the count reached the end: exact
    assert list(last.context["cl"].result_list) == events[4:]


def test_audit_log_filters(staff_client, superuser):
    start = db_now()
    with audit_context(user=superuser.pk):
        category = CategoryFactory()
    product = ProductFactory(category=category)
    Product.objects.filter(pk=product.pk).update(stock_quantity=product.stock_quantity + 1)
    product_id = product.pk
    product.delete()
    log = "/admin/audit/auditlog/"

    def listed(**query):
        response = staff_client.get(log, query)
        assert response.status_code == 200
        return [
            (e.object_model, e.object_id, e.pgh_label) for e in response.context["cl"].result_list
        ]

    assert listed(model="shop.product") == [
        ("shop.product", product_id, "delete"),
        ("shop.product", product_id, "update"),
        ("shop.product", product_id, "insert"),
    ]
    assert listed(action="delete") == [("shop.product", product_id, "delete")]
    assert listed(user=str(superuser.pk)) == [("shop.category", category.pk, "insert")]
    assert listed(pgh_created_at__gte=start.isoformat(), model="shop.category") == [
        ("shop.category", category.pk, "insert")
    ]
    assert listed(pgh_created_at__gte=(start + timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize("query", [{"action": "truncate"}, {"user": "boss"}, {"model": "x.y"}])
def test_audit_log_bad_filter_value_is_a_message(staff_client, query):
    response = staff_client.get("/admin/audit/auditlog/", query, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1] == ("/admin/audit/auditlog/", 302)
    assert [str(m) for m in response.context["messages"]] == [
        "Unknown filter value: the audit log is shown unfiltered."
    ]


def test_audit_log_rows_link_to_history_and_say_who_and_how(staff_client, superuser):
    product = ProductFactory(price=Decimal("3.00"))
    edit_product_in_admin(staff_client, product, price="4.00")

    response = staff_client.get("/admin/audit/auditlog/", {"model": "shop.product"})

    entry = response.context["cl"].result_list[0]
    assert (entry.pgh_label, entry.pgh_user_id) == ("update", superuser.pk)
    content = response.content.decode()
    assert (
        f'<a href="/admin/shop/product/{product.pk}/history/" title="its history">#{product.pk}</a>'
        in content
    )
    assert f"admin: /admin/shop/product/{product.pk}/change/" in content
    assert "database" in content  # the factory's insert, made outside any context


def test_audit_log_is_read_only(staff_client):
    CategoryFactory()
    event = AuditLog.objects.first()
    count = AuditLog.objects.count()

    add = staff_client.get("/admin/audit/auditlog/add/")
    delete = staff_client.post(f"/admin/audit/auditlog/{event.pk}/delete/", {"post": "yes"})

    assert (add.status_code, delete.status_code) == (403, 403)
    assert AuditLog.objects.count() == count


def test_audit_log_needs_its_view_permission(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    refused = client.get("/admin/audit/auditlog/")
    staff.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    allowed = client.get("/admin/audit/auditlog/")

    assert (refused.status_code, allowed.status_code) == (403, 200)


def test_shoppers_cannot_see_the_audit_log(client):
    client.force_login(UserFactory(is_staff=False, is_superuser=True))

    response = client.get("/admin/audit/auditlog/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/audit/auditlog/"


# --------------------------------------------------------------------------- readable history


def test_an_orders_history_holds_its_items_changes_with_names(
    staff_client, django_assert_num_queries
):
    desk = ProductFactory(name="Walnut desk")
    order = OrderFactory(lines=[(desk, 2)])
    item = order.items.get()
    edit_product_in_admin(staff_client, desk, price="9.00")  # not part of the order

    # session, user, the order, its events, its items' events (the item ids a subquery),
    # the names of the customer and of the product the events point to
    with django_assert_num_queries(7):
        response = staff_client.get(f"/admin/shop/order/{order.pk}/history/")

    entries = response.context["entries"]
    assert [(e.event.pgh_label, e.part_label) for e in entries] == [
        ("insert", f"order item {item.pk}"),
        ("insert", ""),
    ]
    item_rows = {field: new for field, _, new in entries[0].rows}
    assert item_rows["product"] == f"Walnut desk (#{desk.pk})"
    assert "order" not in item_rows  # the order whose history this is
    order_rows = {field: new for field, _, new in entries[1].rows}
    assert order_rows["user"] == f"{order.user.username} (#{order.user_id})"
    assert json.loads(order_rows["shipping address"]) == order.shipping_address  # JSON
    assert order_rows["status"] == "Pending"
    assert "version" not in order_rows
    assert "updated at" not in order_rows


def test_history_writes_json_and_seconds_and_leaves_out_the_noise(staff_client):
    product = ProductFactory(tags=["sale", "eco"], attributes={"colour": "blue"})
    edit_product_in_admin(staff_client, product, price="7.00")

    response = staff_client.get(f"/admin/shop/product/{product.pk}/history/")

    update, insert = response.context["entries"]
    assert [field for field, _, _ in update.rows] == ["price"]
    inserted = {field: new for field, _, new in insert.rows}
    assert inserted["tags"] == '["sale", "eco"]'
    assert inserted["attributes"] == '{"colour": "blue"}'
    assert inserted["is active"] == "yes"
    assert inserted["category"] == f"{product.category.name} (#{product.category_id})"
    content = response.content.decode()
    assert re.search(r"\d\d:\d\d:\d\d\.\d", content) is None  # no microseconds
    assert re.search(r"<td class=\"nowrap\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", content)
    request_id = update.context["request_id"]
    assert f'<small title="{request_id}">request {request_id[:8]}</small>' in content


def test_the_audit_log_speaks_of_tables_and_events(staff_client):
    UserFactory()
    ProductFactory()

    response = staff_client.get("/admin/audit/auditlog/")

    content = response.content.decode()
    headers = [h["text"] for h in response.context["result_headers"]]
    assert headers == ["when", "action", "table", "object", "user", "via", "request"]
    assert "pgh" not in " ".join(headers).lower()
    assert '<td class="field-object_kind">User</td>' in content
    assert "shop.user" not in content.replace('value="shop.user"', "").replace(
        "model=shop.user", ""
    )
    count = response.context["cl"].result_count
    assert f"{count} events" in content
    assert "By date" in content
    assert "By pgh created at" not in content
