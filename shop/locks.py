"""Every row lock the shop takes, in one place (Saleor's lock_objects.py).

Each function returns rows locked in a fixed order, so two writers that lock overlapping
rows queue behind each other instead of deadlocking: products in primary-key order, and an
order before its products (services lock the order first, then its lines' products).

One strength for every lock: FOR NO KEY UPDATE, since no write here changes a key, and it
lets concurrent INSERTs of order items (whose foreign key takes FOR KEY SHARE) proceed.
Two writes take the stronger FOR UPDATE themselves, so their locks take it first: a DELETE
(products_for_delete), and an UPDATE of a column under a unique index (user_for_update: the
username and the email).

One lock stands outside, as part of a single statement: the idempotency prune's DELETE
takes its batch FOR UPDATE SKIP LOCKED in a subquery (services.idempotency_keys_prune), so a
key being claimed right now is skipped without a round trip.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from shop.errors import ErrorCode, ShopError
from shop.models import Category, Order, Product, User, UserProfile


def products_for_update(product_ids: Iterable[int]) -> QuerySet[Product]:
    """The products with these ids, locked in primary-key order as they are read."""
    return (
        Product.objects.filter(pk__in=list(product_ids))
        .order_by("pk")
        .select_for_update(no_key=True)
    )


def products_for_delete(product_ids: Iterable[int]) -> QuerySet[Product]:
    """The products with these ids, locked FOR UPDATE (a DELETE's own lock) in pk order."""
    return Product.objects.filter(pk__in=list(product_ids)).order_by("pk").select_for_update()


# products_for_update() as checkout sends it: the same lock, order and rows, as one statement
# text whatever the number of ids (an array, not IN (%s, %s ...)), and without compiling a
# queryset per checkout (bench/pgbench.py's CHECKOUT_SQL measures it beside the other statements).
PRODUCTS_FOR_CHECKOUT_SQL = """
SELECT id, name, price, stock_quantity, is_active FROM shop_product
 WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE
"""


def products_for_checkout(product_ids: Iterable[int]) -> dict[int, Product]:
    """The products a checkout needs (id, name, price, stock, is_active; the other fields
    deferred), locked as products_for_update() locks them, by id. Missing ids are absent."""
    with connection.cursor() as cursor:
        cursor.execute(PRODUCTS_FOR_CHECKOUT_SQL, [sorted(product_ids)])
        names = [column.name for column in cursor.description]
        rows = [Product.from_db(connection.alias, names, row) for row in cursor.fetchall()]
    return {product.pk: product for product in rows}


def orders_for_update(queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders (all, or those of `queryset`) locked as they are read."""
    return (Order.objects.all() if queryset is None else queryset).select_for_update(no_key=True)


def order_for_update(*, order_id: int, owner: User | None) -> Order:
    """The order, locked; only the owner's when an owner is given (another's is not found)."""
    queryset = orders_for_update()
    if owner is not None:
        queryset = queryset.filter(user=owner)
    try:
        return queryset.get(pk=order_id)
    except Order.DoesNotExist:
        raise ShopError(ErrorCode.NOT_FOUND, "No such order.") from None


def category_for_update(*, category_id: int) -> Category:
    """The category, locked."""
    try:
        return Category.objects.select_for_update(no_key=True).get(pk=category_id)
    except Category.DoesNotExist:
        raise ShopError(ErrorCode.NOT_FOUND, "No such category.") from None


def user_for_update(*, user_id: int) -> User:
    """The user, locked FOR UPDATE: the UPDATE of a username or an email (columns under a
    unique index) takes that strength itself, so a weaker lock here would only be upgraded."""
    return User.objects.select_for_update().get(pk=user_id)


def profiles_for_update() -> QuerySet[UserProfile]:
    """Profiles, locked as they are read (get_or_create locks the row it finds, too)."""
    return UserProfile.objects.select_for_update(no_key=True)
