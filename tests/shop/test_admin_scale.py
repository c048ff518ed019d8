"""The admin at a million orders: searches match exactly or by prefix on indexes, every filter
and default ordering has an index path, and counts stop at CappedCountPaginator.CAP (1,000)
without ever showing a number below the truth, with every page reachable.

Timings are in bench/benchmarks/growth.py; here, what makes them flat: the plans and the counts.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from core import roles
from core.admin import MAX_LIMIT, CappedCountPaginator
from shop.factories import OrderFactory, ProductFactory, UserFactory
from shop.models import Order, OrderItem, Product, User

pytestmark = pytest.mark.django_db


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def test_user_search_is_the_start_of_username_or_email_any_case(staff_client):
    ada = UserFactory(username="ada", email="Ada@Example.com")
    adam = UserFactory(username="adam", email="adam@example.com")

    assert listed(staff_client.get("/admin/shop/user/", {"q": "ada"})) == [ada, adam]
    assert listed(staff_client.get("/admin/shop/user/", {"q": "ADA@example.COM"})) == [ada]
    assert listed(staff_client.get("/admin/shop/user/", {"q": "dam"})) == []  # no substrings


def test_order_search_by_number_customer_or_email(staff_client):
    ada = UserFactory(username="ada", email="ada@example.com")
    first = OrderFactory(user=ada)
    second = OrderFactory(user=ada)
    other = OrderFactory(user=UserFactory(username="adam"))

    assert listed(staff_client.get("/admin/shop/order/", {"q": "ada"})) == [second, first]
    assert listed(staff_client.get("/admin/shop/order/", {"q": "Ada@example.com"})) == [
        second,
        first,
    ]
    assert listed(staff_client.get("/admin/shop/order/", {"q": f"#{other.pk}"})) == [other]


def test_order_item_search_by_product_words_or_order_number(staff_client):
    desk = ProductFactory(name="Walnut desk", price=Decimal("10.00"))
    lamp = ProductFactory(name="Brass lamp", price=Decimal("10.00"))
    order = OrderFactory(lines=[(desk, 1), (lamp, 1)])
    other = OrderFactory(lines=[(lamp, 2)])
    items = {item.product_id: item for item in OrderItem.objects.filter(order=order)}

    assert listed(staff_client.get("/admin/shop/orderitem/", {"q": "desks"})) == [items[desk.pk]]
    assert listed(staff_client.get("/admin/shop/orderitem/", {"q": str(other.pk)})) == list(
        OrderItem.objects.filter(order=other)
    )


def test_order_items_list_newest_order_first_with_its_lines_together(staff_client):
    a, b = (ProductFactory(price=Decimal("1.00")) for _ in range(2))
    older = OrderFactory(lines=[(a, 1)])
    newer = OrderFactory(lines=[(a, 1), (b, 1)])
    late_line = OrderItem.objects.create(order=older, product=b, quantity=1, unit_price=1)
    Order.objects.filter(pk=older.pk).update(total_amount=2)  # the late line, in balance

    rows = listed(staff_client.get("/admin/shop/orderitem/"))

    # (order_id, id) descending: the order's lines stay together whatever their ids.
    newer_lines = sorted(newer.items.all(), key=lambda item: -item.pk)
    assert rows == [*newer_lines, late_line, older.items.get(product=a)]


BIG_SEQ_SCAN = re.compile(r"Seq Scan on (shop_order|shop_orderitem|shop_product|shop_user)\b")


def changelist_page(model, params: dict):
    request = RequestFactory().get("/", params)
    request.user = User.objects.get(username="boss")
    changelist = site._registry[model].get_changelist_instance(request)
    return changelist.get_queryset(request)[:100]


# Each changelist and filter at a million orders (bench/benchmarks/growth.py): no sequential scan
# of the big tables is even possible for the page query.
PAGES = [
    (Order, {}),
    (Order, {"status__exact": "pending"}),
    (Order, {"created_at__gte": "2026-01-01 00:00:00+00:00"}),
    (Order, {"q": "ada"}),
    (OrderItem, {}),
    (OrderItem, {"order__status__exact": "pending"}),
    (Product, {}),
    (Product, {"is_active__exact": "0"}),
    (Product, {"q": "desk"}),
    (Product, {"q": "struct"}),
    (User, {}),
    (User, {"is_staff__exact": "1"}),
    (User, {"q": "ada@example.com"}),
    (User, {"q": "Ad"}),
]


@pytest.mark.parametrize(("model", "params"), PAGES, ids=lambda p: str(p))
def test_every_changelist_page_has_an_index_path(staff_client, model, params):
    OrderFactory(lines=[(ProductFactory(), 1)])
    queryset = changelist_page(model, params)

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset.explain()

    assert not BIG_SEQ_SCAN.search(plan), plan


# --------------------------------------------------------------------------- counts at scale

# The role the admin's requests run as in these tests. Today `make run` serves the admin as the
# application role (pgshop_app): row-level security is on for it, and through the policies'
# quals the planner estimates far fewer orders and items than the tables hold. To run them as
# another role (a staff role), change this name and the one line of admin_db_role that makes
# the role and its grants; nothing else depends on which role it is.
ADMIN_DB_ROLE = "pgshop_admin_scale_test"
ADDRESS = """'{"name": "A", "line1": "1", "city": "L", "postal_code": "N1", "country": "GB"}'"""


@pytest.fixture
def admin_db_role(superuser, settings):
    """The rest of the test's transaction, admin requests included, runs as ADMIN_DB_ROLE: a
    role bound by row-level security whose policy lets it see every row through a qual the
    planner can only guess at, so its estimate is far below the truth, as the application
    role's was when it served the admin. The admin's own login (pgshop_staff) has a `USING
    (true)` policy and right estimates: this attacks the paginator with a wrong estimate on
    purpose, whichever login serves the admin.

    The role and its policies are made inside the test's transaction and rolled back with it.
    Rows are made before this, as the owner.
    """
    with connection.cursor() as cursor:
        # Both tables' locks first, before anything here changes a catalog row: an autovacuum
        # of either is then cancelled (a lock waiter cancels autovacuum), instead of waiting
        # on this transaction's pg_class updates while a CREATE POLICY waits on it (a deadlock).
        cursor.execute("LOCK TABLE shop_order, shop_orderitem IN ACCESS EXCLUSIVE MODE")
    roles.apply(role=ADMIN_DB_ROLE)
    with connection.cursor() as cursor:
        for table in ("shop_order", "shop_orderitem"):
            # 0010's fail-open shape: true for every row while the setting is unset, and a
            # qual the planner guesses at (0.5% of the rows for IS NULL on an expression).
            cursor.execute(
                f"CREATE POLICY admin_scale ON {table} TO {ADMIN_DB_ROLE} "
                "USING (NULLIF(current_setting('app.admin_scale', true), '') IS NULL)"
            )
    # The admin's requests run as this role instead of the staff login (test emulation).
    settings.DB_EMULATED_ROLES = {**settings.DB_EMULATED_ROLES, "staff": ADMIN_DB_ROLE}

    def switch():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE shop_order, shop_orderitem")  # statistics that are right
            cursor.execute(f"SET LOCAL ROLE {ADMIN_DB_ROLE}")
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (ADMIN_DB_ROLE,)

    return switch


def make_orders_fast(n: int, user) -> list[int]:
    """n orders of one user in one INSERT ... SELECT; their ids, newest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO shop_order (user_id, shipping_address) SELECT %s, {ADDRESS} "
            "FROM generate_series(1, %s) RETURNING id",
            [user.pk, n],
        )
        return sorted((row[0] for row in cursor.fetchall()), reverse=True)


def estimated_rows(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    return int(plan[0]["Plan"]["Plan Rows"])


def ids(response) -> list[int]:
    return [row.pk for row in response.context["cl"].result_list]


def shown(response) -> str:
    """The count as the paginator line shows it: "1,000+ orders", "2500 orders"."""
    paginator = response.content.decode().split('<p class="paginator">')[1].split("</p>")[0]
    return re.search(r"^([\d,]+\+? [a-z ]+?)\s*$", paginator, re.M).group(1)


def test_order_counts_past_the_cap_are_never_below_the_truth_and_every_page_is_reachable(
    staff_client, superuser, admin_db_role, django_assert_num_queries
):
    newest_first = make_orders_fast(2_500, superuser)
    admin_db_role()
    # What made the admin show "1001 orders": through the policy, far below the truth.
    assert estimated_rows("SELECT * FROM shop_order") < 2_500

    # session, user, the capped count, the page
    with django_assert_num_queries(4):
        first = staff_client.get("/admin/shop/order/")
    page_12 = staff_client.get("/admin/shop/order/", {"p": "12"})
    last = staff_client.get("/admin/shop/order/", {"p": "25"})
    past_the_end = staff_client.get("/admin/shop/order/", {"p": "26"})

    assert first.status_code == 200
    assert shown(first) == "1,000+ orders"
    assert first.context["cl"].result_count == 1_001  # rows verified to exist, not a guess
    assert ids(first) == newest_first[:100]
    assert page_12.status_code == 200
    assert shown(page_12) == "1,200+ orders"
    assert ids(page_12) == newest_first[1_100:1_200]  # rows 1101-1200, not page 1 again
    assert last.status_code == 200
    assert shown(last) == "2500 orders"  # the count reached the end: exact
    assert ids(last) == newest_first[2_400:]
    assert (past_the_end.status_code, past_the_end["Location"]) == (302, "/admin/shop/order/?e=1")


def test_order_counts_are_exact_up_to_the_cap_and_the_next_row_makes_them_a_bound(
    staff_client, superuser, admin_db_role
):
    newest_first = make_orders_fast(1_000, superuser)
    admin_db_role()

    at_cap = staff_client.get("/admin/shop/order/")
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    make_orders_fast(1, superuser)  # 1,001: one more than the cap can say exactly
    admin_db_role()
    past_cap = staff_client.get("/admin/shop/order/")
    page_11 = staff_client.get("/admin/shop/order/", {"p": "11"})

    assert shown(at_cap) == "1000 orders"
    assert at_cap.context["cl"].paginator.is_exact is True
    assert shown(past_cap) == "1,000+ orders"
    assert ids(page_11) == [min(newest_first)]  # the oldest: row 1,001
    assert shown(page_11) == "1001 orders"


def test_order_items_counts_past_the_cap_and_page_12_as_the_app_role(
    staff_client, superuser, admin_db_role, django_assert_num_queries
):
    orders = make_orders_fast(1_000, superuser)
    products = [ProductFactory(price=Decimal("1.00")).pk for _ in range(3)]
    with connection.cursor() as cursor:
        # Three lines per order: 3,000 items.
        cursor.execute(
            "INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price) "
            "SELECT o, p, 1, 1 FROM unnest(%s::bigint[]) o, unnest(%s::bigint[]) p",
            [orders, products],
        )
        # In balance, for the deferred total check the test's teardown runs.
        cursor.execute("UPDATE shop_order SET total_amount = 3 WHERE id = ANY(%s)", [orders])
    admin_db_role()
    listing = list(OrderItem.objects.order_by("-order_id", "-pk").values_list("pk", flat=True))
    assert estimated_rows("SELECT * FROM shop_orderitem") < 3_000  # below the truth

    # session, user, the capped count, the page (items joined to their order and product)
    with django_assert_num_queries(4):
        page_12 = staff_client.get("/admin/shop/orderitem/", {"p": "12"})
    last = staff_client.get("/admin/shop/orderitem/", {"p": "30"})

    assert shown(page_12) == "1,200+ order items"
    assert ids(page_12) == listing[1_100:1_200]
    assert shown(last) == "3000 order items"
    assert ids(last) == listing[2_900:]


def test_a_filtered_count_ignores_a_wrong_estimate(staff_client, superuser, admin_db_role):
    make_orders_fast(1_500, superuser)  # all pending; the statistics say so
    admin_db_role()
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        # After ANALYZE, 1,200 orders are moved on: the planner still thinks none are cancelled.
        cursor.execute(
            "UPDATE shop_order SET status = 'cancelled' WHERE id IN "
            "(SELECT id FROM shop_order ORDER BY id LIMIT 1200)"
        )
        cursor.execute(f"SET LOCAL ROLE {ADMIN_DB_ROLE}")
    assert estimated_rows("SELECT * FROM shop_order WHERE status = 'cancelled'") < 100

    response = staff_client.get("/admin/shop/order/", {"status__exact": "cancelled", "p": "12"})

    assert shown(response) == "1200 orders"
    assert len(ids(response)) == 100


def test_a_search_says_a_bound_not_a_number(staff_client, superuser, admin_db_role):
    make_orders_fast(1_200, superuser)
    admin_db_role()

    response = staff_client.get("/admin/shop/order/", {"q": "boss"})

    assert "1,000+ results" in response.content.decode()  # beside the search box
    assert shown(response) == "1,000+ orders"


def test_select_all_says_a_bound_not_a_number(staff_client, superuser, admin_db_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO shop_user (username, email, password, is_superuser) "
            "SELECT 'u' || n, 'u' || n || '@example.com', '!', false "
            "FROM generate_series(1, 1200) n"
        )
    admin_db_role()

    response = staff_client.get("/admin/shop/user/")

    assert "Select all 1,000+ users" in response.content.decode()
    assert response.context["selection_note_all"] == "All 1,000+ selected"
    assert shown(response) == "1,000+ users"


def test_a_huge_page_number_is_out_of_range_not_an_error(staff_client, superuser):
    make_orders_fast(3, superuser)
    paginator = CappedCountPaginator(Order.objects.order_by("-pk"), 100, page_number=10**30)

    response = staff_client.get("/admin/shop/order/", {"p": str(10**30)})

    assert paginator.limit == MAX_LIMIT
    assert paginator.count == 3
    assert response.status_code == 200  # one page of rows: Django shows it whatever ?p= says
    assert len(ids(response)) == 3


def test_counts_are_exact_up_to_the_cap(django_assert_num_queries):
    OrderFactory.create_batch(3)
    paginator = CappedCountPaginator(Order.objects.order_by("-pk"), 100)

    with django_assert_num_queries(1):
        assert paginator.count == 3
    assert paginator.count_label == "3"


def test_a_page_past_the_bound_is_counted_up_to_by_whoever_asks(
    superuser, django_assert_num_queries
):
    newest_first = make_orders_fast(1_300, superuser)
    paginator = CappedCountPaginator(Order.objects.order_by("-pk"), 100)  # page 1 assumed

    with django_assert_num_queries(3):  # count to 1,001, count to 1,201, the page
        rows = [order.pk for order in paginator.page(12)]

    assert rows == newest_first[1_100:1_200]
    assert (paginator.count, paginator.count_label) == (1_201, "1,200+")
    assert [order.pk for order in paginator.page(13)] == newest_first[1_200:]
    assert (paginator.count, paginator.count_label) == (1_300, "1300")


@pytest.mark.parametrize("model", ["user", "userprofile", "product", "order", "orderitem"])
def test_every_big_changelist_counts_at_most_the_cap_and_once(staff_client, model):
    OrderFactory(lines=[(ProductFactory(), 1)])

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(f"/admin/shop/{model}/")

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert response.status_code == 200
    assert len(counts) == 1  # no "N total" count, no facet counts, no EXPLAIN
    assert "LIMIT 1001) subquery" in counts[0]
    assert not [q["sql"] for q in queries if q["sql"].startswith("EXPLAIN")]
