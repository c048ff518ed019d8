"""The shop admin: exact query budgets per page, and every database rule as a form error.

A changelist's budget is the same with 3 rows and with 30: the joins are decided up front
(list_select_related), so a page costs the same whatever it shows. Every refused edit is
checked twice: the form says why, and the row in the database is exactly as it was.
"""

import json
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from shop.factories import (
    CategoryFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
    shipping_address_for,
)
from shop.models import Category, Order, OrderItem, Product, User, UserProfile
from tests.conftest import uncommented

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def content_types_cached():
    """Budgets are counted with ContentType's per-process cache warm, as in production.

    The admin looks up a model's content type on change pages; whether an earlier test
    already cached it must not change a count.
    """
    ContentType.objects.get_for_models(*apps.get_app_config("shop").get_models())


def order_in(status: str, *, lines=None) -> Order:
    """An order in `status`, inserted as such (the transition trigger fires on UPDATE only)."""
    return OrderFactory(status=status, lines=lines or [])


def address_fields(address: dict) -> dict:
    """The address as the order page's fields post it: one per key, "" for a missing one."""
    keys = ("name", "line1", "line2", "city", "postal_code", "country")
    return {f"address_{key}": address.get(key, "") for key in keys}


def order_form(order: Order, *, address: dict | None = None, **changes) -> dict:
    """What the order change page posts: its fields and the read-only items' management form."""
    items = list(order.items.order_by("pk"))
    data = {
        "user": order.user_id,
        "status": order.status,
        **address_fields(order.shipping_address if address is None else address),
        "items-TOTAL_FORMS": len(items),
        "items-INITIAL_FORMS": len(items),
        "items-MIN_NUM_FORMS": 0,
        "items-MAX_NUM_FORMS": 0,
        "_save": "Save",
    }
    for index, item in enumerate(items):
        data[f"items-{index}-id"] = item.pk
        data[f"items-{index}-order"] = order.pk
    data.update(changes)
    return data


def snapshot(order: Order) -> tuple:
    order = Order.objects.get(pk=order.pk)
    items = list(order.items.order_by("pk").values_list("product_id", "quantity", "unit_price"))
    return (order.status, order.shipping_address, order.total_amount, order.version, items)


def product_form(product: Product, **changes) -> dict:
    data = {
        "name": product.name,
        "description": product.description,
        "price": str(product.price),
        "stock_quantity": product.stock_quantity,
        "category": product.category_id,
        "tags": ",".join(product.tags),
        "attributes": json.dumps(product.attributes),
        "is_active": "on" if product.is_active else "",
        "_save": "Save",
    }
    data.update(changes)
    return data


# --------------------------------------------------------------------------- access


ADMIN_PAGES = [
    "/admin/",
    "/admin/shop/user/",
    "/admin/shop/userprofile/",
    "/admin/shop/category/",
    "/admin/shop/product/",
    "/admin/shop/order/",
    "/admin/shop/orderitem/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_logged_in_shoppers_are_sent_to_the_login_page(client, path):
    client.force_login(UserFactory(is_staff=False, is_superuser=True))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


# --------------------------------------------------------------------------- changelists


def make_users(n):
    UserFactory.create_batch(n)


def make_profiles(n):
    UserProfileFactory.create_batch(n)


def make_categories(n):
    for _ in range(n):
        CategoryFactory(parent=CategoryFactory())  # every row shows a different parent


def make_products(n):
    ProductFactory.create_batch(n)  # each in its own category


def make_orders(n):
    OrderFactory.create_batch(n)  # each for its own user


def make_order_items(n):
    for _ in range(n):
        OrderFactory(lines=[(ProductFactory(), 2)])  # each its own order and product


# model: (rows maker, rows listed for n made (the superuser is a user too), queries)
CHANGELISTS = {
    "user": (make_users, lambda n: n + 1, 5),
    "userprofile": (make_profiles, lambda n: n, 4),
    "category": (make_categories, lambda n: 2 * n, 5),
    # 5: no second COUNT(*) for "N total" since the product list is sized for 50,000 rows
    # (show_full_result_count = False).
    "product": (make_products, lambda n: n, 5),
    "order": (make_orders, lambda n: n, 4),
    "orderitem": (make_order_items, lambda n: n, 4),
}


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("model", list(CHANGELISTS))
def test_changelist_query_count_does_not_grow_with_rows(
    staff_client, django_assert_num_queries, model, rows
):
    make, listed, queries = CHANGELISTS[model]
    make(rows)

    with django_assert_num_queries(queries):
        response = staff_client.get(f"/admin/shop/{model}/")

    assert response.status_code == 200
    assert response.context["cl"].result_count == listed(rows)
    assert len(response.context["cl"].result_list) == listed(rows)


# --------------------------------------------------------------------------- change pages


def test_user_change_page_with_profile_groups_and_permissions(
    staff_client, django_assert_num_queries
):
    user = UserProfileFactory(user__raw_password=PASSWORD).user
    user.groups.set([Group.objects.create(name="Support")])

    with django_assert_num_queries(8):
        response = staff_client.get(f"/admin/shop/user/{user.pk}/change/")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.fields["member_of"].initial == list(user.groups.values_list("pk", flat=True))
    assert "password" in form.fields
    assert form.fields["password"].disabled is True
    assert form.fields["status"].choices == [
        ("active", "Active"),
        ("suspended", "Suspended"),
        ("closed", "Closed"),
    ]
    assert b"md5" in response.content  # the hash summary names its algorithm, not the hash
    assert user.password.encode() not in response.content


def test_user_add_page(staff_client, django_assert_num_queries):
    with django_assert_num_queries(2):
        response = staff_client.get("/admin/shop/user/add/")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == [
        "username",
        "email",
        "usable_password",
        "password1",
        "password2",
    ]
    assert response.context["inline_admin_formsets"] == []


def test_profile_change_page(staff_client, django_assert_num_queries):
    profile = UserProfileFactory()

    with django_assert_num_queries(3):
        response = staff_client.get(f"/admin/shop/userprofile/{profile.pk}/change/")

    assert response.status_code == 200
    assert "user" not in response.context["adminform"].form.fields  # read-only once chosen


def test_category_change_page(staff_client, django_assert_num_queries):
    category = CategoryFactory(parent=CategoryFactory(name="Books"))

    with django_assert_num_queries(4):
        response = staff_client.get(f"/admin/shop/category/{category.pk}/change/")

    assert response.status_code == 200
    assert b'<option value="%d" selected>Books</option>' % category.parent_id in response.content


def test_product_change_page(staff_client, django_assert_num_queries):
    product = ProductFactory()

    with django_assert_num_queries(4):
        response = staff_client.get(f"/admin/shop/product/{product.pk}/change/")

    assert response.status_code == 200
    assert set(response.context["adminform"].form.fields) == {
        "name",
        "description",
        "price",
        "stock_quantity",
        "category",
        "tags",
        "attributes",
        "is_active",
    }


@pytest.mark.parametrize("lines", [1, 5])
def test_order_change_page_query_count_does_not_grow_with_items(
    staff_client, django_assert_num_queries, lines
):
    order = order_in("pending", lines=[(ProductFactory(), 1) for _ in range(lines)])

    with django_assert_num_queries(5):
        response = staff_client.get(f"/admin/shop/order/{order.pk}/change/")

    assert response.status_code == 200
    (items,) = response.context["inline_admin_formsets"]
    assert len(list(items)) == lines
    assert (items.has_add_permission, items.has_change_permission) == (False, False)
    assert items.has_delete_permission is False
    assert set(response.context["adminform"].form.fields) == {
        "user",
        "status",
        "address_name",
        "address_line1",
        "address_line2",
        "address_city",
        "address_postal_code",
        "address_country",
    }


def test_order_item_view_page(staff_client, django_assert_num_queries):
    OrderFactory(lines=[(ProductFactory(name="Walnut desk"), 2)])
    item = OrderItem.objects.get()

    with django_assert_num_queries(3):
        response = staff_client.get(f"/admin/shop/orderitem/{item.pk}/change/")

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}  # view only: nothing editable
    assert b"Walnut desk" in response.content


# --------------------------------------------------------------------------- orders


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        ("pending", ["pending", "processing", "cancelled"]),
        ("processing", ["processing", "shipped", "cancelled"]),
        ("shipped", ["shipped", "delivered"]),
        ("delivered", ["delivered"]),
        ("cancelled", ["cancelled"]),
    ],
)
def test_order_status_offers_only_the_legal_next_statuses(staff_client, status, offered):
    order = order_in(status)

    response = staff_client.get(f"/admin/shop/order/{order.pk}/change/")

    choices = response.context["adminform"].form.fields["status"].choices
    assert [value for value, _ in choices] == offered


@pytest.mark.parametrize(
    ("before", "after"),
    [("delivered", "pending"), ("shipped", "cancelled"), ("pending", "shipped")],
)
def test_illegal_status_transition_is_a_form_error_and_changes_nothing(staff_client, before, after):
    product = ProductFactory(price=Decimal("10.00"))
    order = order_in(before, lines=[(product, 2)])
    was = snapshot(order)

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, status=after)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "status": [f"Select a valid choice. {after} is not one of the available choices."]
    }
    assert snapshot(order) == was


def test_legal_status_transition_is_saved_and_keeps_the_order_in_balance(
    staff_client, immediate_constraints
):
    product = ProductFactory(price=Decimal("10.00"))
    order = order_in("pending", lines=[(product, 2)])
    immediate_constraints()  # the deferred total check runs at each statement, not COMMIT

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, status="processing")
    )

    assert response.status_code == 302
    assert snapshot(order) == (
        "processing",
        shipping_address_for(order.user.username),
        Decimal("20.00"),
        2,
        [(product.pk, 2, Decimal("10.00"))],
    )


def test_saving_an_order_locks_its_row_first(staff_client):
    order = order_in("pending")

    with CaptureQueriesContext(connection) as queries:
        staff_client.post(
            f"/admin/shop/order/{order.pk}/change/", order_form(order, status="processing")
        )

    # The admin's lock first; then services.order_transition reads it again under its own
    # lock, which this transaction already holds: the same lock, both from shop/locks.py.
    reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "shop_order"."id"')]
    assert len(reads) == 2
    assert uncommented(reads[0]).endswith(" FOR NO KEY UPDATE")  # before the origin's comment
    assert uncommented(reads[1]).endswith(" FOR NO KEY UPDATE")


def test_cancelling_in_the_admin_puts_the_stock_back(staff_client):
    product = ProductFactory(stock_quantity=5)
    order = OrderFactory(lines=[(product, 2)])

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, status="cancelled")
    )

    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert Product.objects.get(pk=product.pk).stock_quantity == 7


@pytest.mark.parametrize("key", ["name", "line1", "city", "postal_code", "country"])
def test_shipping_address_missing_a_key_is_a_form_error_beside_it(staff_client, key):
    order = order_in("pending")
    was = snapshot(order)
    address = {k: v for k, v in order.shipping_address.items() if k != key}

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, address=address)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        f"address_{key}": ["This field may not be blank."]
    }
    assert snapshot(order) == was


def test_the_address_is_a_form_with_a_field_per_key(staff_client):
    order = order_in("pending")

    response = staff_client.get(f"/admin/shop/order/{order.pk}/change/")

    form = response.context["adminform"].form
    assert {name: form[name].value() for name in address_fields({})} == address_fields(
        order.shipping_address
    )
    assert [field.label for field in form if field.name.startswith("address_")] == [
        "Recipient",
        "Address line 1",
        "Address line 2",
        "City",
        "Postal code",
        "Country",
    ]
    postal_code = re.search(rb'<input [^>]*name="address_postal_code"[^>]*>', response.content)
    assert b'maxlength="20" required' in postal_code.group()
    assert b"shipping_address" not in response.content  # no JSON textarea


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"country": "gb"}, "country", "Use the ISO 3166-1 alpha-2 code, e.g. GB."),
        (
            {"postal_code": "N" * 21},
            "postal_code",
            "Ensure this field has no more than 20 characters.",
        ),
        ({"line1": "   "}, "line1", "This field may not be blank."),
        ({"city": "Lon\x00don"}, "city", "Null characters are not allowed."),
    ],
)
def test_the_admin_refuses_the_addresses_the_api_refuses_in_the_same_words(
    staff_client, change, field, error
):
    """One validator (shop/validators.py) behind the API, the service and this form: the
    admin used to accept a lower-case country, a 21-character postcode. A NUL, which jsonb
    cannot hold, is a form error, never a 500."""
    order = order_in("pending")
    was = snapshot(order)
    address = {**order.shipping_address, **change}
    shopper = APIClient()
    shopper.force_authenticate(order.user)

    api = shopper.patch(
        f"/api/v1/orders/{order.pk}/",
        {"shipping_address": address},
        format="json",
        HTTP_IF_MATCH="*",
    )
    admin_page = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, address=address)
    )

    if "\x00" not in change.get("city", ""):  # the API's parser refuses a NUL in any body
        assert (api.status_code, api.json()["message"], api.json()["fields"]) == (
            400,
            error,
            {f"shipping_address.{field}": [error]},
        )
    assert admin_page.status_code == 200
    assert admin_page.context["adminform"].form.errors == {f"address_{field}": [error]}
    assert snapshot(order) == was


def test_shipping_address_correction_is_saved(staff_client):
    order = order_in("shipped")
    address = {**order.shipping_address, "line1": " 2 Low Road ", "line2": "Flat 3"}

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/", order_form(order, address=address)
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.shipping_address, order.status, order.version) == (
        {**address, "line1": "2 Low Road"},  # trimmed, as the API stores it
        "shipped",
        2,
    )


def test_a_blank_second_line_is_left_out_of_the_address(staff_client):
    order = order_in("pending")
    Order.objects.filter(pk=order.pk).update(
        shipping_address={**order.shipping_address, "line2": "Flat 3"}
    )
    order.refresh_from_db()

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/",
        order_form(order, address={**order.shipping_address, "line2": ""}),
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert "line2" not in order.shipping_address
    assert order.version == 3  # the test's UPDATE, then the admin's


def test_posted_item_and_total_values_are_ignored(staff_client, immediate_constraints):
    product = ProductFactory(price=Decimal("10.00"))
    order = order_in("pending", lines=[(product, 2)])
    immediate_constraints()

    response = staff_client.post(
        f"/admin/shop/order/{order.pk}/change/",
        order_form(
            order,
            total_amount="1.00",
            version="99",
            **{"items-0-quantity": "9", "items-0-unit_price": "0.01", "items-0-DELETE": "on"},
        ),
    )

    assert response.status_code == 302
    assert snapshot(order) == (
        "pending",
        shipping_address_for(order.user.username),
        Decimal("20.00"),
        1,  # nothing changed: no UPDATE, no version bump
        [(product.pk, 2, Decimal("10.00"))],
    )


def test_orders_cannot_be_added_or_deleted_in_the_admin(staff_client):
    order = order_in("pending")

    add = staff_client.get("/admin/shop/order/add/")
    delete = staff_client.post(f"/admin/shop/order/{order.pk}/delete/", {"post": "yes"})

    assert (add.status_code, delete.status_code) == (403, 403)
    assert Order.objects.filter(pk=order.pk).exists()


def test_order_items_cannot_be_added_changed_or_deleted_in_the_admin(staff_client):
    OrderFactory(lines=[(ProductFactory(price=Decimal("3.00")), 2)])
    item = OrderItem.objects.get()

    add = staff_client.get("/admin/shop/orderitem/add/")
    change = staff_client.post(
        f"/admin/shop/orderitem/{item.pk}/change/", {"quantity": "9", "unit_price": "0.01"}
    )
    delete = staff_client.post(f"/admin/shop/orderitem/{item.pk}/delete/", {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert list(OrderItem.objects.values_list("quantity", "unit_price")) == [(2, Decimal("3.00"))]


def test_orders_are_found_by_number_or_customer(staff_client):
    ada = order_in("pending")
    ada.user.username, ada.user.email = "ada", "ada@example.com"
    ada.user.save()
    other = order_in("pending")

    by_number = staff_client.get("/admin/shop/order/", {"q": f"#{other.pk}"})
    by_name = staff_client.get("/admin/shop/order/", {"q": "ada"})
    by_junk = staff_client.get("/admin/shop/order/", {"q": "²"})

    assert list(by_number.context["cl"].result_list) == [other]
    assert list(by_name.context["cl"].result_list) == [ada]
    assert list(by_junk.context["cl"].result_list) == []


# --------------------------------------------------------------------------- products


@pytest.mark.parametrize(
    ("field", "value", "errors"),
    [
        # The model's validators put these beside the field...
        ("price", "-1", {"price": ["Price cannot be negative."]}),
        ("stock_quantity", "-1", {"stock_quantity": ["Stock cannot be negative."]}),
        # ...and the CHECK constraint itself, validated by the form, catches the rest.
        ("attributes", '["red"]', {"__all__": ["Attributes must be a JSON object."]}),
    ],
)
def test_product_values_refused_by_a_check_constraint_are_form_errors(
    staff_client, field, value, errors
):
    product = ProductFactory(price=Decimal("12.50"), stock_quantity=4)
    was = Product.objects.values().get(pk=product.pk)

    response = staff_client.post(
        f"/admin/shop/product/{product.pk}/change/", product_form(product, **{field: value})
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert Product.objects.values().get(pk=product.pk) == was


def test_product_edit_is_saved_and_bumps_the_version(staff_client):
    product = ProductFactory(price=Decimal("12.50"), stock_quantity=4)

    response = staff_client.post(
        f"/admin/shop/product/{product.pk}/change/",
        product_form(product, price="0.00", stock_quantity="0"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.price, product.stock_quantity, product.version) == (Decimal("0.00"), 0, 2)


def test_a_price_edit_keeps_the_stock_checkouts_took_after_the_page_was_shown(staff_client):
    product = ProductFactory(price=Decimal("12.50"), stock_quantity=4)
    page = product_form(product, price="10.00", **{"initial-stock_quantity": "4"})
    Product.objects.filter(pk=product.pk).update(stock_quantity=1)  # three sold meanwhile

    response = staff_client.post(f"/admin/shop/product/{product.pk}/change/", page)

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.price, product.stock_quantity) == (Decimal("10.00"), 1)


def test_a_stock_edit_is_written_when_staff_changed_it(staff_client):
    product = ProductFactory(stock_quantity=4)
    page = product_form(product, stock_quantity="9", **{"initial-stock_quantity": "4"})
    Product.objects.filter(pk=product.pk).update(stock_quantity=1)

    response = staff_client.post(f"/admin/shop/product/{product.pk}/change/", page)

    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).stock_quantity == 9


def test_deactivate_action_deactivates_only_the_selected_products(staff_client):
    chosen = ProductFactory.create_batch(2, is_active=True)
    already_off = ProductFactory(is_active=False)
    untouched = ProductFactory(is_active=True)

    response = staff_client.post(
        "/admin/shop/product/",
        {
            "action": "deactivate",
            "_selected_action": [p.pk for p in [*chosen, already_off]],
        },
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Deactivated 2 products."]
    assert dict(Product.objects.values_list("pk", "is_active")) == {
        chosen[0].pk: False,
        chosen[1].pk: False,
        already_off.pk: False,
        untouched.pk: True,
    }


def test_product_is_added_through_the_admin(staff_client, django_capture_on_commit_callbacks):
    category = CategoryFactory(name="Desks")
    page = product_form(
        ProductFactory.build(name="Walnut desk", category=category, price=Decimal("249.50")),
        stock_quantity="5",
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post("/admin/shop/product/add/", page)

    product = Product.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/admin/shop/product/"
    assert (product.name, product.category_id, product.price, product.stock_quantity) == (
        "Walnut desk",
        category.pk,
        Decimal("249.50"),
        5,
    )
    assert len(callbacks) == 1  # services.product_create's invalidation


def test_unsold_product_is_deleted_in_the_admin(staff_client):
    product, kept = ProductFactory(), ProductFactory()

    response = staff_client.post(f"/admin/shop/product/{product.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(Product.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_profile_edited_in_the_admin_is_served_fresh_by_the_api(
    staff_client, django_capture_on_commit_callbacks
):
    profile = UserProfileFactory(first_name="Grace")
    shopper = APIClient()
    shopper.force_authenticate(profile.user)
    assert shopper.get("/api/v1/me/profile/").json()["first_name"] == "Grace"  # cached

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/admin/shop/userprofile/{profile.pk}/change/",
            {
                "first_name": "Ada",
                "last_name": profile.last_name,
                "phone": profile.phone,
                "avatar_url": profile.avatar_url,
                "bio": profile.bio,
                "_save": "Save",
            },
        )

    assert response.status_code == 302
    assert shopper.get("/api/v1/me/profile/").json()["first_name"] == "Ada"


def test_product_search_is_full_text(staff_client):
    desk = ProductFactory(name="Walnut desk", description="Solid oak legs")
    ProductFactory(name="Desk lamp", description="Brass")
    ProductFactory(name="Garden chair", description="Teak")

    response = staff_client.get("/admin/shop/product/", {"q": "desks oak"})

    assert list(response.context["cl"].result_list) == [desk]  # stemmed, every word


def test_category_autocomplete_for_products(staff_client):
    books = CategoryFactory(name="Books")
    CategoryFactory(name="Music")

    response = staff_client.get(
        "/admin/autocomplete/",
        {"app_label": "shop", "model_name": "product", "field_name": "category", "term": "boo"},
    )

    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(books.pk), "text": "Books"}]


# --------------------------------------------------------------------------- categories


def category_form(category: Category, **changes) -> dict:
    data = {
        "name": category.name,
        "slug": category.slug,
        "parent": category.parent_id or "",
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_category_cannot_be_its_own_parent(staff_client):
    category = CategoryFactory()

    response = staff_client.post(
        f"/admin/shop/category/{category.pk}/change/", category_form(category, parent=category.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["A category cannot be placed under itself or one of its subcategories."]
    }
    assert Category.objects.get(pk=category.pk).parent_id is None


def test_category_cannot_move_under_its_own_descendant(staff_client):
    top = CategoryFactory()
    child = CategoryFactory(parent=top)
    grandchild = CategoryFactory(parent=child)

    response = staff_client.post(
        f"/admin/shop/category/{top.pk}/change/", category_form(top, parent=grandchild.pk)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "parent": ["A category cannot be placed under itself or one of its subcategories."]
    }
    assert Category.objects.get(pk=top.pk).parent_id is None


def test_duplicate_sibling_name_is_a_form_error(staff_client):
    CategoryFactory(name="Books", slug="books")

    response = staff_client.post(
        "/admin/shop/category/add/", {"name": "Books", "slug": "books-2", "parent": ""}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["A category with that name already exists here."]
    }
    assert Category.objects.count() == 1


def test_category_is_added_under_a_parent(staff_client):
    books = CategoryFactory(name="Books")

    response = staff_client.post(
        "/admin/shop/category/add/", {"name": "Poetry", "slug": "poetry", "parent": books.pk}
    )

    assert response.status_code == 302
    assert list(Category.objects.filter(parent=books).values_list("name", "slug")) == [
        ("Poetry", "poetry")
    ]


# --------------------------------------------------------------------------- users


def add_user_form(**changes) -> dict:
    data = {
        "username": "grace",
        "email": "grace@Example.COM",
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_user_is_added_through_the_admin(staff_client):
    response = staff_client.post("/admin/shop/user/add/", add_user_form())

    user = User.objects.get(username="grace")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/shop/user/{user.pk}/change/"
    assert user.email == "grace@example.com"  # domain lower-cased, as create_user does
    assert user.check_password(PASSWORD) is True
    assert (user.status, user.is_staff, user.is_superuser, user.is_active) == (
        "active",
        False,
        False,
        True,
    )


def test_email_differing_only_in_case_is_a_form_error(staff_client):
    UserFactory(username="grace", email="grace@example.com")

    response = staff_client.post(
        "/admin/shop/user/add/", add_user_form(username="grace2", email="GRACE@example.com")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["A user with that email already exists."]
    }
    assert User.objects.filter(email__iexact="grace@example.com").count() == 1


def test_mismatched_passwords_are_a_form_error(staff_client):
    response = staff_client.post("/admin/shop/user/add/", add_user_form(password2="other"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "password2": ["The two password fields didn’t match."]
    }
    assert User.objects.filter(username="grace").exists() is False


def user_change_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "email": user.email,
        "status": user.status,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "member_of": list(user.groups.values_list("pk", flat=True)),
        "granted_permissions": list(user.user_permissions.values_list("pk", flat=True)),
        "profile-TOTAL_FORMS": 1,
        "profile-INITIAL_FORMS": 0,
        "profile-MIN_NUM_FORMS": 0,
        "profile-MAX_NUM_FORMS": 1,
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_user_groups_permissions_and_status_are_changed_through_the_admin(staff_client):
    user = UserFactory(username="grace")
    support, sales = Group.objects.create(name="Support"), Group.objects.create(name="Sales")
    user.groups.set([sales])

    view_orders = Permission.objects.get(codename="view_order")

    response = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        user_change_form(
            user,
            member_of=[support.pk],
            granted_permissions=[view_orders.pk],
            status="suspended",
            is_staff="on",
        ),
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert list(user.groups.all()) == [support]
    assert list(user.user_permissions.all()) == [view_orders]
    assert (user.status, user.is_staff) == ("suspended", True)
    assert hasattr(user, "profile") is False  # the blank profile form was left blank


def test_user_profile_is_added_on_the_user_page(staff_client):
    user = UserFactory(username="grace")

    response = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        user_change_form(
            user, **{"profile-0-first_name": "Grace", "profile-0-phone": "+44 20 7946 0000"}
        ),
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.profile.first_name, user.profile.phone) == ("Grace", "+44 20 7946 0000")


def test_user_profile_is_changed_and_deleted_on_the_user_page(staff_client):
    profile = UserProfileFactory(first_name="Grace", phone="")
    user = profile.user
    existing = {
        "profile-INITIAL_FORMS": 1,
        "profile-0-user": user.pk,
        "profile-0-first_name": "Grace",
        "profile-0-last_name": profile.last_name,
        "profile-0-bio": profile.bio,
    }

    changed = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        user_change_form(user, **{**existing, "profile-0-first_name": "Ada"}),
    )
    first_name = UserProfile.objects.get(pk=user.pk).first_name
    deleted = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        user_change_form(user, **{**existing, "profile-0-DELETE": "on"}),
    )

    assert (changed.status_code, first_name, deleted.status_code) == (302, "Ada", 302)
    assert UserProfile.objects.filter(pk=user.pk).exists() is False


def test_bad_phone_on_the_user_page_is_a_form_error(staff_client):
    user = UserFactory(username="grace")

    response = staff_client.post(
        f"/admin/shop/user/{user.pk}/change/",
        user_change_form(user, **{"profile-0-phone": "call me"}),
    )

    assert response.status_code == 200
    (profile_forms,) = response.context["inline_admin_formsets"]
    assert profile_forms.formset.errors == [
        {"__all__": ["Enter a phone number of digits, spaces, + ( ) and -."]}
    ]
    assert hasattr(User.objects.get(pk=user.pk), "profile") is False


def test_password_is_set_on_the_password_page_the_hash_field_links_to(staff_client):
    user = UserFactory(username="grace")

    response = staff_client.post(
        f"/admin/shop/user/{user.pk}/password/",
        {"password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/shop/user/{user.pk}/change/"
    user.refresh_from_db()
    assert user.check_password(PASSWORD) is True


@pytest.mark.parametrize(
    ("page", "left_out"),
    [
        ("/admin/shop/product/add/", ["version", "created_at", "updated_at", "search_vector"]),
        ("/admin/shop/category/add/", ["created_at", "updated_at"]),
        ("/admin/shop/userprofile/add/", ["created_at", "updated_at"]),
    ],
)
def test_add_pages_leave_out_what_the_database_fills_in(staff_client, page, left_out):
    # Before the INSERT those fields have no value, only Django's DatabaseDefault placeholder.
    response = staff_client.get(page)

    assert response.status_code == 200
    assert "DatabaseDefault" not in response.content.decode()
    shown = [name for fieldset in response.context["adminform"] for line in fieldset
             for field in line for name in [field.field["name"] if isinstance(field.field, dict)
                                            else field.field.name]]  # fmt: skip
    assert [name for name in left_out if name in shown] == []
