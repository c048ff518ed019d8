"""Every CHECK, UNIQUE, NOT NULL and FK rule of the schema, proven against PostgreSQL.

Each test breaks one rule, gets PostgreSQL's own error (SQLSTATE and the constraint or column
it names), and finds nothing written. Rules are broken through the ORM and, where the ORM
would stop earlier or a writer might bypass it, through raw SQL: the database holds on its own.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.models import ProtectedError

from shop.factories import (
    CategoryFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
    shipping_address_for,
)
from shop.models import Category, Order, OrderItem, Product, User, UserProfile

pytestmark = pytest.mark.django_db

CHECK, UNIQUE, NOT_NULL, FOREIGN_KEY = "23514", "23505", "23502", "23503"


def rejected(action, sqlstate: str, *, constraint: str | None = None, column: str | None = None):
    """Run `action` in a savepoint and assert PostgreSQL refused it as described.

    Deferred checks (foreign keys, the order-total trigger) normally run at COMMIT, which a
    test never reaches; SET CONSTRAINTS ALL IMMEDIATE runs them before the savepoint ends.
    """

    def action_then_deferred_checks():
        with transaction.atomic():
            action()
            sql("SET CONSTRAINTS ALL IMMEDIATE")

    with pytest.raises(IntegrityError) as info:
        action_then_deferred_checks()
    diag = info.value.__cause__.diag
    assert diag.sqlstate == sqlstate, diag.message_primary
    if constraint is not None:
        assert diag.constraint_name == constraint, diag.message_primary
    if column is not None:
        assert diag.column_name == column, diag.message_primary


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


# --------------------------------------------------------------------------- users


def test_username_is_unique():
    UserFactory(username="ada")

    rejected(lambda: UserFactory(username="ada"), UNIQUE, constraint="shop_user_username_key")

    assert User.objects.count() == 1


@pytest.mark.parametrize("email", ["Ada@Example.com", "ADA@EXAMPLE.COM", "ada@example.com"])
def test_email_is_unique_whatever_its_case(email):
    UserFactory(username="ada", email="ada@example.com")

    rejected(
        lambda: sql(
            "INSERT INTO shop_user (username, email, password, is_superuser) "
            "VALUES ('ada2', %s, '!', false)",
            [email],
        ),
        UNIQUE,
        constraint="shop_user_email_ci_uniq",
    )

    assert User.objects.count() == 1


def test_email_uniqueness_is_one_expression_index_not_two():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'shop_user' AND indexdef ILIKE '%%email%%'"
        )
        rows = cursor.fetchall()

    assert rows == [
        (
            "shop_user_email_ci_uniq",
            "CREATE UNIQUE INDEX shop_user_email_ci_uniq ON public.shop_user "
            "USING btree (lower((email)::text) text_pattern_ops)",
        )
    ]


def test_model_validation_reports_a_duplicate_email_before_the_database_does():
    UserFactory(username="ada", email="ada@example.com")
    twin = User(username="ada2", email="ADA@example.com", password="!")

    with pytest.raises(ValidationError) as info:
        twin.full_clean()

    assert info.value.message_dict == {"__all__": ["A user with that email already exists."]}


@pytest.mark.parametrize("column", ["username", "email", "password"])
def test_user_required_columns_are_not_null(column):
    values = {"username": "'ada'", "email": "'ada@example.com'", "password": "'!'"}
    values[column] = "NULL"

    rejected(
        lambda: sql(
            "INSERT INTO shop_user (username, email, password, is_superuser) "
            f"VALUES ({values['username']}, {values['email']}, {values['password']}, false)"
        ),
        NOT_NULL,
        column=column,
    )

    assert User.objects.count() == 0


def test_user_status_must_be_known():
    user = UserFactory()

    rejected(
        lambda: User.objects.filter(pk=user.pk).update(status="banned"),
        CHECK,
        constraint="shop_user_status_valid",
    )

    assert User.objects.get(pk=user.pk).status == "active"


def test_user_status_is_not_null_and_defaults_to_active():
    sql(
        "INSERT INTO shop_user (username, email, password, is_superuser) "
        "VALUES ('a', 'a@b.c', '!', false)"
    )
    user = User.objects.get(username="a")

    rejected(
        lambda: User.objects.filter(pk=user.pk).update(status=None),
        NOT_NULL,
        column="status",
    )

    assert User.objects.get(pk=user.pk).status == "active"


# --------------------------------------------------------------------------- profiles


def test_profile_needs_an_existing_user():
    rejected(
        lambda: UserProfile.objects.create(user_id=987654),
        FOREIGN_KEY,
        constraint="shop_userprofile_user_id_f68b553c_fk_shop_user_id",
    )

    assert UserProfile.objects.count() == 0


def test_one_profile_per_user():
    profile = UserProfileFactory()

    rejected(
        lambda: sql("INSERT INTO shop_userprofile (user_id) VALUES (%s)", [profile.user_id]),
        UNIQUE,
        constraint="shop_userprofile_pkey",
    )

    assert UserProfile.objects.count() == 1


@pytest.mark.parametrize("phone", ["call me", "12", "+44 (0) 20 abc", "--------"])
def test_profile_phone_must_look_like_a_phone_number(phone):
    user = UserFactory()

    rejected(
        lambda: UserProfile.objects.create(user=user, phone=phone),
        CHECK,
        constraint="shop_userprofile_phone_format",
    )

    assert UserProfile.objects.count() == 0


def test_deleting_a_user_deletes_the_profile():
    profile = UserProfileFactory()

    profile.user.delete()

    assert (User.objects.count(), UserProfile.objects.count()) == (0, 0)


def test_deleting_a_user_in_sql_without_the_profile_is_refused():
    profile = UserProfileFactory()

    rejected(
        lambda: sql("DELETE FROM shop_user WHERE id = %s", [profile.user_id]),
        FOREIGN_KEY,
        constraint="shop_userprofile_user_id_f68b553c_fk_shop_user_id",
    )

    assert UserProfile.objects.count() == 1


# --------------------------------------------------------------------------- categories


def test_category_slug_is_unique():
    CategoryFactory(name="Books", slug="books")

    rejected(
        lambda: CategoryFactory(name="Other books", slug="books"),
        UNIQUE,
        constraint="shop_category_slug_key",
    )

    assert Category.objects.count() == 1


def test_top_level_category_names_are_unique_nulls_not_distinct():
    CategoryFactory(name="Books", slug="books")

    rejected(
        lambda: CategoryFactory(name="Books", slug="books-2"),
        UNIQUE,
        constraint="shop_category_sibling_name_uniq",
    )

    assert Category.objects.count() == 1


def test_sibling_names_are_unique_but_cousins_may_share_one():
    books, music = CategoryFactory(name="Books"), CategoryFactory(name="Music")
    CategoryFactory(name="New", slug="books-new", parent=books)
    CategoryFactory(name="New", slug="music-new", parent=music)

    rejected(
        lambda: CategoryFactory(name="New", slug="books-new-2", parent=books),
        UNIQUE,
        constraint="shop_category_sibling_name_uniq",
    )

    assert Category.objects.filter(name="New").count() == 2


def test_category_cannot_be_its_own_parent():
    category = CategoryFactory()

    rejected(
        lambda: Category.objects.filter(pk=category.pk).update(parent=category.pk),
        CHECK,
        constraint="shop_category_not_own_parent",
    )

    assert Category.objects.get(pk=category.pk).parent_id is None


def test_category_with_children_is_protected():
    parent = CategoryFactory()
    CategoryFactory(parent=parent)

    with pytest.raises(ProtectedError):
        parent.delete()
    rejected(
        lambda: sql("DELETE FROM shop_category WHERE id = %s", [parent.pk]),
        FOREIGN_KEY,
        constraint="shop_category_parent_id_901626c9_fk_shop_category_id",
    )

    assert Category.objects.count() == 2


# --------------------------------------------------------------------------- products


def test_price_cannot_be_negative():
    category = CategoryFactory()

    rejected(
        lambda: ProductFactory(category=category, price=Decimal("-0.01")),
        CHECK,
        constraint="shop_product_price_non_negative",
    )

    assert Product.objects.count() == 0


def test_price_zero_is_allowed():
    assert ProductFactory(price=Decimal("0.00")).price == Decimal("0.00")


def test_stock_cannot_go_below_zero_even_through_an_update():
    product = ProductFactory(stock_quantity=2)

    rejected(
        lambda: Product.objects.filter(pk=product.pk).update(stock_quantity=-1),
        CHECK,
        constraint="shop_product_stock_non_negative",
    )

    assert Product.objects.get(pk=product.pk).stock_quantity == 2


@pytest.mark.parametrize("attributes", ['["red"]', '"red"', "3", "null"])
def test_product_attributes_must_be_a_json_object(attributes):
    category = CategoryFactory()

    rejected(
        lambda: sql(
            "INSERT INTO shop_product (name, price, category_id, attributes) "
            "VALUES ('x', 1, %s, %s::jsonb)",
            [category.pk, attributes],
        ),
        CHECK,  # 'null'::jsonb is JSON null, a value: the CHECK catches it, not NOT NULL
        constraint="shop_product_attributes_object",
    )

    assert Product.objects.count() == 0


def test_product_needs_an_existing_category():
    rejected(
        lambda: sql("INSERT INTO shop_product (name, price, category_id) VALUES ('x', 1, 987654)"),
        FOREIGN_KEY,
        constraint="shop_product_category_id_14d7eea8_fk_shop_category_id",
    )

    assert Product.objects.count() == 0


def test_category_with_products_is_protected():
    product = ProductFactory()

    with pytest.raises(ProtectedError):
        product.category.delete()

    assert Category.objects.count() == 1


def test_search_vector_is_generated_by_the_database():
    product = ProductFactory(name="Walnut desk", description="Solid oak legs")

    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM shop_product WHERE id = %s", [product.pk])
        vector = cursor.fetchone()[0]

    assert vector == "'desk':2A 'leg':5B 'oak':4B 'solid':3B 'walnut':1A"


# --------------------------------------------------------------------------- orders


@pytest.mark.parametrize("status", ["open", "PENDING", "returned", ""])
def test_order_status_must_be_known(status):
    user = UserFactory()

    rejected(
        lambda: Order.objects.create(
            user=user, status=status, shipping_address=shipping_address_for("a")
        ),
        CHECK,
        constraint="shop_order_status_valid",
    )

    assert Order.objects.count() == 0


def test_order_total_cannot_be_negative():
    user = UserFactory()

    rejected(
        lambda: Order.objects.create(
            user=user, total_amount=Decimal("-1"), shipping_address=shipping_address_for("a")
        ),
        CHECK,
        constraint="shop_order_total_non_negative",
    )

    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "address",
    [
        {"line1": "1 High St", "city": "London", "postal_code": "N1", "country": "GB"},
        ["name", "line1", "city", "postal_code", "country"],
        "1 High Street, London",
        {},
    ],
)
def test_shipping_address_must_be_a_complete_object(address):
    user = UserFactory()

    rejected(
        lambda: Order.objects.create(user=user, shipping_address=address),
        CHECK,
        constraint="shop_order_shipping_address_complete",
    )

    assert Order.objects.count() == 0


# The workflow's one definition is Order.TRANSITIONS; the CHECK, the partial index, the trigger,
# the selectors and the seed are derived from it. The business rule itself is pinned here.
def test_the_order_workflow_is_the_one_the_shop_documents():
    assert {before: list(after) for before, after in Order.TRANSITIONS.items()} == {
        "pending": ["processing", "cancelled"],
        "processing": ["shipped", "cancelled"],
        "shipped": ["delivered"],
        "delivered": [],
        "cancelled": [],
    }
    assert list(Order.OPEN_STATUSES) == ["pending", "processing"]
    assert list(Order.EARNING_STATUSES) == ["pending", "processing", "shipped", "delivered"]
    assert list(Order.TARGET_STATUSES) == ["processing", "shipped", "delivered", "cancelled"]


LEGAL = [(a, b) for a, moves in Order.TRANSITIONS.items() for b in moves]
ILLEGAL = [(a, b) for a in Order.Status for b in Order.Status if a != b and (a, b) not in LEGAL]


@pytest.mark.parametrize(("before", "after"), LEGAL)
def test_legal_status_transitions_are_accepted(before, after):
    order = OrderFactory(status=before)  # the trigger checks updates only

    Order.objects.filter(pk=order.pk).update(status=after)

    assert Order.objects.get(pk=order.pk).status == after


@pytest.mark.parametrize(("before", "after"), ILLEGAL)
def test_illegal_status_transitions_are_refused_by_the_database(before, after):
    order = OrderFactory(status=before)

    rejected(
        lambda: sql("UPDATE shop_order SET status = %s WHERE id = %s", [after, order.pk]),
        CHECK,
        constraint="shop_order_status_transition",
    )

    assert Order.objects.get(pk=order.pk).status == before


def test_the_installed_trigger_allows_exactly_order_transitions_to_the_application_role(
    monkeypatch,
):
    # Every (from, to) pair of statuses, staying put included, as the least-privileged role
    # the web runs as (created in this test's transaction, gone with its rollback), in its
    # own savepoint: the row is updated (RLS lets the shopper's own by) iff Order.TRANSITIONS
    # lists the move, or it is no move at all.
    monkeypatch.setenv("DB_APP_PASSWORD", "transition-test")
    call_command("db_roles", "--role", "shop_fsm_app", "--staff-role", "shop_fsm_staff")
    orders = {status: OrderFactory(status=status) for status in Order.Status}
    outcomes = {}
    for before, order in orders.items():
        for after in Order.Status:
            savepoint = transaction.savepoint()
            try:
                sql("SET LOCAL ROLE shop_fsm_app")
                sql("SELECT set_config('app.rls_user_id', %s, true)", [str(order.user_id)])
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE shop_order SET status = %s WHERE id = %s", [after, order.pk]
                    )
                    outcomes[before, after] = ("moved", cursor.rowcount)
            except IntegrityError as error:
                diag = error.__cause__.diag
                outcomes[before, after] = (diag.sqlstate, diag.constraint_name)
            finally:
                transaction.savepoint_rollback(savepoint)  # the order, and the role, as before

    refused = (CHECK, "shop_order_status_transition")
    assert outcomes == {
        (a, b): ("moved", 1) if a == b or (a, b) in LEGAL else refused
        for a in Order.Status
        for b in Order.Status
    }
    assert list(Order.objects.order_by("pk").values_list("status", flat=True)) == list(Order.Status)


def test_order_total_must_equal_the_sum_of_its_items():
    product = ProductFactory(price=Decimal("10.00"))
    order = OrderFactory(lines=[(product, 3)])

    rejected(
        lambda: Order.objects.filter(pk=order.pk).update(total_amount=Decimal("29.99")),
        CHECK,
        constraint="shop_order_total_matches_items",
    )

    assert Order.objects.get(pk=order.pk).total_amount == Decimal("30.00")


def test_changing_an_item_without_the_total_is_refused():
    product = ProductFactory(price=Decimal("10.00"))
    order = OrderFactory(lines=[(product, 3)])

    rejected(
        lambda: OrderItem.objects.filter(order=order).update(quantity=4),
        CHECK,
        constraint="shop_order_total_matches_items",
    )

    assert OrderItem.objects.get(order=order).quantity == 3


def test_deleting_an_item_without_the_total_is_refused():
    a, b = ProductFactory(price=Decimal("10.00")), ProductFactory(price=Decimal("5.00"))
    order = OrderFactory(lines=[(a, 1), (b, 2)])

    rejected(
        lambda: OrderItem.objects.filter(order=order, product=b).delete(),
        CHECK,
        constraint="shop_order_total_matches_items",
    )

    assert OrderItem.objects.filter(order=order).count() == 2


def test_item_and_total_changed_together_are_accepted(immediate_constraints):
    product = ProductFactory(price=Decimal("10.00"))
    order = OrderFactory(lines=[(product, 3)])

    with transaction.atomic():
        OrderItem.objects.filter(order=order).update(quantity=4)
        Order.objects.filter(pk=order.pk).update(total_amount=Decimal("40.00"))
    immediate_constraints()

    assert Order.objects.get(pk=order.pk).total_amount == Decimal("40.00")


def test_user_with_orders_is_protected():
    order = OrderFactory()

    with pytest.raises(ProtectedError):
        order.user.delete()

    assert User.objects.count() == 1


def test_deleting_an_order_deletes_its_items(immediate_constraints):
    a, b = ProductFactory(), ProductFactory()
    order = OrderFactory(lines=[(a, 1), (b, 2)])

    order.delete()
    immediate_constraints()

    assert (Order.objects.count(), OrderItem.objects.count()) == (0, 0)


# --------------------------------------------------------------------------- order items


@pytest.mark.parametrize("quantity", [0, -1])
def test_item_quantity_must_be_positive(quantity):
    order, product = OrderFactory(), ProductFactory()

    rejected(
        lambda: OrderItem.objects.create(
            order=order, product=product, quantity=quantity, unit_price=product.price
        ),
        CHECK,
        constraint="shop_orderitem_quantity_positive",
    )

    assert OrderItem.objects.count() == 0


def test_item_unit_price_cannot_be_negative():
    order, product = OrderFactory(), ProductFactory()

    rejected(
        lambda: OrderItem.objects.create(
            order=order, product=product, quantity=1, unit_price=Decimal("-1")
        ),
        CHECK,
        constraint="shop_orderitem_unit_price_non_negative",
    )

    assert OrderItem.objects.count() == 0


def test_one_line_per_product_in_an_order():
    product = ProductFactory(price=Decimal("2.00"))
    order = OrderFactory(lines=[(product, 1)])

    rejected(
        lambda: OrderItem.objects.create(
            order=order, product=product, quantity=1, unit_price=product.price
        ),
        UNIQUE,
        constraint="shop_orderitem_order_product_uniq",
    )

    assert OrderItem.objects.count() == 1


def test_subtotal_is_computed_and_cannot_be_written():
    product = ProductFactory(price=Decimal("2.50"))
    order = OrderFactory(lines=[(product, 4)])
    item = OrderItem.objects.get(order=order)

    with pytest.raises(ProgrammingError) as info, transaction.atomic():
        sql("UPDATE shop_orderitem SET subtotal = 1 WHERE id = %s", [item.pk])

    assert item.subtotal == Decimal("10.00")
    assert info.value.__cause__.diag.sqlstate == "428C9"  # generated_always
    assert OrderItem.objects.get(pk=item.pk).subtotal == Decimal("10.00")


def test_sold_product_is_protected():
    product = ProductFactory()
    OrderFactory(lines=[(product, 1)])

    with pytest.raises(ProtectedError):
        product.delete()

    assert Product.objects.count() == 1


def test_item_needs_an_existing_product():
    order = OrderFactory()

    rejected(
        lambda: sql(
            "INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price) "
            "VALUES (%s, 987654, 1, 0)",
            [order.pk],
        ),
        FOREIGN_KEY,
        constraint="shop_orderitem_product_id_48153f22_fk_shop_product_id",
    )

    assert OrderItem.objects.count() == 0


def test_category_cannot_move_under_its_own_descendant():
    a = CategoryFactory(name="A")
    b = CategoryFactory(name="B", parent=a)
    c = CategoryFactory(name="C", parent=b)

    rejected(
        lambda: Category.objects.filter(pk=a.pk).update(parent=c),
        CHECK,
        constraint="shop_category_parent_not_a_descendant",
    )

    assert Category.objects.get(pk=a.pk).parent_id is None


def test_category_can_move_to_another_branch():
    a, other = CategoryFactory(name="A"), CategoryFactory(name="Other")
    b = CategoryFactory(name="B", parent=a)

    Category.objects.filter(pk=b.pk).update(parent=other)

    assert Category.objects.get(pk=b.pk).parent_id == other.pk
