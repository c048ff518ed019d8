"""The services called directly, as the admin, the API and the tasks call them: what each
writes (exactly), what it refuses (and that nothing was written), its query budget, the
cache entries it invalidates once it commits (and not when it rolls back), and the order in
which it takes its locks (shop/locks.py).
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError

from shop import cache, locks, services
from shop.api import representations
from shop.errors import ErrorCode, ShopError
from shop.factories import (
    CategoryFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
    shipping_address_for,
)
from shop.models import Category, Order, Product, User, UserProfile

pytestmark = pytest.mark.django_db

ADDRESS = shipping_address_for("Ada Lovelace")
TIMEOUT = 30  # seconds; a lock that is never released fails the test instead of hanging


def cached_product(product: Product) -> dict:
    """The product's detail as the API serves it, through the cache."""
    return representations.product_detail(product.pk)


# --------------------------------------------------------------------------- products


def test_product_create_writes_the_product_and_retires_the_list_pages(
    django_capture_on_commit_callbacks,
):
    category = CategoryFactory(name="Desks")
    generation = cache._generation(cache.Family.PRODUCT_LIST)

    with django_capture_on_commit_callbacks(execute=True):
        product = services.product_create(
            name="Walnut desk", category=category, price=Decimal("249.50"), stock_quantity=5
        )

    assert Product.objects.values_list(
        "name", "category_id", "price", "stock_quantity", "is_active", "version"
    ).get(pk=product.pk) == ("Walnut desk", category.pk, Decimal("249.50"), 5, True, 1)
    assert cache._generation(cache.Family.PRODUCT_LIST) == generation + 1


def test_product_create_refuses_what_the_checks_refuse_and_writes_nothing():
    with pytest.raises(ShopError) as refused:
        services.product_create(
            name="Desk", category=CategoryFactory(), price=Decimal("1.00"), attributes=["red"]
        )

    assert (refused.value.code, refused.value.fields) == (
        ErrorCode.INVALID,
        {"non_field_errors": ["Attributes must be a JSON object."]},
    )
    assert Product.objects.exists() is False


def test_product_update_writes_only_the_changed_fields(django_assert_num_queries):
    product = ProductFactory(price=Decimal("12.50"), stock_quantity=5)
    # A checkout takes 2 after the admin's page showed the stock as 5; staff change the price.
    Product.objects.filter(pk=product.pk).update(stock_quantity=3)

    # SAVEPOINT, the lock, the price CHECK (in its own savepoint: three), UPDATE, RELEASE.
    with django_assert_num_queries(7):
        services.product_update(product_id=product.pk, price=Decimal("9.00"))

    # Saving every field (as the admin did) would have put the 5 back.
    row = Product.objects.values_list("price", "stock_quantity", "version").get(pk=product.pk)
    assert row == (Decimal("9.00"), 3, 3)


def test_product_update_with_nothing_changed_writes_nothing(django_assert_num_queries):
    product = ProductFactory(price=Decimal("12.50"))

    with django_assert_num_queries(3):  # SAVEPOINT, the lock, RELEASE: no UPDATE
        services.product_update(product_id=product.pk, price=Decimal("12.50"))

    assert Product.objects.get(pk=product.pk).version == 1


def test_product_update_refuses_a_negative_price_and_writes_nothing():
    product = ProductFactory(price=Decimal("12.50"))

    with pytest.raises(ShopError) as refused:
        services.product_update(product_id=product.pk, price=Decimal("-1"))

    assert (refused.value.code, refused.value.fields) == (
        ErrorCode.INVALID,
        {"price": ["Price cannot be negative."]},
    )
    assert Product.objects.values_list("price", "version").get(pk=product.pk) == (
        Decimal("12.50"),
        1,
    )


def test_a_committed_product_update_is_read_fresh_from_the_cache(
    django_capture_on_commit_callbacks,
):
    product = ProductFactory(price=Decimal("12.50"))
    assert cached_product(product)["price"] == "12.50"  # cached now

    with django_capture_on_commit_callbacks(execute=True):
        services.product_update(product_id=product.pk, price=Decimal("9.00"))

    assert cached_product(product)["price"] == "9.00"


def test_a_rolled_back_product_update_leaves_the_cache_alone(
    django_capture_on_commit_callbacks,
):
    product = ProductFactory(price=Decimal("12.50"))
    assert cached_product(product)["price"] == "12.50"
    # Behind the services' back, so that what is served shows where it came from.
    Product.objects.filter(pk=product.pk).update(price=Decimal("11.00"))

    def caller_that_fails_after_the_service():
        with transaction.atomic():
            services.product_update(product_id=product.pk, price=Decimal("9.00"))
            raise RuntimeError("the caller's transaction fails after the service")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        caller_that_fails_after_the_service()

    assert callbacks == []  # the invalidation went with the rollback
    assert cached_product(product)["price"] == "12.50"  # the entry is still there
    assert Product.objects.get(pk=product.pk).price == Decimal("11.00")


def test_product_deactivate_takes_only_the_active_ones_off_sale(django_assert_num_queries):
    chosen = ProductFactory.create_batch(2, is_active=True)
    already_off = ProductFactory(is_active=False)
    untouched = ProductFactory(is_active=True)

    # SAVEPOINT, lock the chosen (pk order), UPDATE the active ones, RELEASE.
    with django_assert_num_queries(4):
        count = services.product_deactivate(product_ids=[p.pk for p in [*chosen, already_off]])

    assert count == 2
    assert dict(Product.objects.values_list("pk", "is_active")) == {
        chosen[0].pk: False,
        chosen[1].pk: False,
        already_off.pk: False,
        untouched.pk: True,
    }


def test_product_delete_deletes_the_unsold_and_refuses_the_sold():
    unsold, sold = ProductFactory(), ProductFactory()
    OrderFactory(lines=[(sold, 1)])

    assert services.product_delete(product_ids=[unsold.pk]) == 1
    with pytest.raises(ProtectedError):
        services.product_delete(product_ids=[sold.pk])

    assert list(Product.objects.values_list("pk", flat=True)) == [sold.pk]


# --------------------------------------------------------------------------- categories


def test_category_create_and_update_retire_the_cached_tree(django_capture_on_commit_callbacks):
    books = CategoryFactory(name="Books", slug="books")
    assert [node["name"] for node in representations.category_tree()] == ["Books"]

    with django_capture_on_commit_callbacks(execute=True):
        poetry = services.category_create(name="Poetry", slug="poetry", parent=books)
    with django_capture_on_commit_callbacks(execute=True):
        services.category_update(category_id=books.pk, name="Reading")

    tree = representations.category_tree()
    assert [(node["name"], [child["name"] for child in node["children"]]) for node in tree] == [
        ("Reading", ["Poetry"])
    ]
    assert Category.objects.get(pk=poetry.pk).parent_id == books.pk


def test_renaming_a_category_retires_its_products_cached_details(
    django_capture_on_commit_callbacks,
):
    desks = CategoryFactory(name="Desks", slug="desks")
    product = ProductFactory(category=desks)
    assert cached_product(product)["category"]["name"] == "Desks"

    with django_capture_on_commit_callbacks(execute=True):
        services.category_update(category_id=desks.pk, name="Writing desks")

    assert cached_product(product)["category"]["name"] == "Writing desks"


def test_category_update_refuses_a_move_under_its_own_descendant():
    """Without the admin form's check: the database's trigger, worded as the form words it."""
    top = CategoryFactory()
    grandchild = CategoryFactory(parent=CategoryFactory(parent=top))

    with pytest.raises(ShopError) as refused:
        services.category_update(category_id=top.pk, parent=grandchild)

    assert (refused.value.code, refused.value.fields) == (
        ErrorCode.INVALID,
        {"parent": ["A category cannot be placed under itself or one of its subcategories."]},
    )
    assert Category.objects.get(pk=top.pk).parent_id is None


def test_category_delete_deletes_and_retires_the_tree(django_capture_on_commit_callbacks):
    CategoryFactory(name="Books", slug="books")
    music = CategoryFactory(name="Music", slug="music")
    assert len(representations.category_tree()) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert services.category_delete(category_ids=[music.pk]) == 1

    assert [node["name"] for node in representations.category_tree()] == ["Books"]


# --------------------------------------------------------------------------- profiles


def test_profile_delete_deletes_and_retires_the_cached_profile(
    django_capture_on_commit_callbacks,
):
    profile = UserProfileFactory(first_name="Grace")
    user = profile.user
    assert representations.profile(user)["data"]["first_name"] == "Grace"

    with django_capture_on_commit_callbacks(execute=True):
        assert services.profile_delete(user_ids=[user.pk]) == 1

    assert representations.profile(user)["data"]["first_name"] == ""
    assert UserProfile.objects.filter(user=user).exists() is False


# --------------------------------------------------------------------------- orders


def test_order_update_refuses_the_addresses_the_api_refuses_and_writes_nothing():
    order = OrderFactory(shipping_address=ADDRESS)

    with pytest.raises(ShopError) as refused:
        services.order_update(
            order_id=order.pk,
            owner=order.user,
            if_match=None,
            shipping_address={**ADDRESS, "country": "gb"},
        )

    assert (refused.value.code, refused.value.message, refused.value.fields) == (
        ErrorCode.INVALID,
        "Use the ISO 3166-1 alpha-2 code, e.g. GB.",
        {"shipping_address": {"country": ["Use the ISO 3166-1 alpha-2 code, e.g. GB."]}},
    )
    assert Order.objects.values_list("shipping_address", "version").get(pk=order.pk) == (
        ADDRESS,
        1,
    )


def test_staff_move_a_shipped_order_to_another_customer_and_both_lists_are_retired(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(status="shipped", shipping_address=ADDRESS)
    before, after = order.user, UserFactory()
    generations = [cache._generation(cache.Family.ORDER_LIST, str(u.pk)) for u in (before, after)]
    moved = {**ADDRESS, "line2": "Flat 3"}

    with django_capture_on_commit_callbacks(execute=True):
        services.order_update(
            order_id=order.pk, owner=None, if_match=None, shipping_address=moved, customer=after
        )

    assert Order.objects.values_list("user_id", "shipping_address", "status", "version").get(
        pk=order.pk
    ) == (after.pk, moved, "shipped", 2)
    assert [cache._generation(cache.Family.ORDER_LIST, str(u.pk)) for u in (before, after)] == [
        generations[0] + 1,
        generations[1] + 1,
    ]


def test_a_shopper_cannot_move_an_order_to_another_customer():
    order = OrderFactory()

    with pytest.raises(TypeError, match="Only staff"):
        services.order_update(
            order_id=order.pk, owner=order.user, if_match=None, customer=UserFactory()
        )


def test_a_replayed_order_create_returns_the_whole_order(django_assert_num_queries):
    desk = ProductFactory(name="Walnut desk", price=Decimal("249.50"), stock_quantity=5)
    user = UserFactory()
    request = {
        "user": user,
        "lines": [services.OrderLine(product_id=desk.pk, quantity=2)],
        "shipping_address": ADDRESS,
        "idempotency_key": "k-1",
    }
    first, created = services.order_create(**request)

    # SAVEPOINT, the key's INSERT ... ON CONFLICT, the key, the order, its items, RELEASE.
    with django_assert_num_queries(6):
        again, replayed_created = services.order_create(**request)
        shown = [(i.product.name, i.quantity, i.unit_price) for i in again.item_list]

    assert (created, replayed_created) == (True, False)
    assert (again.pk, again.status, again.total_amount, again.shipping_address) == (
        first.pk,
        "pending",
        Decimal("499.00"),
        ADDRESS,
    )
    assert shown == [("Walnut desk", 2, Decimal("249.50"))]
    assert Product.objects.get(pk=desk.pk).stock_quantity == 3  # taken once


# --------------------------------------------------------------------------- locks


def waiting_for_a_lock(cursor) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("written", ["in product order", "in reverse product order"])
def test_a_checkout_locks_its_products_in_primary_key_order_whatever_its_lines_order(written):
    """The lowest id is locked first, so a checkout waiting on it holds no other product:
    two checkouts over the same products, in any line order, queue instead of deadlocking.

    Another transaction holds the lower product. The checkout, whose lines name the higher
    one first when reversed, must be queued on the lower one while holding nothing: the
    higher product can be locked at once (NOWAIT) by the holder."""
    low, high = ProductFactory(stock_quantity=5), ProductFactory(stock_quantity=5)
    lines = [
        services.OrderLine(product_id=low.pk, quantity=1),
        services.OrderLine(product_id=high.pk, quantity=2),
    ]
    if written == "in reverse product order":
        lines.reverse()
    user = UserFactory()
    outcome = {}

    def checkout():
        try:
            outcome["order"], _ = services.order_create(
                user=user, lines=lines, shipping_address=ADDRESS
            )
        except Exception as error:  # reported below
            outcome["error"] = error
        finally:
            connection.close()

    with transaction.atomic(), connection.cursor() as cursor:
        assert list(locks.products_for_update([low.pk]).values_list("pk", flat=True)) == [low.pk]
        shopper = threading.Thread(target=checkout)
        shopper.start()
        for _ in range(2000):  # bounded polling, each a round trip
            if waiting_for_a_lock(cursor):
                break
        else:
            raise AssertionError("the checkout never queued behind the lock")
        cursor.execute(
            "SELECT id FROM shop_product WHERE id = %s FOR NO KEY UPDATE NOWAIT", [high.pk]
        )
        assert cursor.fetchall() == [(high.pk,)]  # the checkout did not take it first
    shopper.join(TIMEOUT)

    assert "error" not in outcome
    assert list(Product.objects.order_by("pk").values_list("stock_quantity", flat=True)) == [4, 3]


# --------------------------------------------------------------------------- the demo login


def test_demo_user_ensure_makes_the_superuser_with_a_profile_once_then_leaves_it_alone():
    # Given no such user: it is made, a superuser with the demo profile
    user, created = services.demo_user_ensure(
        username="demo", email="demo@example.com", password="first-password-1", staff=True
    )
    assert created is True
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, True, True)
    assert user.check_password("first-password-1")
    profile = UserProfile.objects.get(user=user)
    assert (profile.first_name, profile.last_name) == ("Demo", "Staff")

    # When it has been demoted (in the admin, say), and the next `make run` ensures it again
    User.objects.filter(pk=user.pk).update(is_staff=False, is_superuser=False)
    again, created = services.demo_user_ensure(
        username="demo", email="ignored@example.com", password="second-password-2", staff=True
    )

    # Then the same row is left exactly as it was: not promoted, the first password kept
    again.refresh_from_db()
    assert (again.pk, created) == (user.pk, False)
    assert (again.is_staff, again.is_superuser, again.is_active) == (False, False, True)
    assert again.email == "demo@example.com"
    assert again.check_password("first-password-1")
    assert not again.check_password("second-password-2")
    assert UserProfile.objects.filter(user=again).count() == 1


def test_demo_user_ensure_makes_a_shopper_without_staff_rights():
    user, created = services.demo_user_ensure(
        username="shopper", email="shopper@example.com", password="shopper-password-1", staff=False
    )

    user.refresh_from_db()
    assert created is True
    assert (user.is_staff, user.is_superuser, user.is_active, user.status) == (
        False,
        False,
        True,
        "active",
    )
    assert user.check_password("shopper-password-1")
    profile = UserProfile.objects.get(user=user)
    assert (profile.first_name, profile.last_name) == ("Demo", "Shopper")
