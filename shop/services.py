"""Every write path of the shop. Keyword-only, typed, each in its own transaction, each
invalidating the cache entries its write makes stale (after COMMIT: shop/cache.py). The API
and the admin are both clients of these functions; neither writes a model itself.

Concurrency is the database's job here: rows are locked by shop/locks.py, in primary-key
order (so two transactions never wait on each other in a cycle), stock moves by arithmetic
in the UPDATE under those locks (never by writing back a value read earlier), uniqueness is
a constraint (never check-then-insert), and the deferred trigger on shop_order checks
total_amount against the items at COMMIT. What still deadlocks (another writer locking in
its own order) or fails to serialise is retried here a bounded number of times; a client
never sees the database error.
"""

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models.functions import Now
from psycopg.types.json import Jsonb
from rest_framework.authtoken.models import Token

from shop import cache, locks, selectors
from shop.errors import ErrorCode, ShopError
from shop.models import Category, IdempotencyKey, Order, OrderItem, Product, User, UserProfile
from shop.validators import error_messages, shipping_address_clean

logger = logging.getLogger(__name__)

# A deadlock or serialisation failure aborts the whole transaction; it is safe to run again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
RETRY_ATTEMPTS = 3

MAX_ORDER_LINES = 100
MAX_LINE_QUANTITY = 1000
# shop_order.total_amount and shop_orderitem.subtotal are numeric(12, 2).
MAX_AMOUNT = Decimal("9999999999.99")

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=models.Model)


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Run func (which owns its transaction) again after a deadlock or serialisation failure.

    After RETRY_ATTEMPTS failures the caller gets ShopError(BUSY) (503, Retry-After), never
    the OperationalError. Must wrap the outermost atomic block of the work: a retry inside
    a caller's transaction would only roll back to a savepoint, keeping the caller's locks.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as error:
                sqlstate = getattr(error.__cause__, "sqlstate", None)
                if sqlstate not in RETRYABLE_SQLSTATES:
                    raise
                logger.warning(
                    "%s: %s on attempt %d of %d",
                    func.__name__,
                    type(error.__cause__).__name__,
                    attempt,
                    RETRY_ATTEMPTS,
                )
        raise ShopError(ErrorCode.BUSY, "The shop is busy; please try again in a moment.")

    return wrapper


def _check_if_match(etag: str, if_match: Collection[str] | None) -> None:
    """If-Match semantics (RFC 9110): None = no precondition; "*" matches any current state."""
    if if_match is not None and "*" not in if_match and etag not in if_match:
        raise ShopError(
            ErrorCode.PRECONDITION_FAILED,
            "It has changed since you read it: fetch it again and reapply your change.",
        )


def _validation_error(error: ValidationError, *, all_to: str = "non_field_errors") -> ShopError:
    """Django's ValidationError as ShopError(INVALID); errors of no field go under all_to."""
    raw = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    fields = {all_to if name == NON_FIELD_ERRORS else name: msgs for name, msgs in raw.items()}
    first = next(iter(fields.values()))[0]
    return ShopError(ErrorCode.INVALID, first, fields=fields)


def _apply_changes(instance: models.Model, changes: dict) -> list[str]:
    """Set on instance the values of `changes` that differ from its own; return their names.

    What is already so is not written: a save that changes nothing is no UPDATE and no
    audit event (the history would show a change that changed nothing). A foreign key is
    compared by id, so comparing reads no related row.
    """
    changed = []
    for name, value in changes.items():
        field = instance._meta.get_field(name)
        new = value.pk if field.is_relation and value is not None else value
        if getattr(instance, field.attname) != new:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _full_clean(
    instance: models.Model,
    *,
    changed: Collection[str] | None = None,
    exclude: Collection[str] = (),
    validate_unique: bool = True,
    all_to: str = "non_field_errors",
) -> None:
    """instance.full_clean() as ShopError(INVALID): the field rules and the model's CHECKs and
    UNIQUEs (a query each, in a savepoint), only those the `changed` fields take part in.
    all_to: where an error that names no field goes."""
    excluded = list(exclude)
    if changed is not None:
        excluded += [field.name for field in instance._meta.fields if field.name not in changed]
    try:
        instance.full_clean(exclude=excluded or None, validate_unique=validate_unique)
    except ValidationError as error:
        raise _validation_error(error, all_to=all_to) from None


# --------------------------------------------------------------------------- accounts

ACCOUNT_UNIQUE_CONSTRAINTS = {"shop_user_username_key", "shop_user_email_ci_uniq"}
# One answer for a taken username and a taken email address, so the email case tells no
# more than the username case does (see README, "Registration and user enumeration").
ACCOUNT_UNAVAILABLE_MESSAGE = "That username or email address cannot be used. Choose another."


def _account_unavailable(error: IntegrityError) -> ShopError | None:
    if getattr(error.__cause__.diag, "constraint_name", None) in ACCOUNT_UNIQUE_CONSTRAINTS:
        return ShopError(ErrorCode.ACCOUNT_UNAVAILABLE, ACCOUNT_UNAVAILABLE_MESSAGE)
    return None


def user_register(*, username: str, email: str, password: str) -> User:
    """A new shopper account. Uniqueness is left to the database's unique indexes.

    The password is validated and hashed before the insert, so a taken username or email
    costs the same time as a successful registration.
    """
    user = User(username=username, email=User.objects.normalize_email(email))
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise _validation_error(error) from None
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ShopError(
            ErrorCode.INVALID, error.messages[0], fields={"password": error.messages}
        ) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        raise _account_unavailable(error) or error from None
    return user


def auth_token_create(*, username: str, password: str, request=None) -> Token:
    """Log in: the user's API token (one per user, made on first login)."""
    user = authenticate(request, username=username, password=password)
    # Suspended and closed accounts get the same answer as a wrong password.
    if user is None or user.status != User.Status.ACTIVE:
        raise ShopError(ErrorCode.INVALID_CREDENTIALS, "Unable to log in with these credentials.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(last_login=Now())
        token, _ = Token.objects.get_or_create(user=user)
    return token


def auth_token_delete(*, user: User) -> None:
    """Log out everywhere the token is used: the token row goes."""
    Token.objects.filter(user=user).delete()


def demo_user_ensure(*, username: str, email: str, password: str, staff: bool) -> tuple[User, bool]:
    """The demo login `username`, made once; (user, created). For `make run`
    (manage.py demo_user): a superuser (staff=True) or a shopper, with a profile and this
    password. An existing user is left exactly as it is, its password and flags included: a
    password changed in the admin, or a demoted account, stays so across runs."""
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user, False
        if staff:
            user = User.objects.create_superuser(username, email, password)
        else:
            user = User.objects.create_user(username, email, password)
        last_name = "Staff" if staff else "Shopper"
        profile_update(user=user, if_match=None, first_name="Demo", last_name=last_name)
    return user, True


def user_update(*, user: User, if_match: Collection[str] | None, **changes: str) -> User:
    """Change the user's username or email, if their ETag still matches (row locked)."""
    with transaction.atomic():
        locked = locks.user_for_update(user_id=user.pk)
        _check_if_match(selectors.user_etag(locked), if_match)
        if "email" in changes:
            changes["email"] = User.objects.normalize_email(changes["email"])
        # What is already so is not written: an empty PATCH or a resend is no UPDATE and no
        # audit event (the history would show a change that changed nothing).
        changes = {name: value for name, value in changes.items() if getattr(locked, name) != value}
        if not changes:
            return locked
        for name, value in changes.items():
            setattr(locked, name, value)
        try:
            locked.full_clean(
                exclude=["password"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            raise _validation_error(error) from None
        try:
            with transaction.atomic():
                locked.save(update_fields=list(changes))
        except IntegrityError as error:
            raise _account_unavailable(error) or error from None
    return locked


def _profile_clean(profile: UserProfile) -> None:
    """The model's rules before the write. The only CHECK, shop_userprofile_phone_format,
    names no field to Django, so its message is put under "phone"."""
    _full_clean(profile, exclude=["user"], validate_unique=False, all_to="phone")


def profile_update(*, user: User, if_match: Collection[str] | None, **changes: str) -> UserProfile:
    """Change the user's profile (made on first change), if its ETag still matches."""
    with transaction.atomic():
        # A missing profile is the blank one (same ETag), made only when something changes:
        # an empty PATCH, or one that changes nothing, writes no row and no audit event.
        profile = locks.profiles_for_update().filter(user_id=user.pk).first()
        profile = profile or UserProfile(user_id=user.pk)
        _check_if_match(selectors.profile_etag(profile), if_match)
        changes = {
            name: value for name, value in changes.items() if getattr(profile, name) != value
        }
        if not changes:
            return profile
        if profile._state.adding:
            # Made with its values, one INSERT (one audit event). get_or_create's insert
            # races safely on the primary key, and the loser then locks and re-reads the
            # winner's row, whose ETag must still match.
            _profile_clean(UserProfile(user_id=user.pk, **changes))
            profile, created = locks.profiles_for_update().get_or_create(
                user_id=user.pk, defaults=changes
            )
            if created:
                cache.invalidate_profiles([user.pk])
                return profile
            _check_if_match(selectors.profile_etag(profile), if_match)
        for name, value in changes.items():
            setattr(profile, name, value)
        _profile_clean(profile)
        profile.save(update_fields=list(changes))
        cache.invalidate_profiles([user.pk])
    return profile


def profile_delete(*, user_ids: Collection[int]) -> int:
    """Delete these users' profiles (each becomes the blank one again). Returns how many."""
    with transaction.atomic():
        ids = list(user_ids)
        deleted, _ = UserProfile.objects.filter(user_id__in=ids).delete()
        cache.invalidate_profiles(ids)
    return deleted


# --------------------------------------------------------------------------- catalogue

# A category's name and slug are shown in its products' details (ProductOutput.category).
CATEGORY_SHOWN_IN_PRODUCTS = ("name", "slug")
CATEGORY_CYCLE_MESSAGE = "A category cannot be placed under itself or one of its subcategories."


def _category_save(category: Category, *, update_fields: list[str] | None = None) -> None:
    """Save; the trigger's refusal of a move under a descendant becomes ShopError(INVALID)."""
    try:
        with transaction.atomic():
            category.save(update_fields=update_fields)
    except IntegrityError as error:
        if getattr(error.__cause__.diag, "constraint_name", None) != (
            "shop_category_parent_not_a_descendant"
        ):
            raise
        raise ShopError(
            ErrorCode.INVALID, CATEGORY_CYCLE_MESSAGE, fields={"parent": [CATEGORY_CYCLE_MESSAGE]}
        ) from None


def category_create(*, name: str, slug: str, parent: Category | None = None) -> Category:
    """A new category; the tree and every list page show it after COMMIT."""
    category = Category(name=name, slug=slug, parent=parent)
    _full_clean(category)
    with transaction.atomic():
        _category_save(category)
        cache.invalidate_category_tree()
    return category


def category_update(*, category_id: int, **changes: object) -> Category:
    """Change a category's name, slug or parent (the row locked while it is written)."""
    with transaction.atomic():
        category = locks.category_for_update(category_id=category_id)
        changed = _apply_changes(category, changes)
        if not changed:
            return category
        _full_clean(category, changed=changed)
        _category_save(category, update_fields=changed)
        cache.invalidate_category_tree()
        if set(changed) & set(CATEGORY_SHOWN_IN_PRODUCTS):
            cache.invalidate_products(
                Product.objects.filter(category_id=category_id).values_list("pk", flat=True)
            )
    return category


def category_delete(*, category_ids: Collection[int]) -> int:
    """Delete categories without products or subcategories (ProtectedError for others)."""
    with transaction.atomic():
        deleted, _ = Category.objects.filter(pk__in=list(category_ids)).delete()
        cache.invalidate_category_tree()
    return deleted


def product_create(
    *,
    name: str,
    category: Category,
    price: Decimal,
    description: str = "",
    stock_quantity: int = 0,
    tags: Sequence[str] = (),
    attributes: dict | None = None,
    is_active: bool = True,
) -> Product:
    """A new product; every list page shows it after COMMIT."""
    product = Product(
        name=name,
        category=category,
        price=price,
        description=description,
        stock_quantity=stock_quantity,
        tags=list(tags),
        attributes={} if attributes is None else attributes,
        is_active=is_active,
    )
    _full_clean(product)
    with transaction.atomic():
        product.save()
        cache.invalidate_products([product.pk])
    return product


def product_update(*, product_id: int, **changes: object) -> Product:
    """Change these fields of a product, and only these, on the locked row.

    Only what changed is written: a form that also holds the stock it read earlier does not
    overwrite the stock that checkouts took since (stock moves only by arithmetic).
    """
    with transaction.atomic():
        product = locks.products_for_update([product_id]).first()
        if product is None:
            raise ShopError(ErrorCode.NOT_FOUND, "No such product.")
        changed = _apply_changes(product, changes)
        if not changed:
            return product
        _full_clean(product, changed=changed)
        product.save(update_fields=changed)
        cache.invalidate_products([product_id])
    return product


def product_deactivate(*, product_ids: Collection[int]) -> int:
    """Take products off sale (they stay in past orders). Returns how many were active."""
    with transaction.atomic():
        active = list(
            locks.products_for_update(product_ids)
            .filter(is_active=True)
            .values_list("pk", flat=True)
        )
        Product.objects.filter(pk__in=active).update(is_active=False)
        cache.invalidate_products(active)
    return len(active)


def product_delete(*, product_ids: Collection[int]) -> int:
    """Delete products never ordered; ProtectedError for one that was (deactivate it)."""
    with transaction.atomic():
        locked = list(locks.products_for_delete(product_ids).values_list("pk", flat=True))
        Product.objects.filter(pk__in=locked).delete()
        cache.invalidate_products(locked)
    return len(locked)


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    quantity: int


def _fingerprint(lines: Sequence[OrderLine], shipping_address: dict) -> str:
    """The request's identity for Idempotency-Key: lines in product order, address keys
    sorted, so the same order written differently is the same request."""
    canonical = json.dumps(
        {
            "items": sorted((line.product_id, line.quantity) for line in lines),
            "shipping_address": shipping_address,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_claim(*, user: User, key: str, fingerprint: str) -> Order | None:
    """Claim (user, key) for this transaction, or return the order it already stands for,
    whole (with its items, as selectors.order_get reads it).

    INSERT ... ON CONFLICT DO NOTHING waits for a concurrent transaction holding the same
    key to finish: if it commits, we replay its order; if it rolls back, the key is ours.
    """
    with connection.cursor() as cursor:
        # A key older than IDEMPOTENCY_KEY_TTL_HOURS that the prune has not reached yet is
        # taken over as new (the DO UPDATE's WHERE), as it would be once pruned.
        cursor.execute(
            "INSERT INTO shop_idempotencykey (user_id, key, fingerprint) VALUES (%s, %s, %s) "
            "ON CONFLICT (user_id, key) DO UPDATE "
            "SET fingerprint = EXCLUDED.fingerprint, order_id = NULL, created_at = DEFAULT "
            "WHERE shop_idempotencykey.created_at "
            "< statement_timestamp() - make_interval(hours => %s) "
            "RETURNING id",
            [user.pk, key, fingerprint, settings.IDEMPOTENCY_KEY_TTL_HOURS],
        )
        if cursor.fetchone() is not None:
            return None
    existing = IdempotencyKey.objects.only("fingerprint", "order_id").get(user=user, key=key)
    if existing.fingerprint != fingerprint:
        raise ShopError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was already used for a different order. "
            "Use a new key for a new order.",
        )
    return selectors.order_get(order_id=existing.order_id, user_id=user.pk)


def idempotency_keys_prune(*, cutoff: datetime, batch_size: int = 1_000) -> int:
    """Delete the Idempotency-Keys claimed before `cutoff`, `batch_size` per transaction
    (short locks, small WAL bursts; an interrupted run loses nothing). Idempotent: a second
    run finds none older than the cutoff. Returns how many were deleted."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            # Oldest first, by shop_idemkey_created_idx; SKIP LOCKED: a key being
            # claimed right now is left to that request.
            cursor.execute(
                "DELETE FROM shop_idempotencykey WHERE id IN ("
                " SELECT id FROM shop_idempotencykey WHERE created_at < %s"
                " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
                [cutoff, batch_size],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted


@retry_on_conflict
def order_create(
    *,
    user: User,
    lines: Sequence[OrderLine],
    shipping_address: dict,
    idempotency_key: str | None = None,
) -> tuple[Order, bool]:
    """Place an order: take the stock, price it from the database, all or nothing.

    Returns (order, created), the order whole either way: its items in order.item_list (each
    with its product's id and name), the attribute selectors.order_get prefetches into, so
    the caller needs no query to show it. A created order is as its INSERTs returned it;
    created is False when idempotency_key replays an earlier order of the same request,
    which is then read as it is now (selectors.order_get).
    """
    _check_lines(lines)
    shipping_address = _address_or_error(shipping_address)
    with transaction.atomic():
        if idempotency_key is not None:
            fingerprint = _fingerprint(lines, shipping_address)
            replayed = _idempotency_claim(user=user, key=idempotency_key, fingerprint=fingerprint)
            if replayed is not None:
                return replayed, False
        order = _order_insert(user=user, lines=lines, shipping_address=shipping_address)
        if idempotency_key is not None:
            IdempotencyKey.objects.filter(user=user, key=idempotency_key).update(order=order)
        # After COMMIT: the products' stock changed, and the user has a new order.
        cache.invalidate_products(line.product_id for line in lines)
        cache.invalidate_orders(user.pk)
    return order, True


def _address_or_error(address: object) -> dict:
    """validators.shipping_address_clean's address, or its errors as ShopError(INVALID)
    under "shipping_address", worded as the API words a serializer's errors."""
    try:
        return shipping_address_clean(address)
    except ValidationError as error:
        messages = error_messages(error)
        if isinstance(messages, list):
            first, nested = messages[0], {"non_field_errors": messages}
        else:
            first, nested = next(iter(messages.values()))[0], messages
        raise ShopError(ErrorCode.INVALID, first, fields={"shipping_address": nested}) from None


def _check_lines(lines: Sequence[OrderLine]) -> None:
    """The rules the API's serializer states first, kept here for every other caller."""
    if not 1 <= len(lines) <= MAX_ORDER_LINES:
        raise ShopError(
            ErrorCode.INVALID,
            f"An order has 1 to {MAX_ORDER_LINES} lines.",
            fields={"items": [f"An order has 1 to {MAX_ORDER_LINES} lines."]},
        )
    seen = set()
    for line in lines:
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY or line.product_id in seen:
            raise ShopError(
                ErrorCode.INVALID,
                f"Each product once, 1 to {MAX_LINE_QUANTITY} of it.",
                fields={"items": [f"Each product once, 1 to {MAX_LINE_QUANTITY} of it."]},
            )
        seen.add(line.product_id)


def _line_errors(lines: Sequence[OrderLine], errors: dict[int, dict]) -> list[dict]:
    """Errors aligned with the request's lines, as DRF reports a list of objects."""
    return [errors.get(index, {}) for index in range(len(lines))]


def _order_insert(*, user: User, lines: Sequence[OrderLine], shipping_address: dict) -> Order:
    # The locks, in primary-key order: concurrent orders for overlapping products queue
    # here instead of deadlocking.
    products = locks.products_for_checkout(line.product_id for line in lines)

    unavailable = {
        index: {"product": [f"Product {line.product_id} does not exist or is not for sale."]}
        for index, line in enumerate(lines)
        if line.product_id not in products or not products[line.product_id].is_active
    }
    if unavailable:
        raise ShopError(
            ErrorCode.PRODUCT_UNAVAILABLE,
            "Some products do not exist or are not for sale: "
            + ", ".join(str(lines[index].product_id) for index in unavailable)
            + ".",
            fields={"items": _line_errors(lines, unavailable)},
        )

    short = {
        index: line
        for index, line in enumerate(lines)
        if products[line.product_id].stock_quantity < line.quantity
    }
    if short:
        described = [
            f"{products[line.product_id].name} (product {line.product_id}): "
            f"{line.quantity} requested, {products[line.product_id].stock_quantity} in stock"
            for line in short.values()
        ]
        raise ShopError(
            ErrorCode.OUT_OF_STOCK,
            "Not enough stock for " + "; ".join(described) + ".",
            fields={
                "items": _line_errors(
                    lines,
                    {
                        index: {
                            "quantity": [
                                f"Only {products[line.product_id].stock_quantity} in stock."
                            ]
                        }
                        for index, line in short.items()
                    },
                )
            },
        )

    subtotals = [products[line.product_id].price * line.quantity for line in lines]
    total = sum(subtotals, Decimal("0.00"))
    if total > MAX_AMOUNT:
        raise ShopError(
            ErrorCode.INVALID,
            f"An order's total cannot exceed {MAX_AMOUNT:,}.",
            fields={"items": [f"An order's total cannot exceed {MAX_AMOUNT:,}."]},
        )

    # Under the locks taken above; the CHECK (stock >= 0) backs the arithmetic up.
    _stock_move({line.product_id: -line.quantity for line in lines})
    # Both INSERTs return what the database filled in (id, timestamps, version, status;
    # the items' ids and subtotals), so the order is complete without reading it back.
    [order] = _rows(Order, ORDER_INSERT_SQL, [user.pk, total, Jsonb(shipping_address)])
    order.shipping_address = shipping_address
    items = _rows(
        OrderItem,
        ITEMS_INSERT_SQL,
        [
            order.pk,
            [line.product_id for line in lines],
            [line.quantity for line in lines],
            [products[line.product_id].price for line in lines],
        ],
    )
    for item in items:
        item.product = products[item.product_id]  # the locked row: its id and name
    order.item_list = sorted(items, key=lambda item: item.pk)  # as order_get's Prefetch
    return order


# A checkout's statements, in SQL rather than through the ORM: a checkout is a handful of
# short statements, and building each as a queryset (compiling it, then the model machinery
# of save() and bulk_create()) cost more CPU than PostgreSQL spent running it. The SQL is
# what the ORM sent, except that ids and values travel as arrays (one statement text
# whatever the number of lines). bench/pgbench.py's CHECKOUT_SQL mirrors them (with the lock,
# shop/locks.py's PRODUCTS_FOR_CHECKOUT_SQL); the rows come back as model instances
# (Model.from_db), and tests/shop/api/test_orders.py checks the result against a read of
# the order.
ORDER_INSERT_SQL = """
INSERT INTO shop_order (user_id, total_amount, shipping_address)
VALUES (%s, %s, %s)  -- status, version and timestamps: the columns' own defaults
RETURNING id, created_at, updated_at, user_id, status, total_amount, version
"""
ITEMS_INSERT_SQL = """
INSERT INTO shop_orderitem (order_id, product_id, quantity, unit_price)
SELECT %s, * FROM unnest(%s::bigint[], %s::integer[], %s::numeric[])
RETURNING id, order_id, product_id, quantity, unit_price, subtotal
"""


def _rows(model: type[M], sql: str, params: list) -> list[M]:
    """model instances of the rows sql returns; its columns are model fields (attnames), in
    the model's field order; the fields it does not return are deferred, as with only()."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [model.from_db(connection.alias, names, row) for row in cursor.fetchall()]


def _stock_return(order: Order) -> list[int]:
    """Put an order's quantities back: product rows locked in pk order, then one UPDATE.
    Returns the products' ids."""
    quantities = dict(OrderItem.objects.filter(order=order).values_list("product_id", "quantity"))
    ids = list(locks.products_for_update(quantities).values_list("pk", flat=True))
    _stock_move({pk: quantities[pk] for pk in ids})
    return ids


# The products' ids and the changes to their stock, joined in as two arrays: one statement
# text however many lines (one pg_stat_statements entry), arithmetic done by the database on
# the row it updates (never a value read earlier), and no ORM expression tree to build per
# line (Django's UPDATE cannot join a VALUES list; a CASE WHEN per line was the ORM's way).
STOCK_MOVE_SQL = """
UPDATE shop_product SET stock_quantity = shop_product.stock_quantity + line.delta
  FROM unnest(%s::bigint[], %s::integer[]) AS line(id, delta)
 WHERE shop_product.id = line.id
"""


def _stock_move(deltas: dict[int, int]) -> None:
    """Add deltas[id] to each product's stock in one UPDATE; the rows must be locked."""
    with connection.cursor() as cursor:
        cursor.execute(STOCK_MOVE_SQL, [list(deltas), list(deltas.values())])


def _order_cancel(*, order: Order) -> Order:
    if order.status not in Order.OPEN_STATUSES:
        raise ShopError(
            ErrorCode.ORDER_NOT_CANCELLABLE,
            f"Order {order.pk} is {order.status}: only pending or processing orders can be "
            "cancelled.",
        )
    product_ids = _stock_return(order)
    order.status = Order.Status.CANCELLED
    order.save(update_fields=["status"])
    cache.invalidate_products(product_ids)
    cache.invalidate_orders(order.user_id, [order.pk])
    return order


@retry_on_conflict
def order_cancel(
    *, order_id: int, owner: User | None, if_match: Collection[str] | None = None
) -> Order:
    """Cancel a pending or processing order and return its stock. owner=None: staff."""
    with transaction.atomic():
        order = locks.order_for_update(order_id=order_id, owner=owner)
        _check_if_match(selectors.order_etag(order), if_match)
        return _order_cancel(order=order)


def _illegal_transition(order: Order, status: str) -> ShopError:
    """409, naming the statuses the order can move to next (or that it has none)."""
    allowed = Order.TRANSITIONS[order.status]
    if allowed:
        nexts = " or ".join(allowed)
        message = f"Order {order.pk} is {order.status}: it can move to {nexts}, not {status}."
        field = f"Not allowed from {order.status}; allowed: {', '.join(allowed)}."
    else:
        message = f"Order {order.pk} is {order.status}, a final status: it cannot move to {status}."
        field = f"Not allowed from {order.status}, a final status."
    return ShopError(ErrorCode.ILLEGAL_TRANSITION, message, fields={"status": [field]})


@retry_on_conflict
def order_transition(
    *, order_id: int, status: str, if_match: Collection[str] | None = None
) -> Order:
    """Staff: move an order one step along Order.TRANSITIONS (cancelling returns stock)."""
    with transaction.atomic():
        order = locks.order_for_update(order_id=order_id, owner=None)
        _check_if_match(selectors.order_etag(order), if_match)
        if status not in Order.TRANSITIONS[order.status]:
            raise _illegal_transition(order, status)
        if status == Order.Status.CANCELLED:
            return _order_cancel(order=order)
        order.status = status
        order.save(update_fields=["status"])
        cache.invalidate_orders(order.user_id, [order.pk])
        return order


def order_update(
    *,
    order_id: int,
    owner: User | None,
    if_match: Collection[str] | None,
    shipping_address: dict | None = None,
    customer: User | None = None,
) -> Order:
    """Change an order's shipping address (the rules of validators.shipping_address_clean)
    or its customer, if its ETag still matches. Unchanged values are not written.

    owner: the shopper, who may change the address of their own pending order. owner=None:
    staff, who also correct the address of a later order, or move an order to another
    customer.
    """
    if customer is not None and owner is not None:
        raise TypeError("Only staff (owner=None) move an order to another customer.")
    changes: dict[str, object] = {}
    if shipping_address is not None:
        changes["shipping_address"] = _address_or_error(shipping_address)
    if customer is not None:
        changes["user"] = customer
    with transaction.atomic():
        order = locks.order_for_update(order_id=order_id, owner=owner)
        _check_if_match(selectors.order_etag(order), if_match)
        if owner is not None and order.status != Order.Status.PENDING:
            raise ShopError(
                ErrorCode.ORDER_NOT_EDITABLE,
                f"Order {order.pk} is {order.status}: only pending orders can be changed.",
            )
        previous_owner = order.user_id
        changed = _apply_changes(order, changes)
        if changed:
            order.save(update_fields=changed)
            cache.invalidate_orders(order.user_id, [order.pk])
            if order.user_id != previous_owner:
                cache.invalidate_orders(previous_owner)  # the order left their pages
        return order
