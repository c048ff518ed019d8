"""What staff meet in the admin: the order's workflow buttons and bulk actions, the products that
were ordered, prefix search on an index, the home page's sales summary, the site's name and icon,
the staff groups and the page a staff member without a permission gets, the category tree.

Each action is checked for what it did to the rows and for what it told staff.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.db.models.functions import Lower

from core import groups
from shop.admin import product_search
from shop.apps import CATALOGUE_PERMISSIONS, FULFILMENT_PERMISSIONS
from shop.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory
from shop.forms import status_workflow
from shop.models import Category, Order, Product, User
from shop.seeding.vocabulary import category_plan

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/shop/order/"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def statuses(*orders: Order) -> list[str]:
    return [Order.objects.get(pk=o.pk).status for o in orders]


# --------------------------------------------------------------------------- the order page


def test_order_page_offers_a_button_per_next_status_and_explains_the_workflow(staff_client):
    order = OrderFactory(status="processing", lines=[(ProductFactory(name="Walnut desk"), 3)])
    price = order.items.get().unit_price

    response = staff_client.get(f"/admin/shop/order/{order.pk}/change/")

    assert response.status_code == 200
    assert response.context["next_statuses"] == [
        ("shipped", f"/admin/shop/order/{order.pk}/move/shipped/"),
        ("cancelled", f"/admin/shop/order/{order.pk}/move/cancelled/"),
    ]
    content = response.content.decode()
    assert "Mark shipped</button>" in content
    assert "Cancel the order</button>" in content
    assert response.context["adminform"].form.fields["status"].help_text == (
        "Next: shipped or cancelled. The workflow: pending → processing, cancelled; "
        "processing → shipped, cancelled; shipped → delivered. Cancelling puts the stock back."
    )
    assert f"3 × Walnut desk at {price}" in content  # the line's caption, not "3 x 411"
    assert "version" not in response.context["adminform"].form.fields


def test_a_final_status_says_so_and_offers_no_button(staff_client):
    order = OrderFactory(status="delivered")

    response = staff_client.get(f"/admin/shop/order/{order.pk}/change/")

    assert response.context["next_statuses"] == []
    assert status_workflow("delivered").startswith("Delivered is final. The workflow: ")


def test_the_button_moves_the_order_through_the_service(staff_client):
    product = ProductFactory(stock_quantity=4)
    order = OrderFactory(status="pending", lines=[(product, 2)])

    response = staff_client.post(f"/admin/shop/order/{order.pk}/move/cancelled/")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/shop/order/{order.pk}/change/"
    assert messages_of(response) == ["1 order is now cancelled."]
    assert statuses(order) == ["cancelled"]
    assert Product.objects.get(pk=product.pk).stock_quantity == 6  # the stock went back


def test_a_refused_move_is_a_message_and_changes_nothing(staff_client):
    order = OrderFactory(status="pending")

    response = staff_client.post(f"/admin/shop/order/{order.pk}/move/delivered/")

    assert response.status_code == 302
    assert messages_of(response) == [
        f"Order {order.pk} is pending: it can move to processing or cancelled, not delivered."
    ]
    assert statuses(order) == ["pending"]
    assert Order.objects.get(pk=order.pk).version == 1


def test_the_move_url_takes_only_a_post_from_staff_who_may_change_orders(client, staff_client):
    order = OrderFactory(status="pending")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)

    get = staff_client.get(f"/admin/shop/order/{order.pk}/move/processing/")
    forbidden = client.post(f"/admin/shop/order/{order.pk}/move/processing/")
    missing = staff_client.post("/admin/shop/order/999999/move/processing/")

    assert (get.status_code, forbidden.status_code, missing.status_code) == (405, 403, 404)
    assert statuses(order) == ["pending"]


def test_bulk_actions_move_each_order_or_say_why_not(staff_client):
    pending, processing, delivered = (
        OrderFactory(status=s) for s in ("pending", "processing", "delivered")
    )
    ids = [pending.pk, processing.pk, delivered.pk]

    response = staff_client.post(
        CHANGELIST, {"action": "mark_shipped", "_selected_action": ids, "index": 0}
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        "1 order is now shipped.",
        f"Order {pending.pk} is pending: it can move to processing or cancelled, not shipped.",
        f"Order {delivered.pk} is delivered, a final status: it cannot move to shipped.",
    ]
    assert statuses(pending, processing, delivered) == ["pending", "shipped", "delivered"]


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("mark_processing", "pending", "processing"),
        ("mark_shipped", "processing", "shipped"),
        ("mark_delivered", "shipped", "delivered"),
        ("mark_cancelled", "processing", "cancelled"),
    ],
)
def test_each_bulk_action_is_one_step_of_the_workflow(staff_client, action, before, after):
    orders = [OrderFactory(status=before) for _ in range(2)]

    response = staff_client.post(
        CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders], "index": 0}
    )

    assert messages_of(response) == [f"2 orders are now {after}."]
    assert statuses(*orders) == [after, after]


def test_many_refusals_are_summed_up_after_ten(staff_client):
    orders = [OrderFactory(status="delivered") for _ in range(12)]

    response = staff_client.post(
        CHANGELIST,
        {"action": "mark_cancelled", "_selected_action": [o.pk for o in orders], "index": 0},
    )

    shown = messages_of(response)
    assert len(shown) == 11
    assert shown[-1] == "2 more orders were refused."
    assert statuses(*orders) == ["delivered"] * 12


# --------------------------------------------------------------------------- products


def test_deleting_an_ordered_product_offers_to_deactivate_it(staff_client):
    product = ProductFactory(name="Walnut desk", is_active=True)
    OrderFactory(lines=[(product, 1)])
    OrderFactory(lines=[(product, 2)])

    page = staff_client.get(f"/admin/shop/product/{product.pk}/delete/")
    post = staff_client.post(f"/admin/shop/product/{product.pk}/delete/", {"post": "yes"})

    content = page.content.decode()
    assert page.status_code == 200
    assert "permission" not in content.lower()
    assert "This product was ordered, so it stays in its orders and cannot be deleted" in content
    assert page.context["protected"] == ["Walnut desk: in 2 orders"]
    assert 'value="Deactivate the product"' in content
    assert post.status_code == 200  # the same page again: nothing deleted
    assert Product.objects.filter(pk=product.pk, is_active=True).exists()

    deactivate = staff_client.post(
        "/admin/shop/product/",
        {"action": "deactivate", "_selected_action": [product.pk], "index": 0},
    )

    assert messages_of(deactivate) == ["Deactivated 1 product."]
    assert Product.objects.get(pk=product.pk).is_active is False


def test_the_selected_products_delete_page_names_the_ordered_ones(staff_client):
    ordered, never = ProductFactory(name="Oak lamp"), ProductFactory(name="Glass vase")
    OrderFactory(lines=[(ordered, 1)])

    page = staff_client.post(
        "/admin/shop/product/",
        {"action": "delete_selected", "_selected_action": [ordered.pk, never.pk], "index": 0},
    )

    content = page.content.decode()
    assert page.context["protected"] == ["Oak lamp: in 1 order"]
    assert "Products that were ordered stay in their orders and cannot be deleted" in content
    assert 'value="Deactivate the 2 selected products"' in content
    assert Product.objects.filter(pk__in=[ordered.pk, never.pk]).count() == 2


def test_a_product_never_ordered_is_deleted_as_before(staff_client):
    product = ProductFactory()

    response = staff_client.post(f"/admin/shop/product/{product.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()


def test_the_product_page_does_not_show_the_search_vector(staff_client):
    product = ProductFactory()

    response = staff_client.get(f"/admin/shop/product/{product.pk}/change/")

    assert b"search_vector" not in response.content
    assert b"Search vector" not in response.content


# --------------------------------------------------------------------------- search


def explain(queryset) -> str:
    """The plan with sequential scans priced out: whether an index CAN serve the query (on a
    table of a few test rows the planner would rightly read the heap)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


def test_product_search_matches_the_beginning_of_a_word(staff_client):
    structure = ProductFactory(name="Structure shelf", description="")
    ProductFactory(name="Oak lamp", description="")

    found = staff_client.get("/admin/shop/product/", {"q": "struct"})
    both = staff_client.get("/admin/shop/product/", {"q": "struct shel"})
    neither = staff_client.get("/admin/shop/product/", {"q": "struct lamp"})
    websearch = staff_client.get("/admin/shop/product/", {"q": '"oak lamp" or structure'})

    assert [p.pk for p in found.context["cl"].result_list] == [structure.pk]
    assert [p.pk for p in both.context["cl"].result_list] == [structure.pk]
    assert list(neither.context["cl"].result_list) == []
    assert len(websearch.context["cl"].result_list) == 2
    plan = explain(Product.objects.filter(search_vector=product_search("struct")))
    assert "shop_product_search_gin" in plan
    sql = str(Product.objects.filter(search_vector=product_search("struct desk")).query)
    assert "to_tsquery(english::regconfig, struct:* & desk:*)" in sql.replace("'", "")


def test_product_search_passes_no_tsquery_syntax_through():
    """Plain words only reach to_tsquery: "&", "|", "!" and ":" typed by staff are dropped."""
    query = product_search("desk & | ! : lamp")

    assert Product.objects.filter(search_vector=query).count() == 0  # no syntax error


def test_user_search_matches_the_start_of_username_or_email_in_any_case(staff_client):
    ada = UserFactory(username="ada.lovelace", email="countess@example.org")
    UserFactory(username="alan", email="alan@example.org")
    UserFactory(username="grace", email="Ada.hopper@example.org")  # e-mail starts with "ada"

    by_username = staff_client.get("/admin/shop/user/", {"q": "ADA.L"})
    by_email = staff_client.get("/admin/shop/user/", {"q": "Countess@"})
    both = staff_client.get("/admin/shop/user/", {"q": "ada"})
    inside = staff_client.get("/admin/shop/user/", {"q": "lovelace"})

    assert [u.username for u in by_username.context["cl"].result_list] == ["ada.lovelace"]
    assert [u.pk for u in by_email.context["cl"].result_list] == [ada.pk]
    assert [u.username for u in both.context["cl"].result_list] == ["ada.lovelace", "grace"]
    assert list(inside.context["cl"].result_list) == []  # a prefix, not a substring


def test_user_prefix_search_is_served_by_the_pattern_indexes():
    UserFactory(username="ada")
    users = User.objects.alias(username_ci=Lower("username"), email_ci=Lower("email"))

    by_username = explain(users.filter(username_ci__startswith="ad").values("pk"))
    by_email = explain(users.filter(email_ci__startswith="ad").values("pk"))

    assert "shop_user_username_prefix_idx" in by_username
    assert "~>=~ 'ad'" in by_username  # the prefix is the index's range, not a filter
    assert "shop_user_email_ci_uniq" in by_email  # UNIQUE, and text_pattern_ops for the prefix
    assert "~>=~ 'ad'" in by_email


# --------------------------------------------------------------------------- the admin home


def test_admin_home_shows_the_sales_summary(staff_client, django_assert_num_queries):
    desk = ProductFactory(price=Decimal("10.00"), stock_quantity=50)
    low = ProductFactory(name="Last lamp", stock_quantity=2)
    ProductFactory(name="Gone vase", stock_quantity=0, is_active=False)  # not on sale
    OrderFactory(status="pending", lines=[(desk, 3)])  # 30.00
    OrderFactory(status="delivered", lines=[(desk, 1)])  # 10.00
    OrderFactory(status="cancelled", lines=[(desk, 5)])  # earns nothing, not open
    yesterday = OrderFactory(status="processing", lines=[(desk, 2)])
    Order.objects.filter(pk=yesterday.pk).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )

    # session, user, the week's revenue, the open orders' count, the low-stock list, and
    # Django's own "Recent actions" (its log entries)
    with django_assert_num_queries(6):
        response = staff_client.get("/admin/")

    content = response.content.decode()
    assert '<td id="today-orders">2</td>' in content
    assert '<td id="today-revenue">40.00</td>' in content
    assert '<td id="open-orders">2</td>' in content
    low_stock = content[content.index('id="low-stock"') :]
    assert f'/admin/shop/product/{low.pk}/change/">Last lamp</a></th><td>2</td>' in low_stock
    assert "Gone vase" not in content
    assert content.count("<tr><td>") == 7  # the last seven days, one row each
    assert "<title>Shop, history and database health | pgshop admin</title>" in content
    open_orders = staff_client.get("/admin/shop/order/?status__in=pending,processing")
    assert open_orders.context["cl"].result_count == 2  # where "Open orders" leads


def test_the_summary_is_shown_only_to_who_may_see_orders_and_products(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(staff)

    content = client.get("/admin/").content.decode()

    assert 'id="low-stock"' in content
    assert 'id="today-revenue"' not in content


# --------------------------------------------------------------------------- site


def test_the_admin_is_named_and_has_an_icon(client, staff_client):
    page = staff_client.get("/admin/shop/order/").content.decode()
    favicon = client.get("/favicon.ico")

    assert '<div id="site-name"><a href="/admin/">pgshop admin</a></div>' in page
    assert "Django administration" not in page
    assert '<link rel="icon" href="/static/core/favicon.svg" type="image/svg+xml">' in page
    assert (favicon.status_code, favicon["Location"]) == (302, "/static/core/favicon.svg")
    icon = Path(settings.BASE_DIR) / "core" / "static" / "core" / "favicon.svg"
    assert icon.read_text().startswith("<svg ")


def test_staff_without_a_permission_get_the_styled_page(client):
    client.force_login(UserFactory(username="temp", is_staff=True))

    response = client.get("/admin/shop/order/")

    content = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Permission needed</h1>" in content
    assert "You are signed in as <strong>temp</strong>" in content
    assert 'href="/static/admin/css/base.css"' in content  # the admin's own styles


def test_the_staff_groups_exist_with_their_permissions():
    def perms(name):
        group = Group.objects.get(name=name)
        return sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        )

    assert perms("catalogue") == sorted(CATALOGUE_PERMISSIONS)
    assert perms("fulfilment") == sorted(FULFILMENT_PERMISSIONS)
    assert perms("database health") == ["dbhealth.view_dashboard"]
    assert "shop.change_order" in FULFILMENT_PERMISSIONS
    assert "shop.delete_order" not in FULFILMENT_PERMISSIONS


def test_migrate_keeps_what_staff_added_to_a_group(django_assert_num_queries):
    catalogue = Group.objects.get(name="catalogue")
    extra = Permission.objects.get(codename="view_order")
    catalogue.permissions.add(extra)
    catalogue.permissions.remove(Permission.objects.get(codename="view_category"))

    # the group, its missing permissions, and the one INSERT that adds them back
    with django_assert_num_queries(3):
        groups.ensure("catalogue", groups.GROUPS["catalogue"])

    codenames = set(catalogue.permissions.values_list("codename", flat=True))
    assert {"view_category", "view_order"} <= codenames
    assert len(codenames) == len(CATALOGUE_PERMISSIONS) + 1


def test_a_member_of_fulfilment_can_move_orders_but_not_edit_products(client):
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name="fulfilment"))
    member = User.objects.get(pk=member.pk)  # no cached permissions
    client.force_login(member)
    order = OrderFactory(status="pending")
    product = ProductFactory()

    moved = client.post(f"/admin/shop/order/{order.pk}/move/processing/")
    product_page = client.get(f"/admin/shop/product/{product.pk}/change/")

    assert moved.status_code == 302
    assert statuses(order) == ["processing"]
    assert product_page.status_code == 200
    assert product_page.context["has_change_permission"] is False  # view only


# --------------------------------------------------------------------------- categories


def test_categories_are_listed_as_a_tree_with_numbers_in_order(staff_client):
    books = CategoryFactory(name="Books")
    garden = CategoryFactory(name="Garden")
    for name in ("Fiction 10", "Fiction 9", "Fiction 2"):
        CategoryFactory(name=name, parent=books)
    CategoryFactory(name="Tools", parent=garden)
    poetry = CategoryFactory(name="Poetry", parent=books)
    CategoryFactory(name="Haiku", parent=poetry)

    response = staff_client.get("/admin/shop/category/")

    shown = [(c.name, len(c.tree_path) - 1) for c in response.context["cl"].result_list]
    assert shown == [
        ("Books", 0),
        ("Fiction 2", 1),
        ("Fiction 9", 1),
        ("Fiction 10", 1),
        ("Poetry", 1),
        ("Haiku", 2),
        ("Garden", 0),
        ("Tools", 1),
    ]
    assert '<span class="category-depth-2" style="padding-left: 3.0em">└ Haiku</span>' in (
        response.content.decode()
    )


def test_the_seed_names_categories_and_slugs_honestly():
    plan = category_plan(20)

    assert plan[:2] == [("Books", "books", None), ("Music", "music", None)]
    assert plan[8:10] == [("Fiction", "books-fiction", 0), ("Jazz", "music-jazz", 1)]
    assert plan[16] == ("History", "books-history", 0)
    assert len({slug for _, slug, _ in plan}) == 20
    wide = category_plan(8 + 8 * 7)
    assert wide[-1] == ("Tents 2", "outdoor-tents-2", 7)  # past the vocabulary: numbered
    assert len({slug for _, slug, _ in wide}) == 64
    assert Category.objects.count() == 0


def test_the_user_page_puts_the_group_label_above_its_selector(staff_client, superuser):
    response = staff_client.get(f"/admin/shop/user/{superuser.pk}/change/")

    content = response.content.decode()
    assert response.templates[0].name == "admin/shop/user/change_form.html"
    assert ".form-row.field-member_of > div > .flex-container," in content
    assert '<label for="id_member_of">Groups:</label>' in content
