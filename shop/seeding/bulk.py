"""The seed's fast path: a million orders in well under a minute (manage.py seed --fast).

What it writes is vocabulary.py's, as the small path's is: the same words, sizes and mixes.

How it writes
    PostgreSQL's own advice for a bulk load ("Populating a Database" in its manual), all in
    ONE transaction, so the load is all or nothing and every rule is checked before COMMIT:

    1. lock the loaded tables, remember their indexes, keys and the foreign keys into and
       out of them from pg_catalog, drop them, and DISABLE TRIGGER USER (audit, touch,
       status, the deferred total check);
    2. generate the rows inside the server, with PostgreSQL's random() seeded by setseed()
       from --seed, a statement per batch of --batch-size orders behind a progress bar:
       users, profiles, products and orders by INSERT ... SELECT over generate_series (no
       row crosses the network); the items, the most rows, by COPY, their text drawn by a
       second, read-only session from the same draws as the orders (the same setseed(),
       the same DRAW_SQL), on the other core while this session writes the orders, as
       `pgbench -i`'s client draws rows while its server writes them;
    3. re-create the keys, indexes and constraints from their saved definitions: each index
       is built in one sorted pass (maintenance_work_mem), each foreign key validated by one
       anti-join, each primary key and unique index checks the whole table;
    4. ENABLE TRIGGER USER, then one set-based check that every order's total is the sum
       of its items (the deferred trigger's rule: it also proves the two sessions drew the
       same orders); COMMIT; VACUUM (ANALYZE) over both sessions, as
       `vacuumdb --analyze --jobs 2` would: statistics for the planner, and index-only scans
       with no heap visits from the start.

    The catalogue after the load is exactly the one before it (tests/shop/test_seed.py
    compares pg_indexes, pg_constraint and the triggers' states). The price: ALTER TABLE
    takes ACCESS EXCLUSIVE locks on the loaded tables (users, profiles, categories,
    products, orders, items), and on the tables whose foreign keys point at them (tokens,
    idempotency keys, the admin log, group and permission links), until COMMIT, so other
    sessions wait for the load, and only the tables' owner (the migrating role) can run it.
    This path is for loading a database nobody is using yet: development, benchmarks, a new
    staging copy. The small path (factories, bulk_create, every trigger on) is the one for a
    live database.

Audit history
    A seed is not a business change: recording 4 million "insert" events would double the
    load's size and time and bury real history. The audit triggers are disabled for the
    load's own transaction (ALTER TABLE is transactional: no other session ever sees them
    off; they wait on the lock and are recorded as usual afterwards). The load leaves one
    marker instead: a pghistory_context row whose metadata is
    {"via": "command", "command": "seed", "bulk": true, "counts": {...}} — when, and how much,
    was loaded without history. An object's history starts at its first real change.

Determinism
    setseed() takes a value derived from --seed (once for users and products, once per
    batch of orders, in both sessions), and every random() call runs in an order fixed by
    the statements (generate_series order, never a hash table's), so the same --seed on an
    empty database writes the same rows (created_at is relative to the moment of the load;
    ids come from the identity sequences).
"""

import datetime as dt
import itertools
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone
from pghistory.models import Context

from shop.factories import shipping_address_for
from shop.models import Category, Order, OrderItem, Product, User, UserProfile
from shop.seeding.progress import Progress
from shop.seeding.vocabulary import (
    ADDRESS_NAMES,
    ADJECTIVES,
    COLOURS,
    DESCRIPTION_WORDS,
    FIRST_NAMES,
    HISTORY_DAYS,
    INACTIVE_SHARE,
    LAST_NAMES,
    MAX_LINES,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_STOCK,
    MIN_PRICE,
    NOUNS,
    STATUS_MIX,
    TAGS,
    WORDS,
    category_plan,
)

# The tables the load writes (categories are few, and written with bulk_create).
LOADED = [User, UserProfile, Category, Product, Order, OrderItem]

# Sorts, hashes and index builds of a load this size want more memory than a web request.
LOAD_SETTINGS = "SET LOCAL work_mem = '128MB'; SET LOCAL maintenance_work_mem = '512MB'"

# Everything the load drops, as the statements that put it back, read from pg_catalog:
# foreign keys leaving or entering the loaded tables (an entering one leans on a primary key),
# primary keys, unique and exclusion constraints, and the other indexes. Maintaining a primary
# key row by row cost as much as writing the row itself (items: 170 of 310 ms at 150,000 rows);
# building it afterwards, one sorted pass. Partial indexes stay: they are small, and a predicate
# does not always come back from pg_get_indexdef() as the same text (status IN (...) returns
# with its casts moved), which would leave the schema subtly different.
DROPPED_SQL = """
SELECT 'fk', c.conrelid::regclass::text, c.conname,
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid))
  FROM pg_constraint c
 WHERE (c.conrelid = ANY(%s::regclass[]) OR c.confrelid = ANY(%s::regclass[]))
   AND c.contype = 'f'
UNION ALL
SELECT 'constraint', c.conrelid::regclass::text, c.conname,
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid))
  FROM pg_constraint c
 WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('p', 'u', 'x')
UNION ALL
SELECT 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text,
       pg_get_indexdef(i.indexrelid)
  FROM pg_index i
 WHERE i.indrelid = ANY(%s::regclass[]) AND i.indpred IS NULL
   AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""

# Users and their profiles, one statement per batch; the new ids go to the seed_user pool.
USERS_SQL = """
WITH new_user AS (
  INSERT INTO shop_user (id, password, is_superuser, username, email, is_staff, is_active, status)
  SELECT %s + n - %s,
         -- "!" + random: an unusable password, as make_password(None) writes
         '!' || left(md5(random()::text) || md5(random()::text), 40),
         false, 'user' || n, 'user' || n || '@example.com', false, true, 'active'
    FROM generate_series(%s::bigint, %s::bigint) AS n
   ORDER BY n
  RETURNING id
), profile AS (
  INSERT INTO shop_userprofile (user_id, first_name, last_name, phone, bio)
  SELECT id,
         (%s::text[])[1 + floor(random() * cardinality(%s::text[]))::int],
         (%s::text[])[1 + floor(random() * cardinality(%s::text[]))::int],
         format('+44 20 %%s %%s', 1000 + floor(random() * 9000), 1000 + floor(random() * 9000)),
         ''
    FROM new_user ORDER BY id
)
INSERT INTO seed_user (id) SELECT id FROM new_user ORDER BY id
"""

# Products: a name, DESCRIPTION_WORDS words of description, a price from MIN_PRICE to
# MAX_PRICE, 0 to MAX_STOCK in stock, two distinct tags, INACTIVE_SHARE of them inactive (the
# partial indexes matter). The new ids and prices go to the seed_product pool.
PRODUCTS_SQL = """
WITH pick AS MATERIALIZED (
  SELECT n,
         %(id)s + n - %(first)s AS id,
         initcap((%(adjectives)s::text[])[1 + floor(random() * cardinality(%(adjectives)s::text[]))::int])
           || ' ' || (%(nouns)s::text[])[1 + floor(random() * cardinality(%(nouns)s::text[]))::int]
           || ' ' || n AS name,
         (SELECT string_agg((%(words)s::text[])[1 + floor(random() * cardinality(%(words)s::text[]))::int], ' ')
            FROM generate_series(1, %(description_words)s + 0 * n)) || '.' AS description,
         ((%(min_cents)s + floor(random() * (%(max_cents)s - %(min_cents)s + 1))) / 100)::numeric(10, 2) AS price,
         floor(random() * (%(max_stock)s + 1))::int AS stock,
         floor(random() * cardinality(%(tags)s::text[]))::int AS tag1,
         1 + floor(random() * (cardinality(%(tags)s::text[]) - 1))::int AS tag2,
         (%(colours)s::text[])[1 + floor(random() * cardinality(%(colours)s::text[]))::int] AS colour,
         random() >= %(inactive_share)s AS is_active,
         (%(categories)s::bigint[])[1 + floor(random() * cardinality(%(categories)s::bigint[]))::int] AS category_id
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
), new_product AS (
  INSERT INTO shop_product (id, name, description, price, stock_quantity, tags, attributes,
                            is_active, category_id)
  SELECT id, name, description, price, stock,
         ARRAY[(%(tags)s::text[])[1 + tag1],
               (%(tags)s::text[])[1 + (tag1 + tag2) %% cardinality(%(tags)s::text[])]],
         jsonb_build_object('colour', colour), is_active, category_id
    FROM pick ORDER BY n
  RETURNING id, price
)
INSERT INTO seed_product (id, price) SELECT id, price FROM new_product ORDER BY id
"""  # noqa: E501 -- a draw per line reads better than a draw split across three

# Orders and their items, a batch of --batch-size orders at a time, written by two sessions
# at once, as `pgbench -i`'s client and server share its load. Each order's draws (lines,
# first product, buyer, status, time jitter, five quantities) come from DRAW_SQL after the
# same setseed() in both sessions, so both see the same orders. The load's own session
# INSERTs the orders (ORDERS_SQL); a second, read-only session turns the draws into the
# items' rows as COPY text (ITEMS_SQL), and the load's session COPYs them in: COPY writes
# a page of rows per WAL record, where INSERT ... SELECT writes one per row (the items took
# 187 ms as INSERT ... SELECT, 87 ms as COPY, at 150,000 rows), and the generating runs on
# the machine's other core meanwhile. An order's lines take evenly spaced products from its
# first (so never the same one twice) with the first `lines` quantities. Both sessions read
# the product pool as arrays (ids, and prices in cents: fixed-width elements, so a subscript
# is one step, where a numeric[]'s walks from the start), so the order's total and its items
# are plain arithmetic on the same draws; the total check after the load proves the two
# sessions agreed. Time follows the id (plus up to a minute of jitter), as a live shop's
# would; item ids are dense, numbered by a running count of lines.
DRAW_SQL = """
draw AS MATERIALIZED (  -- each random() once per order, in generate_series order
  SELECT n,
         %(order_id)s + n AS id,
         least(%(products)s, 1 + floor(random() * {max_lines})::int) AS lines,
         floor(random() * %(products)s)::int AS first_product,
         floor(random() * %(users)s)::int AS user_n,
         random() AS status_roll,
         random() * 60 AS jitter,
         ARRAY[{quantities}] AS quantity
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
)"""
LINE_CENTS = (  # one line's price x quantity in cents, or 0 past the order's last line
    "CASE WHEN lines > {k} THEN "
    "pool.cents[1 + (first_product + {k} * %(stride)s) %% %(products)s] * quantity[{k} + 1] "
    "ELSE 0 END"
)
ORDERS_SQL = """
WITH pool AS MATERIALIZED (
  SELECT (SELECT array_agg(id ORDER BY n) FROM seed_user) AS user_id, %(cents)s::int[] AS cents
), {draw}, pick AS (
  SELECT draw.*, pool.user_id[1 + user_n] AS user_id, ({line_cents}) * 0.01 AS total,
         %(start)s::timestamptz
           + make_interval(secs => n * %(span)s::float8 / %(total)s + jitter) AS created
    FROM draw, pool
), new_order AS (
  INSERT INTO shop_order (id, created_at, updated_at, status, total_amount, shipping_address,
                          user_id)
  SELECT pick.id, created, created,
         -- STATUS_MIX: the bucket of the roll among the shares' running totals
         (%(statuses)s::text[])[1 + width_bucket(status_roll, %(status_bounds)s::float8[])],
         pick.total,
         -- a buyer always ships to the same one of ADDRESSES: picking a ready-made jsonb
         -- costs a tenth of building one per order (4 ms against 40 ms for 50,000)
         (%(addresses)s::jsonb[])[1 + user_n %% %(address_count)s],
         user_id
    FROM pick  -- in id order: the table's physical order follows time
)
SELECT sum(lines) FROM draw
"""
# The items of the same draws, as the text COPY reads: tab-separated columns, a line a row,
# every value a number (nothing to escape). An order's lines are built in one expression,
# one CASE per possible line, rather than a row per line: a third less time. Run by the
# generating session.
ITEM_LINE = (
    "CASE WHEN lines > {k} THEN concat_ws(E'\\t', item_id + {k}, id, "
    "pool.product_id[1 + (first_product + {k} * %(stride)s) %% %(products)s], quantity[{k} + 1], "
    "pool.cents[1 + (first_product + {k} * %(stride)s) %% %(products)s] * 0.01) || E'\\n' END"
)
ITEMS_SQL = """
WITH pool AS MATERIALIZED (
  SELECT %(product_id)s::bigint[] AS product_id, %(cents)s::int[] AS cents
), {draw}, numbered AS (
  -- the lines of the batch's earlier orders: where this order's item ids start
  SELECT *, %(item_id)s + sum(lines) OVER (ORDER BY n ROWS UNBOUNDED PRECEDING) - lines AS item_id
    FROM draw
)
SELECT string_agg(concat({item_lines}), '') FROM numbered, pool
"""
COPY_ITEMS = "COPY shop_orderitem (id, order_id, product_id, quantity, unit_price) FROM STDIN"
# STATUS_MIX as the lower bounds of its buckets after the first: a roll in [0, 1) below the
# first bound is the first status, and so on (width_bucket in ORDERS_SQL).
_shares = list(itertools.accumulate(STATUS_MIX.values()))
STATUS_BOUNDS = [share / _shares[-1] for share in _shares[:-1]]
# The shipping addresses orders pick from, one per name the profiles draw from.
ADDRESSES = [json.dumps(shipping_address_for(name)) for name in ADDRESS_NAMES]

# The deferred trigger's rule, for every order the load wrote, in one pass: orders whose
# total is not the sum of their items (or that have no items at all).
UNBALANCED_SQL = """
SELECT o.id
  FROM shop_order o
  LEFT JOIN (SELECT order_id, sum(subtotal) AS total
               FROM shop_orderitem WHERE order_id >= %s GROUP BY order_id) i
    ON i.order_id = o.id
 WHERE o.id >= %s AND o.total_amount IS DISTINCT FROM i.total
 LIMIT 1
"""


class UnbalancedOrder(Exception):
    pass


class NotOwner(Exception):
    pass


def _tables(models) -> list[str]:
    return [model._meta.db_table for model in models]


class BulkSeeder:
    def __init__(self, *, seed: int, batch: int, progress: bool):
        self.rng = random.Random(seed)  # noqa: S311 -- demo data, reproducible by design
        self.batch = batch
        self.progress = Progress(progress)
        self.second: ThreadPoolExecutor | None = None  # the second session, during run()

    # ---------------------------------------------------------------- plumbing

    def _execute(self, sql: str, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else None

    def _reserve(self, model, count: int) -> int:
        """The first of count consecutive ids, drawn from the table's identity sequence in one
        call instead of a nextval() per row (measured: 40% of an item's insert time). Safe as the
        load holds the table's ACCESS EXCLUSIVE lock: no other session inserts meanwhile."""
        table = model._meta.db_table
        sequence = self._execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
        last = self._execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, count])
        return last[0][0] - count + 1

    def _batches(self, total: int, label: str):
        with self.progress.bar(total, label) as bar:
            for first in range(0, total, self.batch):
                size = min(self.batch, total - first)
                yield first, first + size - 1
                bar.update(size)

    def _prepare(self) -> list[tuple[str, str, str, str]]:
        """Drop what the load rebuilds and switch the user triggers off, in this transaction."""
        rebuilt = _tables(LOADED)
        dropped = self._execute(DROPPED_SQL, [rebuilt] * 4)
        try:
            for table in _tables(LOADED):
                self._execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        except ProgrammingError as error:  # InsufficientPrivilege: "must be owner of table"
            raise NotOwner(
                "the fast path alters the shop's tables: run it as their owner "
                f"(the role that migrates), not as {connection.settings_dict['USER']!r}"
            ) from error
        # Foreign keys first: a primary key or unique index may not go while one leans on it.
        for kind, table, name, _ in sorted(dropped, key=lambda row: row[0] != "fk"):
            if kind == "index":
                self._execute(f"DROP INDEX {name}")  # regclass text: quoted as needed
            else:
                self._execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for pool, columns in (("seed_user", ""), ("seed_product", ", price numeric NOT NULL")):
            self._execute(
                f"CREATE TEMP TABLE {pool} (n int GENERATED ALWAYS AS IDENTITY "
                f"(MINVALUE 0 START WITH 0) PRIMARY KEY, id bigint NOT NULL{columns}) "
                "ON COMMIT DROP"
            )
        return dropped

    def _restore(self, dropped) -> None:
        # Keys and indexes before the foreign keys that lean on them.
        for _, _, _, statement in sorted(dropped, key=lambda row: row[0] == "fk"):
            self._execute(statement)
        for table in _tables(LOADED):
            self._execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        self._execute("DROP TABLE seed_user, seed_product")

    # ---------------------------------------------------------------- tables

    def users(self, total: int) -> None:
        offset = User.objects.count()
        for first, last in self._batches(total, "users"):
            self._execute(
                USERS_SQL,
                [
                    self._reserve(User, last - first + 1),
                    offset + first,
                    offset + first,
                    offset + last,
                    FIRST_NAMES,
                    FIRST_NAMES,
                    LAST_NAMES,
                    LAST_NAMES,
                ],
            )
        if not total:  # orders for the users already there
            self._execute("INSERT INTO seed_user (id) SELECT id FROM shop_user ORDER BY id")

    def categories(self, total: int) -> list[int]:
        if not total:
            return list(Category.objects.order_by("pk").values_list("pk", flat=True))
        plan = category_plan(total)  # load.py refuses new categories beside existing ones
        top = Category.objects.bulk_create(
            Category(name=name, slug=slug) for name, slug, parent in plan if parent is None
        )
        children = Category.objects.bulk_create(
            Category(name=name, slug=slug, parent=top[parent])
            for name, slug, parent in plan
            if parent is not None
        )
        return [category.pk for category in [*top, *children]]

    def products(self, total: int, categories: list[int]) -> None:
        offset = Product.objects.count()
        vocabulary = {
            "adjectives": ADJECTIVES,
            "nouns": NOUNS,
            "words": WORDS + ADJECTIVES + NOUNS,
            "description_words": DESCRIPTION_WORDS,
            "min_cents": int(MIN_PRICE * 100),
            "max_cents": int(MAX_PRICE * 100),
            "max_stock": MAX_STOCK,
            "tags": TAGS,
            "colours": COLOURS,
            "inactive_share": INACTIVE_SHARE,
            "categories": categories,
        }
        for first, last in self._batches(total, "products"):
            self._execute(
                PRODUCTS_SQL,
                {
                    **vocabulary,
                    "id": self._reserve(Product, last - first + 1),
                    "first": offset + first,
                    "last": offset + last,
                },
            )
        if not total:
            self._execute(
                "INSERT INTO seed_product (id, price) "
                "SELECT id, price FROM shop_product ORDER BY id"
            )

    def orders(self, total: int) -> int:
        if not total:
            return 0
        users = self._execute("SELECT count(*) FROM seed_user")[0][0]
        products, product_ids, cents = self._execute(
            "SELECT count(*), array_agg(id ORDER BY n), array_agg((price * 100)::int ORDER BY n) "
            "FROM seed_product"
        )[0]
        draw = DRAW_SQL.format(
            max_lines=MAX_LINES,
            quantities=", ".join([f"1 + floor(random() * {MAX_QUANTITY})::int"] * MAX_LINES),
        )
        orders_sql = ORDERS_SQL.format(
            draw=draw,
            line_cents=" + ".join(LINE_CENTS.format(k=k) for k in range(MAX_LINES)),
        )
        items_sql = ITEMS_SQL.format(
            draw=draw, item_lines=", ".join(ITEM_LINE.format(k=k) for k in range(MAX_LINES))
        )
        first_order = self._reserve(Order, total)
        # More than enough item ids; the unused ones go back to the sequence at the end.
        first_item = next_item = self._reserve(OrderItem, total * MAX_LINES)
        start = timezone.now() - dt.timedelta(days=HISTORY_DAYS)
        batches = [
            {
                "first": first,
                "last": min(first + self.batch, total) - 1,
                "seed": self.rng.uniform(-1, 1),  # both sessions' random() for this batch
                "order_id": first_order,
                "total": total,
                "users": users,
                "products": products,
                "cents": cents,  # the product pool's prices, read once, for both sessions
                # k * stride for k < 5 stays below the pool's size: distinct products
                "stride": max(1, products // MAX_LINES),
            }
            for first in range(0, total, self.batch)
        ]

        def item_rows(batch: dict, item_id: int) -> str | None:
            """The generating session's part, on its own connection (this thread's)."""
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(LOAD_SETTINGS)
                cursor.execute("SELECT setseed(%s)", [batch["seed"]])
                params = {**batch, "item_id": item_id, "product_id": product_ids}
                cursor.execute(items_sql, params)
                return cursor.fetchone()[0]

        bar = self.progress.bar(total, "orders")
        try:
            rows = self.second.submit(item_rows, batches[0], next_item)
            for number, batch in enumerate(batches):
                self._execute("SELECT setseed(%s)", [batch["seed"]])
                lines = self._execute(
                    orders_sql,
                    {
                        **batch,
                        "start": start,
                        "span": HISTORY_DAYS * 86400,
                        "addresses": ADDRESSES,
                        "address_count": len(ADDRESSES),
                        "statuses": list(STATUS_MIX),
                        "status_bounds": STATUS_BOUNDS,
                    },
                )[0][0]
                upcoming = None
                if number + 1 < len(batches):  # drawn while this batch's items are copied
                    upcoming = self.second.submit(item_rows, batches[number + 1], next_item + lines)
                with connection.cursor() as cursor, cursor.copy(COPY_ITEMS) as copy:
                    copy.write(rows.result())
                rows, next_item = upcoming, next_item + lines
                bar.update(batch["last"] - batch["first"] + 1)
        finally:
            bar.close()
        self._execute(
            "SELECT setval(pg_get_serial_sequence('shop_orderitem', 'id'), %s)", [next_item - 1]
        )
        return next_item - first_item

    def verify(self, first_order: int) -> None:
        """The deferred total check, set-based, for every order written: raises before COMMIT.

        The loaded tables have no statistics yet (ANALYZE comes after COMMIT), so the planner
        cannot know that the items lie in order_id order and hashes 50,000 groups; told not to
        hash or sort, it streams the sums from the items' (order_id, product_id) index beside
        the orders' primary key (a merge join): 45 ms against 75 ms at 50,000 orders."""
        self._execute("SET LOCAL enable_hashagg = off; SET LOCAL enable_sort = off")
        row = self._execute(UNBALANCED_SQL, [first_order, first_order])
        # Back to the defaults for the rest of the transaction only (a RESET would be the
        # session's, which a transaction pooler hands to the next client).
        self._execute("SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL enable_sort TO DEFAULT")
        if row:
            raise UnbalancedOrder(f"order {row[0][0]}: total_amount is not the sum of its items")

    # ---------------------------------------------------------------- the load

    def run(self, *, users: int, categories: int, products: int, orders: int) -> dict:
        began = time.perf_counter()
        # The second session: a thread with its own connection (connecting while this one
        # prepares), which draws the items and then shares the closing VACUUM (ANALYZE).
        self.second = ThreadPoolExecutor(1, thread_name_prefix="seed-second-session")
        self.second.submit(lambda: connection.ensure_connection())
        try:
            counts = self._load(
                users=users, categories=categories, products=products, orders=orders
            )
            if connection.in_atomic_block:  # inside a caller's transaction VACUUM cannot run
                with self.progress.phase("ANALYZE"):
                    for table in _tables(LOADED):
                        self._execute(f"ANALYZE {table}")
            else:
                self.vacuum_analyze()
        finally:
            self.second.submit(lambda: connection.close())  # that thread's own connection
            self.second.shutdown()
        return {**counts, "seconds": time.perf_counter() - began}

    def _load(self, *, users: int, categories: int, products: int, orders: int) -> dict:
        with transaction.atomic():
            self._execute(LOAD_SETTINGS)
            # Read while the primary key is there to answer it.
            first_order = self._execute(
                "SELECT coalesce(max(id), 0) + 1 FROM shop_order"
            )[0][0]  # fmt: skip
            with self.progress.phase("dropping keys and indexes, triggers off"):
                dropped = self._prepare()
            # PostgreSQL's random() from here on follows --seed.
            self._execute("SELECT setseed(%s)", [self.rng.uniform(-1, 1)])
            self.users(users)
            category_ids = self.categories(categories)
            self.products(products, category_ids)
            items = self.orders(orders)
            with self.progress.phase("rebuilding keys and indexes, triggers on"):
                self._restore(dropped)
            with self.progress.phase("checking every order's total"):
                self.verify(first_order)
            counts = {
                "users": users,
                "categories": categories,
                "products": products,
                "orders": orders,
                "items": items,
            }
            Context.objects.create(
                metadata={"via": "command", "command": "seed", "bulk": True, "counts": counts}
            )
        return counts

    def vacuum_analyze(self) -> None:
        """VACUUM (ANALYZE) the loaded tables over both sessions, biggest first, as
        `vacuumdb --analyze --jobs 2` does: statistics for the planner, and the visibility map,
        so index-only scans (the admin's capped counts) need no heap visits from the start."""
        biggest_first = self._execute(
            "SELECT t FROM unnest(%s::text[]) AS t ORDER BY pg_relation_size(t) DESC",
            [_tables(LOADED)],
        )
        names = [row[0] for row in biggest_first]
        tables = iter(names)  # shared: each table is taken once

        def job(bar) -> None:
            for table in tables:
                with connection.cursor() as cursor:  # the running thread's own connection
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
                bar.update(1)

        with self.progress.bar(len(names), "VACUUM (ANALYZE)", unit="tables") as bar:
            other = self.second.submit(job, bar)
            job(bar)
            other.result()  # its error, raised here
