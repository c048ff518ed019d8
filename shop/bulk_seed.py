"""The seed's fast path: a million orders in minutes, with COPY (manage.py seed --fast).

How it writes
    Each table is streamed with COPY (psycopg 3's cursor.copy + write_row) through Django's own
    connection, one transaction per batch. Ids are taken from the tables' identity sequences
    first (nextval, one query per batch), so orders and their items are written in one pass
    without reading anything back, and concurrent writers never collide with the seed's ids.
    VACUUM (ANALYZE) runs at the end, so the planner's statistics (and the admin's count
    estimates) describe the loaded data at once, and index-only scans work from the start.

Audit history
    A seed is not a business change: recording 4 million "insert" events would double the
    load's size and time and bury real history. The seed's own transactions skip the audit
    triggers with pgtrigger.ignore (a transaction-local setting: every other session's
    writes, during the load too, are recorded as usual; nothing is ALTERed). The load leaves
    one marker instead: a pghistory_context row whose metadata is
    {"via": "command", "command": "seed", "bulk": true, "counts": {...}} — when, and how much,
    was loaded without history. An object's history starts at its first real change.

The order-total invariant
    The deferred trigger (total_amount = sum of the items' subtotals, at COMMIT) would run
    one query per order. The fast path skips it for its own transactions and instead runs one
    set-based check per batch, before that batch commits: any order of the batch out of
    balance raises, the batch rolls back, and the command fails. The other triggers (status
    transitions, touch) fire on UPDATE only, and every CHECK and foreign key stays on.

Determinism
    Every value comes from random.Random(seed), so the same --seed on an empty database writes
    the same rows (created_at is relative to the moment of the load).
"""

import datetime as dt
import json
import random
import time
from decimal import Decimal

import pgtrigger
from django.db import connection, transaction
from django.utils import timezone
from pghistory.models import Context
from tqdm import tqdm

from audit.models import EVENT_MODELS
from shop.models import Category, Order, OrderItem, Product, User, UserProfile

STATUSES = ("delivered", "shipped", "processing", "pending", "cancelled")
STATUS_WEIGHTS = (70, 10, 8, 7, 5)
TOP_CATEGORIES = ["Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Office", "Outdoor"]
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman"]
ADJECTIVES = ["walnut", "oak", "steel", "linen", "ceramic", "bamboo", "copper", "wool", "glass"]
NOUNS = ["desk", "lamp", "chair", "mug", "kettle", "shelf", "rug", "clock", "vase", "table"]
WORDS = ["sturdy", "handmade", "classic", "compact", "durable", "light", "modern", "quiet"]
TAGS = ["new", "sale", "eco", "gift", "bestseller", "limited"]
HISTORY_DAYS = 90  # orders are spread over the last 90 days, oldest first (ids follow time)

# The audit triggers of every tracked table, and the two halves of the deferred total check.
SKIPPED_TRIGGERS = [
    *(
        f"{m.pgh_tracked_model._meta.label}:{name}"
        for m in EVENT_MODELS
        for name in ("audit_insert", "audit_update", "audit_delete")
    ),
    "shop.Order:total_matches_items",
    "shop.OrderItem:order_total_matches_items",
]

# Orders of the batch [first, last] out of balance: must be none. A correlated subquery per
# order, read from shop_orderitem_order_product_uniq: a plan that does not depend on
# statistics (the tables were just loaded, not yet analysed; a join planned on stale
# statistics took 6 s for a batch of 20,000 orders, this takes milliseconds).
# Positional parameters, as pgtrigger.ignore prepends a "%s" of its own.
UNBALANCED_SQL = """
SELECT o.id
  FROM shop_order o
 WHERE o.id BETWEEN %s AND %s
   AND o.total_amount <> (SELECT coalesce(sum(i.subtotal), 0)
                            FROM shop_orderitem i
                           WHERE i.order_id = o.id)
 LIMIT 1
"""


class UnbalancedOrder(Exception):
    pass


def _columns(model, *names: str) -> str:
    return ", ".join(model._meta.get_field(name).column for name in names)


class BulkSeeder:
    def __init__(self, *, seed: int, batch: int, progress: bool):
        self.rng = random.Random(seed)  # noqa: S311 -- demo data, reproducible by design
        self.batch = batch
        self.progress = progress

    # ---------------------------------------------------------------- plumbing

    def _ids(self, model, count: int) -> list[int]:
        """count fresh ids from the table's identity sequence (gaps are harmless)."""
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]

    def _copy(self, model, columns: str, rows) -> None:
        sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def _batches(self, total: int, label: str):
        with tqdm(total=total, desc=label, unit="rows", disable=not self.progress) as bar:
            for start in range(0, total, self.batch):
                size = min(self.batch, total - start)
                # pgtrigger.ignore sets its flag per statement, local to the transaction:
                # only this batch's transaction skips the triggers.
                with pgtrigger.ignore(*SKIPPED_TRIGGERS), transaction.atomic():
                    yield start, size
                bar.update(size)

    # ---------------------------------------------------------------- tables

    def users(self, total: int) -> list[int]:
        offset = User.objects.count()
        user_cols = _columns(
            User,
            "id",
            "password",
            "is_superuser",
            "username",
            "email",
            "is_staff",
            "is_active",
            "status",
        )
        profile_cols = _columns(UserProfile, "user", "first_name", "last_name", "phone", "bio")
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        all_ids = []
        for start, size in self._batches(total, "users"):
            ids = self._ids(User, size)
            rng = self.rng
            users, profiles = [], []
            for n, pk in enumerate(ids, offset + start):
                name = f"user{n}"
                # "!" + random: an unusable password, as make_password(None) writes.
                password = "!" + "".join(rng.choices(alphabet, k=40))
                users.append(
                    (pk, password, False, name, f"{name}@example.com", False, True, "active")
                )
                profiles.append(
                    (
                        pk,
                        rng.choice(FIRST_NAMES),
                        rng.choice(LAST_NAMES),
                        f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                        "",
                    )
                )
            self._copy(User, user_cols, users)
            self._copy(UserProfile, profile_cols, profiles)
            all_ids += ids
        return all_ids or list(User.objects.values_list("pk", flat=True))

    def categories(self, total: int) -> list[int]:
        if not total:
            return list(Category.objects.values_list("pk", flat=True))
        offset = Category.objects.count()
        tops = min(total, len(TOP_CATEGORIES))
        with pgtrigger.ignore(*SKIPPED_TRIGGERS), transaction.atomic():
            top = Category.objects.bulk_create(
                Category(name=name, slug=f"{name.lower()}-{n}")
                for n, name in enumerate(TOP_CATEGORIES[:tops], offset)
            )
            children = Category.objects.bulk_create(
                Category(name=f"Category {n}", slug=f"category-{n}", parent=self.rng.choice(top))
                for n in range(offset + tops, offset + total)
            )
        return [category.pk for category in [*top, *children]]

    def products(self, total: int, categories: list[int]) -> list[tuple[int, Decimal]]:
        cols = _columns(
            Product,
            "id",
            "name",
            "description",
            "price",
            "stock_quantity",
            "tags",
            "attributes",
            "is_active",
            "category",
        )
        out = []
        offset = Product.objects.count()
        for start, size in self._batches(total, "products"):
            rng = self.rng
            rows = []
            for n, pk in enumerate(self._ids(Product, size), offset + start):
                name = f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS)} {n}"
                description = " ".join(rng.choices(WORDS + ADJECTIVES + NOUNS, k=12)) + "."
                price = Decimal(rng.randint(100, 50000)) / 100
                rows.append(
                    (
                        pk,
                        name,
                        description,
                        price,
                        rng.randint(0, 200),
                        rng.sample(TAGS, 2),
                        json.dumps({"colour": rng.choice(["blue", "red", "green"])}),
                        rng.random() >= 0.05,  # 5% inactive: the partial indexes matter
                        rng.choice(categories),
                    )
                )
                out.append((pk, price))
            self._copy(Product, cols, rows)
        return out or [(p.pk, p.price) for p in Product.objects.only("pk", "price")]

    def orders(self, total: int, users: list[int], products: list[tuple[int, Decimal]]) -> int:
        order_cols = _columns(
            Order,
            "id",
            "created_at",
            "updated_at",
            "status",
            "total_amount",
            "shipping_address",
            "user",
        )
        item_cols = _columns(OrderItem, "id", "order", "product", "quantity", "unit_price")
        start_at = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
        span = HISTORY_DAYS * 86400
        address = {"line1": "1 High Street", "city": "London", "postal_code": "N1 9GU"}
        items_written = 0
        for start, size in self._batches(total, "orders"):
            rng = self.rng
            order_ids = self._ids(Order, size)
            orders, lines = [], []
            for n, pk in enumerate(order_ids, start):
                chosen = rng.sample(products, k=min(len(products), rng.randint(1, 5)))
                quantities = [rng.randint(1, 3) for _ in chosen]
                user_id = rng.choice(users)
                # Time follows the id (plus up to a minute of jitter): as a live shop's would.
                created = start_at + dt.timedelta(seconds=n * span / total + rng.random() * 60)
                orders.append(
                    (
                        pk,
                        created,
                        created,
                        rng.choices(STATUSES, STATUS_WEIGHTS)[0],
                        sum(
                            (price * q for (_, price), q in zip(chosen, quantities, strict=True)),
                            Decimal("0.00"),
                        ),
                        json.dumps({"name": f"Customer {user_id}", "country": "GB", **address}),
                        user_id,
                    )
                )
                lines += [
                    (pk, pid, q, price) for (pid, price), q in zip(chosen, quantities, strict=True)
                ]
            item_ids = self._ids(OrderItem, len(lines))
            self._copy(Order, order_cols, orders)
            self._copy(
                OrderItem, item_cols, ((i, *line) for i, line in zip(item_ids, lines, strict=True))
            )
            items_written += len(lines)
            self.verify(first=order_ids[0], last=order_ids[-1])
        self.items = items_written
        return total

    def verify(self, *, first: int, last: int) -> None:
        """The deferred total check, set-based, for one batch: raises before it commits."""
        with connection.cursor() as cursor:
            cursor.execute(UNBALANCED_SQL, [first, last])
            row = cursor.fetchone()
        if row is not None:
            raise UnbalancedOrder(f"order {row[0]}: total_amount is not the sum of its items")

    # ---------------------------------------------------------------- the load

    def run(self, *, users: int, categories: int, products: int, orders: int) -> dict:
        began = time.perf_counter()
        self.items = 0
        user_ids = self.users(users)
        category_ids = self.categories(categories)
        product_rows = self.products(products, category_ids)
        self.orders(orders, user_ids, product_rows)
        counts = {
            "users": users,
            "categories": categories,
            "products": products,
            "orders": orders,
            "items": self.items,
        }
        with transaction.atomic():
            Context.objects.create(
                metadata={"via": "command", "command": "seed", "bulk": True, "counts": counts}
            )
        # VACUUM sets the visibility map too, so index-only scans (the admin's capped counts)
        # need no heap visits from the start; inside a transaction (tests) only ANALYZE can run.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in (User, UserProfile, Category, Product, Order, OrderItem):
                cursor.execute(f"{command} {model._meta.db_table}")
        return {**counts, "seconds": time.perf_counter() - began}
