"""The shop's schema and its invariants, enforced by PostgreSQL.

Every constraint and index states its reason (db_comment, or a comment beside it). Business
logic lives in services.py; the only code here is what the database itself runs (triggers).
"""

from decimal import Decimal

import pgtrigger
from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    Group,
    Permission,
    PermissionsMixin,
)
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now
from django.db.models.lookups import Exact
from pgtrigger import utils as pgtrigger_utils


# BEFORE UPDATE triggers keep updated_at (and version, where there is one) true for every
# writer: QuerySet.update() and raw SQL included. They fire only when a column really changed
# (AnyChange lists them; "OLD.* IS DISTINCT FROM NEW.*" is refused on tables with generated
# columns), so a no-op save leaves the row, and its history, alone.
def touch_trigger(*, version: bool = False, generated: tuple[str, ...] = ()) -> pgtrigger.Trigger:
    bump = " NEW.version = OLD.version + 1;" if version else ""
    return pgtrigger.Trigger(
        name="touch_and_bump_version" if version else "touch_updated_at",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.AnyChange(
            exclude=["updated_at", *(["version"] if version else []), *generated]
        ),
        func=f"NEW.updated_at = statement_timestamp();{bump} RETURN NEW;",
    )


def is_json_object(field: str) -> Exact:
    """jsonb_typeof(field) = 'object': a CHECK that a JSONB column holds an object."""
    return Exact(
        models.Func(F(field), function="jsonb_typeof", output_field=models.TextField()), "object"
    )


class TransitionTrigger(pgtrigger.FSM):
    """django-pgtrigger's FSM trigger (the legal moves of a field as a list of pairs), failing
    like a CHECK: SQLSTATE 23514 naming `constraint`, as every other rule of the schema does,
    where FSM's own raises a bare P0001. It fires only when the field really changes."""

    def __init__(
        self, *, name: str, field: str, transitions: list[tuple[str, str]], constraint: str
    ):
        self.constraint = constraint
        super().__init__(
            name=name,
            field=field,
            transitions=transitions,
            condition=pgtrigger.Q(**{f"old__{field}__df": pgtrigger.F(f"new__{field}")}),
        )
        self.operation = pgtrigger.UpdateOf(field)

    def get_declare(self, model):
        return []  # FSM's _is_valid_transition variable: this function needs none

    def get_func(self, model):
        column = pgtrigger_utils.quote(model._meta.get_field(self.field).column)
        legal = ", ".join(
            f"'{before}{self.separator}{after}'" for before, after in self.transitions
        )
        return self.format_sql(f"""
            IF concat(OLD.{column}, '{self.separator}', NEW.{column}) <> ALL (ARRAY[{legal}]) THEN
                RAISE EXCEPTION 'illegal {model._meta.model_name} {self.field} transition % -> %',
                    OLD.{column}, NEW.{column}
                    USING ERRCODE = 'check_violation', CONSTRAINT = '{self.constraint}';
            END IF;
            RETURN NEW;
        """)


class Timestamped(models.Model):
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        abstract = True


# --------------------------------------------------------------------------- users


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, username, email, password, **extra):
        user = self.model(username=username, email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, username, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(username, email, password, **extra)

    def create_superuser(self, username, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(username, email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(username=username)


# Module level, as OrderStatus below: User.Meta's CHECK reads it. Everywhere else: User.Status.
class UserStatus(models.TextChoices):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class User(Timestamped, AbstractBaseUser, PermissionsMixin):
    Status = UserStatus

    username = models.CharField(
        max_length=150,
        unique=True,  # the UNIQUE constraint is the login lookup's index: no second one
        validators=[UnicodeUsernameValidator()],
        error_messages={"unique": "A user with that username already exists."},
    )
    email = models.EmailField(max_length=254)  # unique case-insensitively: see Meta
    status = models.CharField(
        max_length=16,
        choices=Status,
        default=Status.ACTIVE,
        db_default=Status.ACTIVE,
        db_comment="Account state; added by the safe migrations 0002-0006.",
    )
    is_staff = models.BooleanField(default=False, db_default=False)
    is_active = models.BooleanField(default=True, db_default=True)
    # PermissionsMixin's two many-to-many fields, with explicit join tables: Django's own
    # would index user_id twice (alone, and first in the UNIQUE (user_id, group_id) pair).
    groups = models.ManyToManyField(
        Group, through="UserGroup", blank=True, related_name="user_set", related_query_name="user"
    )
    user_permissions = models.ManyToManyField(
        Permission,
        through="UserPermission",
        blank=True,
        related_name="user_set",
        related_query_name="user",
    )

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        db_table_comment = "Shoppers and staff. Passwords are Django hashes, never plain text."
        constraints = [
            # One account per mailbox, whatever the case: an expression index on lower(email),
            # which is also what login-by-email lookups use. No plain index on email besides.
            # text_pattern_ops: the same index also serves the admin's search by the start of
            # an address, `lower(email) LIKE 'ab%'` (equality is the same in every opclass).
            models.UniqueConstraint(
                OpClass(Lower("email"), name="text_pattern_ops"),
                name="shop_user_email_ci_uniq",
                violation_error_message="A user with that email already exists.",
            ),
            # The account states the application knows; anything else is a bug.
            models.CheckConstraint(
                condition=Q(status__in=list(UserStatus.values)),
                name="shop_user_status_valid",
                violation_error_message="Unknown account status.",
            ),
        ]
        indexes = [
            # Staff by username (the admin's is_staff filter, the audit log's user choices):
            # a handful of rows among 100,000 shoppers, found without reading the others.
            models.Index(
                fields=["username"], name="shop_user_staff_username_idx", condition=Q(is_staff=True)
            ),
            # The admin's search by the start of a username, any case: `lower(username) LIKE
            # 'ab%'`. text_pattern_ops compares bytes, as a LIKE prefix needs; the UNIQUE
            # index's collation order cannot serve it, nor the case-sensitive _like one.
            # (The e-mail's is its UNIQUE index, above.)
            models.Index(
                OpClass(Lower("username"), name="text_pattern_ops"),
                name="shop_user_username_prefix_idx",
            ),
        ]
        triggers = [touch_trigger()]

    def __str__(self):
        return self.username

    def clean(self):
        super().clean()
        self.email = type(self).objects.normalize_email(self.email)


class UserGroup(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, db_index=False
    )  # shop_user_groups_uniq leads with user_id
    group = models.ForeignKey(Group, on_delete=models.CASCADE)  # indexed: a group's members

    class Meta:
        db_table = "shop_user_groups"
        constraints = [
            # A user is in a group once; also the index behind user_id (a user's groups).
            models.UniqueConstraint(fields=["user", "group"], name="shop_user_groups_uniq")
        ]

    def __str__(self):
        return f"{self.user_id} in group {self.group_id}"


class UserPermission(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, db_index=False
    )  # shop_user_permissions_uniq leads with user_id
    permission = models.ForeignKey(
        Permission, on_delete=models.CASCADE
    )  # indexed: who holds a permission

    class Meta:
        db_table = "shop_user_user_permissions"
        constraints = [
            # A user holds a permission once; also the index behind user_id (a user's permissions).
            models.UniqueConstraint(
                fields=["user", "permission"], name="shop_user_permissions_uniq"
            )
        ]

    def __str__(self):
        return f"{self.user_id} has permission {self.permission_id}"


class UserProfile(Timestamped):
    # The user's id is the profile's primary key: the 1-to-1 needs no extra column or index.
    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    first_name = models.CharField(max_length=150, blank=True, default="", db_default="")
    last_name = models.CharField(max_length=150, blank=True, default="", db_default="")
    phone = models.CharField(max_length=32, blank=True, default="", db_default="")
    bio = models.TextField(blank=True, default="", db_default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        db_table_comment = "Optional personal details, one row per user, deleted with the user."
        constraints = [
            # Digits, spaces and + ( ) - only, so a phone number can be dialled or normalised.
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=r"^\+?[0-9][0-9 ()-]{4,30}$"),
                name="shop_userprofile_phone_format",
                violation_error_message="Enter a phone number of digits, spaces, + ( ) and -.",
            ),
        ]
        triggers = [touch_trigger()]

    def __str__(self):
        return f"Profile of {self.user_id}"


# --------------------------------------------------------------------------- catalogue


class Category(Timestamped):
    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=140, unique=True
    )  # UNIQUE: the URL key; its index serves lookups by slug
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,  # a category with children cannot vanish from under them
        null=True,
        blank=True,
        related_name="children",
        db_index=False,  # the (parent, name) unique index below leads with parent_id
    )

    class Meta:
        verbose_name_plural = "categories"
        db_table_comment = "The catalogue tree; parent is NULL for top-level categories."
        constraints = [
            # Sibling names are unique, top level included (NULLS NOT DISTINCT, PostgreSQL 15+).
            # Also the index behind parent_id: children lookups and the FK's ON DELETE check.
            models.UniqueConstraint(
                fields=["parent", "name"],
                name="shop_category_sibling_name_uniq",
                nulls_distinct=False,
                violation_error_message="A category with that name already exists here.",
            ),
            # The one-step cycle; longer cycles are refused by the trigger below.
            models.CheckConstraint(
                condition=~Q(parent=F("id")),
                name="shop_category_not_own_parent",
                violation_error_message="A category cannot be its own parent.",
            ),
        ]
        triggers = [
            touch_trigger(),
            # The tree stays a tree: a category may not move under one of its own
            # descendants (A -> B -> A), which the CHECK above cannot see.
            pgtrigger.Trigger(
                name="parent_not_a_descendant",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.UpdateOf("parent_id"),
                # Self-parenting is left to the CHECK shop_category_not_own_parent.
                condition=pgtrigger.Condition(
                    "NEW.parent_id IS NOT NULL AND NEW.parent_id <> NEW.id"
                ),
                func="""
                IF EXISTS (
                    WITH RECURSIVE ancestors(id, parent_id) AS (
                        SELECT id, parent_id FROM shop_category WHERE id = NEW.parent_id
                        UNION
                        SELECT c.id, c.parent_id
                          FROM shop_category c JOIN ancestors a ON c.id = a.parent_id
                    )
                    SELECT 1 FROM ancestors WHERE id = NEW.id
                ) THEN
                    RAISE EXCEPTION 'category % cannot move under its own descendant %',
                        NEW.id, NEW.parent_id
                        USING ERRCODE = 'check_violation',
                              CONSTRAINT = 'shop_category_parent_not_a_descendant';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self):
        return self.name


class Product(Timestamped):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="", db_default="")
    # The validators repeat the CHECKs below so forms show the error beside the field.
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"), "Price cannot be negative.")],
    )
    stock_quantity = models.IntegerField(default=0, db_default=0, validators=[MinValueValidator(0)])
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,  # products must be moved before their category is deleted
        related_name="products",
        db_index=False,  # shop_product_cat_price_idx leads with category_id
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, db_default=[], blank=True)
    attributes = models.JSONField(default=dict, db_default={}, blank=True)
    is_active = models.BooleanField(default=True, db_default=True)
    version = models.PositiveIntegerField(
        default=1, db_default=1, editable=False, db_comment="Bumped by trigger on every change."
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("name", weight="A", config="english")
        + SearchVector("description", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
        db_comment="Full-text document: name (weight A) and description (B), english.",
    )

    class Meta:
        db_table_comment = "What the shop sells. Inactive products are hidden from shoppers."
        constraints = [
            # Free is allowed, a negative price is not.
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="shop_product_price_non_negative",
                violation_error_message="Price cannot be negative.",
            ),
            # Checkout can never oversell: a decrement below zero fails.
            models.CheckConstraint(
                condition=Q(stock_quantity__gte=0),
                name="shop_product_stock_non_negative",
                violation_error_message="Stock cannot be negative.",
            ),
            # Free-form attributes are still a key/value object, never a bare list or string.
            models.CheckConstraint(
                condition=is_json_object("attributes"),
                name="shop_product_attributes_object",
                violation_error_message="Attributes must be a JSON object.",
            ),
        ]
        indexes = [
            # Browse a category by price; also the index behind category_id (FK lookups and
            # the PROTECT check when a category is deleted).
            models.Index(fields=["category", "price"], name="shop_product_cat_price_idx"),
            # Whole-catalogue browsing by price, active products only (what shoppers see); id
            # breaks ties so the API's keyset pages on (price, id) read it in order, no sort.
            models.Index(
                fields=["price", "id"],
                name="shop_product_act_price_id_idx",
                condition=Q(is_active=True),
            ),
            # The catalogue's default order, newest first: keyset pages on (created_at, id).
            models.Index(
                fields=["-created_at", "-id"],
                name="shop_product_active_newest_idx",
                condition=Q(is_active=True),
            ),
            # Full-text search: `search_vector @@ websearch_to_tsquery('english', ...)`, and the
            # admin's prefix search `search_vector @@ to_tsquery('english', 'struct:*')`.
            GinIndex(fields=["search_vector"], name="shop_product_search_gin"),
            # Tag filters: `tags @> ARRAY['sale']` and `tags && ARRAY[...]`.
            GinIndex(fields=["tags"], name="shop_product_tags_gin"),
            # The admin's "inactive" filter, newest first, and its count: the few hidden
            # products, without reading the active ones.
            models.Index(
                fields=["id"], name="shop_product_inactive_id_idx", condition=Q(is_active=False)
            ),
        ]
        triggers = [touch_trigger(version=True, generated=("search_vector",))]

    def __str__(self):
        return self.name


# --------------------------------------------------------------------------- orders

SHIPPING_ADDRESS_KEYS = ("name", "line1", "city", "postal_code", "country")


# The order workflow, written once, as data. Module level, because Order.Meta's constraints,
# index and trigger are read from it and a nested class cannot see its outer class's names;
# everywhere else reads it as Order.Status, Order.TRANSITIONS and the state sets derived from
# them, Order.OPEN_STATUSES, EARNING_STATUSES and TARGET_STATUSES (the selectors, the services,
# the API's serializers and schema, the admin form and the seed).
class OrderStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# Every legal move, from -> (to, ...); the shop_order_status_transition trigger is generated
# from it, so the database refuses any other move, whoever makes it.
ORDER_TRANSITIONS: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    OrderStatus.PENDING: (OrderStatus.PROCESSING, OrderStatus.CANCELLED),
    OrderStatus.PROCESSING: (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED,),
    OrderStatus.DELIVERED: (),
    OrderStatus.CANCELLED: (),
}
# Open: not shipped yet, so still cancellable; the staff's work queue (a partial index).
OPEN_ORDER_STATUSES = tuple(
    status for status in OrderStatus if OrderStatus.CANCELLED in ORDER_TRANSITIONS[status]
)
# Earning: counted as revenue. Listed, not "all but cancelled": a state added tomorrow earns
# only once someone says it does (docs/query-patterns.md).
EARNING_ORDER_STATUSES = (
    OrderStatus.PENDING,
    OrderStatus.PROCESSING,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)
# Targets: the states a move can lead to (what the staff's transition endpoint accepts).
TARGET_ORDER_STATUSES = tuple(
    status for status in OrderStatus if any(status in moves for moves in ORDER_TRANSITIONS.values())
)


class Order(Timestamped):
    Status = OrderStatus
    TRANSITIONS = ORDER_TRANSITIONS
    OPEN_STATUSES = OPEN_ORDER_STATUSES
    EARNING_STATUSES = EARNING_ORDER_STATUSES
    TARGET_STATUSES = TARGET_ORDER_STATUSES

    user = models.ForeignKey(
        User,
        on_delete=models.PROTECT,  # orders are financial records: deactivate users instead
        related_name="orders",
        db_index=False,  # shop_order_user_created_idx leads with user_id
    )
    status = models.CharField(
        max_length=16, choices=Status, default=Status.PENDING, db_default=Status.PENDING
    )
    total_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
        db_comment="Equals the sum of the items' subtotals, checked at commit by trigger.",
    )
    # No planner statistics (SET STATISTICS 0, migration 0013): only displayed, never filtered.
    shipping_address = models.JSONField(
        db_comment='{"name", "line1", "line2"?, "city", "postal_code", "country"}'
    )
    version = models.PositiveIntegerField(
        default=1, db_default=1, editable=False, db_comment="Bumped by trigger on every change."
    )

    class Meta:
        db_table_comment = "A shopper's order. Its items are in shop_orderitem."
        constraints = [
            # The workflow's states (Order.Status); moves between them are checked by trigger.
            models.CheckConstraint(
                condition=Q(status__in=list(OrderStatus.values)),
                name="shop_order_status_valid",
                violation_error_message="Unknown order status.",
            ),
            # A total below zero would be a refund, which is not an order.
            models.CheckConstraint(
                condition=Q(total_amount__gte=0),
                name="shop_order_total_non_negative",
                violation_error_message="Order total cannot be negative.",
            ),
            # Structured, not free text: an object with every required key (jsonb ?& array;
            # the typeof test matters, as ?& is also true of an array holding those strings).
            models.CheckConstraint(
                condition=Q(is_json_object("shipping_address"))
                & Q(shipping_address__has_keys=list(SHIPPING_ADDRESS_KEYS)),
                name="shop_order_shipping_address_complete",
                violation_error_message="The shipping address needs name, line1, city, "
                "postal_code and country.",
            ),
        ]
        indexes = [
            # "My orders", newest first; also the index behind user_id (FK and PROTECT check).
            models.Index(fields=["user", "-created_at"], name="shop_order_user_created_idx"),
            # Staff lists by status, newest first.
            models.Index(fields=["status", "-created_at"], name="shop_order_status_created_idx"),
            # The work queue: open orders oldest first. Partial, so it stays small however
            # many delivered orders pile up.
            models.Index(
                fields=["created_at"],
                name="shop_order_open_created_idx",
                condition=Q(status__in=list(OPEN_ORDER_STATUSES)),
            ),
            # Time windows over all orders (daily revenue, top spenders of the last 30 days):
            # orders are appended in created_at order, so a BRIN of block ranges is a few
            # pages where a B-tree over a million rows would be tens of megabytes.
            BrinIndex(fields=["created_at"], name="shop_order_created_brin"),
        ]
        triggers = [
            touch_trigger(version=True),
            # Illegal moves (delivered -> pending, shipped -> cancelled, ...) fail in the
            # database whoever makes them, with SQLSTATE 23514 like a CHECK constraint.
            TransitionTrigger(
                name="status_transition",
                field="status",
                transitions=[(a, b) for a, moves in ORDER_TRANSITIONS.items() for b in moves],
                constraint="shop_order_status_transition",
            ),
            # total_amount = sum(items.subtotal), checked once per transaction at COMMIT (a
            # deferred constraint trigger), so an order and its items can be written in any
            # order inside one transaction, but never committed out of balance.
            pgtrigger.Trigger(
                name="total_matches_items",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update,
                timing=pgtrigger.Deferred,
                func="""
                PERFORM shop_check_order_total(NEW.id);
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self):
        return f"Order {self.pk}"


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order,
        on_delete=models.CASCADE,  # items exist only as part of their order
        related_name="items",
        db_index=False,  # shop_orderitem_order_product_uniq leads with order_id
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,  # a product that was sold cannot be deleted, only deactivated
        related_name="order_items",
    )  # indexed (Django's default): "who bought this product", and the PROTECT check
    quantity = models.IntegerField()
    unit_price = models.DecimalField(
        max_digits=10, decimal_places=2, db_comment="The product's price when ordered."
    )
    subtotal = models.GeneratedField(
        expression=F("quantity") * F("unit_price"),
        output_field=models.DecimalField(max_digits=12, decimal_places=2),
        db_persist=True,
        db_comment="quantity x unit_price, computed by PostgreSQL (a stored generated column).",
    )

    class Meta:
        db_table_comment = "One product line of an order."
        constraints = [
            # One line per product in an order (quantities add up instead); also the index
            # behind order_id, which every "items of this order" query uses.
            models.UniqueConstraint(
                fields=["order", "product"],
                name="shop_orderitem_order_product_uniq",
                violation_error_message="This product is already a line of the order.",
            ),
            # A line of zero or fewer items is not a line.
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="shop_orderitem_quantity_positive",
                violation_error_message="Quantity must be at least 1.",
            ),
            # Copied from the product's price, which is never negative.
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="shop_orderitem_unit_price_non_negative",
                violation_error_message="Unit price cannot be negative.",
            ),
        ]
        triggers = [
            # The other half of Order.total_matches_items: any change to an item rechecks
            # its order (both orders, if an item is moved) at COMMIT.
            pgtrigger.Trigger(
                name="order_total_matches_items",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                timing=pgtrigger.Deferred,
                func="""
                IF TG_OP <> 'DELETE' THEN PERFORM shop_check_order_total(NEW.order_id); END IF;
                IF TG_OP <> 'INSERT' THEN PERFORM shop_check_order_total(OLD.order_id); END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self):
        # Reads the product: select_related("product") where lines are listed.
        return f"{self.quantity} × {self.product.name} at {self.unit_price}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for order creation: the same key replays the same order.

    The row is claimed (INSERT ... ON CONFLICT DO NOTHING) in the same transaction that
    creates the order, so two racing requests with one key serialise on the unique index and
    the loser replays the winner's order; a failed request rolls its claim back with it.
    """

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,  # keys mean nothing without their user
        related_name="+",
        db_index=False,  # shop_idempotencykey_user_key_uniq leads with user_id
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64,
        db_comment="sha256 of the canonical request body: same key + other body is refused.",
    )
    order = models.ForeignKey(
        Order,
        on_delete=models.CASCADE,  # the key only exists to find this order again
        null=True,
        related_name="+",
        db_comment="Set in the transaction that claims the key; NULL is never committed.",
    )  # indexed (Django's default): the FK check when an order is deleted
    created_at = models.DateTimeField(
        db_default=Now(),
        editable=False,
        db_comment="Claimed at; keys older than IDEMPOTENCY_KEY_TTL_HOURS are new again.",
    )

    class Meta:
        db_table_comment = "Idempotency-Key header of order creation, one row per (user, key)."
        indexes = [
            # The hourly prune's range scan, oldest first (services.idempotency_keys_prune):
            # without it each batch reads the whole table.
            models.Index(fields=["created_at"], name="shop_idemkey_created_idx"),
        ]
        constraints = [
            # Keys are per user (one client cannot replay another's); the unique index is
            # what makes racing requests with the same key wait for each other.
            models.UniqueConstraint(
                fields=["user", "key"], name="shop_idempotencykey_user_key_uniq"
            )
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key}"
