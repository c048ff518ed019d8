"""Demo data: users with profiles, a category tree, products and orders with their items.

    manage.py seed                          # the demo shop `make run` loads
    manage.py seed --orders 100000 --seed 7 # bigger, and reproducible
    manage.py seed --if-empty               # only when there are no products yet
    manage.py seed --users 0 --categories 0 --products 0 --orders 5000   # more orders
    manage.py seed --users 100000 --products 50000 --orders 1000000   # the fast path

Small loads build rows with the factories in shop/factories.py (the same ones the tests use)
and write them with bulk_create in batches, one transaction per batch, behind a progress bar.
The same --seed on an empty database writes the same rows. On a database that already has
a catalogue or orders, only orders are added (--users 0 --categories 0 --products 0); any
other run is refused at once, before it writes anything.

Large loads (--orders >= FAST_THRESHOLD, or --fast) take the fast path, shop/bulk_seed.py:
one transaction that drops the loaded tables' keys, indexes and foreign keys, switches their
triggers off, generates the rows inside PostgreSQL (INSERT ... SELECT over generate_series,
random() seeded from --seed; the items by COPY, their text drawn by a second, read-only
session), puts every key, index, constraint and trigger back and checks
that each order's total is the sum of its items; after COMMIT, VACUUM (ANALYZE). It locks the
shop's tables until it commits and needs their owner: it is for a database nobody uses yet. A seed
is not a business change, so that path writes no audit history: see shop/bulk_seed.py and
docs/performance.md.
"""

import argparse
import datetime as dt
from decimal import Decimal

import factory.random
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from shop import cache
from shop.factories import (
    CategoryFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
    shipping_address_for,
)
from shop.models import Category, Order, OrderItem, Product, User, UserProfile

# From this many orders on, the factories' per-row Faker calls and bulk_create's INSERTs are
# the slow part, and the fast path takes over (docs/performance.md).
FAST_THRESHOLD = 50_000

STATUS_WEIGHTS = {"delivered": 70, "shipped": 10, "processing": 8, "pending": 7, "cancelled": 5}
TOP_CATEGORIES = ["Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Office", "Outdoor"]


def count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value!r}")
    return number


def positive(value: str) -> int:
    number = count(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}")
    return number


class Command(BaseCommand):
    help = "Load demo users, categories, products and orders."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.print_usage = lambda file=None: None  # bad flags: one line, not the usage
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--users", type=count, default=200)
        parser.add_argument("--categories", type=count, default=24)
        parser.add_argument("--products", type=count, default=500)
        parser.add_argument("--orders", type=count, default=2000)
        parser.add_argument("--seed", type=count, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--batch-size",
            type=positive,
            help="rows per transaction (2000); on the fast path, rows per statement (100000)",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when products exist already"
        )
        parser.add_argument(
            "--fast",
            action="store_true",
            help=f"in-database fast path, no history (automatic from {FAST_THRESHOLD} orders)",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Product.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            return
        self.refuse_to_duplicate(options)
        if options["orders"] and not (options["users"] or User.objects.exists()):
            raise CommandError("--orders needs users: pass --users > 0")
        if options["products"] and not (options["categories"] or Category.objects.exists()):
            raise CommandError("--products needs categories: pass --categories > 0")
        if options["orders"] and not (options["products"] or Product.objects.exists()):
            raise CommandError("--orders needs products: pass --products > 0")

        self.show = options["verbosity"] >= 1
        if options["fast"] or options["orders"] >= FAST_THRESHOLD:
            from shop.bulk_seed import BulkSeeder, NotOwner

            seeder = BulkSeeder(
                seed=options["seed"], batch=options["batch_size"] or 100_000, progress=self.show
            )
            try:
                counts = seeder.run(
                    users=options["users"],
                    categories=options["categories"],
                    products=options["products"],
                    orders=options["orders"],
                )
            except NotOwner as error:
                raise CommandError(str(error)) from error
            cache.invalidate_everything()  # the rows were written past the services
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {counts['users']} users, {counts['categories']} categories, "
                    f"{counts['products']} products, {counts['orders']} orders "
                    f"({counts['items']} items) by the fast path in {counts['seconds']:.2f} s."
                )
            )
            return

        factory.random.reseed_random(options["seed"])
        self.rng = factory.random.randgen
        self.batch = options["batch_size"] or 2000

        users = self.seed_users(options["users"])
        categories = self.seed_categories(options["categories"])
        products = self.seed_products(options["products"], categories)
        orders = self.seed_orders(options["orders"], users, products)
        cache.invalidate_everything()  # the rows were written past the services
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(users)} users, {len(categories)} categories, "
                f"{len(products)} products, {orders} orders."
            )
        )

    def refuse_to_duplicate(self, options) -> None:
        """Before any work: on a database that has a catalogue or orders, new categories
        (whose top-level names are fixed) and products would collide with or duplicate the
        ones there, and new users are numbered from a count that need not be the last
        number. Orders alone are added to what is there; anything else is refused."""
        existing = {
            "categories": Category.objects.count(),
            "products": Product.objects.count(),
            "orders": Order.objects.count(),
        }
        adds = [name for name in ("users", "categories", "products") if options[name]]
        if not any(existing.values()) or not adds:
            return
        has = ", ".join(f"{count} {name}" for name, count in existing.items())
        raise CommandError(
            f"the database already has shop data ({has}); pass --if-empty to do nothing "
            "when it has, or --users 0 --categories 0 --products 0 to add only orders to it"
        )

    # ---------------------------------------------------------------- helpers

    def batches(self, total: int, label: str):
        with tqdm(total=total, desc=label, unit="rows", disable=not self.show) as bar:
            for start in range(0, total, self.batch):
                size = min(self.batch, total - start)
                yield start, size
                bar.update(size)

    def seed_users(self, total: int) -> list[int]:
        UserFactory.reset_sequence(User.objects.count())
        ids = []
        for _, size in self.batches(total, "users"):
            with transaction.atomic():
                users = User.objects.bulk_create(UserFactory.build_batch(size))
                UserProfile.objects.bulk_create(
                    UserProfileFactory.build(user=user) for user in users
                )
            ids.extend(user.pk for user in users)
        return ids or list(User.objects.values_list("pk", flat=True))

    def seed_categories(self, total: int) -> list[int]:
        if not total:
            return list(Category.objects.values_list("pk", flat=True))
        CategoryFactory.reset_sequence(Category.objects.count())
        tops = min(total, len(TOP_CATEGORIES))
        with transaction.atomic():
            top = Category.objects.bulk_create(
                CategoryFactory.build(name=name, slug=f"{name.lower()}-{seq}")
                for seq, name in enumerate(TOP_CATEGORIES[:tops], Category.objects.count())
            )
            children = Category.objects.bulk_create(
                CategoryFactory.build(parent=self.rng.choice(top)) for _ in range(total - tops)
            )
        return [category.pk for category in [*top, *children]]

    def seed_products(self, total: int, categories: list[int]) -> list[tuple[int, Decimal]]:
        rows = []
        for _, size in self.batches(total, "products"):
            with transaction.atomic():
                rows += Product.objects.bulk_create(
                    ProductFactory.build(category_id=self.rng.choice(categories))
                    for _ in range(size)
                )
        if not rows:
            rows = Product.objects.only("pk", "price")
        return [(product.pk, product.price) for product in rows]

    def seed_orders(self, total: int, users: list[int], products: list[tuple[int, Decimal]]):
        now = timezone.now()
        statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        for _, size in self.batches(total, "orders"):
            orders, lines = [], []
            for _ in range(size):
                chosen = self.rng.sample(products, k=min(len(products), self.rng.randint(1, 4)))
                quantities = [self.rng.randint(1, 3) for _ in chosen]
                user_id = self.rng.choice(users)
                orders.append(
                    Order(
                        user_id=user_id,
                        status=self.rng.choices(statuses, weights)[0],
                        total_amount=sum(
                            (
                                price * qty
                                for (_, price), qty in zip(chosen, quantities, strict=True)
                            ),
                            Decimal("0.00"),
                        ),
                        shipping_address=shipping_address_for(f"Customer {user_id}"),
                        created_at=now - dt.timedelta(seconds=self.rng.randint(0, 90 * 86400)),
                    )
                )
                lines.append(list(zip(chosen, quantities, strict=True)))
            # Each batch commits whole: the deferred total check runs once per batch, at COMMIT.
            with transaction.atomic():
                Order.objects.bulk_create(orders)
                OrderItem.objects.bulk_create(
                    OrderItem(order=order, product_id=pid, quantity=qty, unit_price=price)
                    for order, order_lines in zip(orders, lines, strict=True)
                    for (pid, price), qty in order_lines
                )
        return total
