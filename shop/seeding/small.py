"""The seed's small path: rows built in Python by the factories (shop/factories.py, the test
suite's own) from the vocabulary's draws, written with bulk_create in batches, one transaction
per batch, behind a progress bar, every trigger on (audit history included). For a live
database; from FAST_THRESHOLD orders on, bulk.py's in-database load is the faster one.

Every random choice goes through factory-boy's generator, reseeded from --seed, so the same
seed on an empty database writes the same rows.
"""

import datetime as dt
from decimal import Decimal

import factory.random
from django.db import transaction
from django.utils import timezone

from shop.factories import (
    CategoryFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
    shipping_address_for,
)
from shop.models import Category, Order, OrderItem, Product, User, UserProfile
from shop.seeding import vocabulary as v
from shop.seeding.progress import Progress


class SmallSeeder:
    def __init__(self, *, seed: int, batch: int, progress: bool):
        factory.random.reseed_random(seed)
        self.rng = factory.random.randgen
        self.batch = batch
        self.progress = Progress(progress)

    def run(self, *, users: int, categories: int, products: int, orders: int) -> dict:
        user_ids = self.users(users)
        category_ids = self.categories(categories)
        product_prices = self.products(products, category_ids)
        self.orders(orders, user_ids, product_prices)
        return {"users": users, "categories": categories, "products": products, "orders": orders}

    def _batches(self, total: int, label: str):
        with self.progress.bar(total, label) as bar:
            for start in range(0, total, self.batch):
                size = min(self.batch, total - start)
                yield start, size
                bar.update(size)

    def users(self, total: int) -> list[int]:
        UserFactory.reset_sequence(User.objects.count())
        ids = []
        for _, size in self._batches(total, "users"):
            with transaction.atomic():
                users = User.objects.bulk_create(UserFactory.build_batch(size))
                UserProfile.objects.bulk_create(
                    UserProfileFactory.build(
                        user=user,
                        first_name=self.rng.choice(v.FIRST_NAMES),
                        last_name=self.rng.choice(v.LAST_NAMES),
                        phone="+44 20 {} {}".format(*self.rng.choices(range(1000, 10000), k=2)),
                        bio="",
                    )
                    for user in users
                )
            ids.extend(user.pk for user in users)
        return ids or list(User.objects.order_by("pk").values_list("pk", flat=True))

    def categories(self, total: int) -> list[int]:
        if not total:
            return list(Category.objects.order_by("pk").values_list("pk", flat=True))
        plan = v.category_plan(total)  # load.py refuses new categories beside existing ones
        with transaction.atomic():
            top = Category.objects.bulk_create(
                CategoryFactory.build(name=name, slug=slug)
                for name, slug, parent in plan
                if parent is None
            )
            children = Category.objects.bulk_create(
                CategoryFactory.build(name=name, slug=slug, parent=top[parent])
                for name, slug, parent in plan
                if parent is not None
            )
        return [category.pk for category in [*top, *children]]

    def product(self, n: int, category_id: int) -> Product:
        cents = self.rng.randint(int(v.MIN_PRICE * 100), int(v.MAX_PRICE * 100))
        words = v.WORDS + v.ADJECTIVES + v.NOUNS
        return ProductFactory.build(
            name=f"{self.rng.choice(v.ADJECTIVES).title()} {self.rng.choice(v.NOUNS)} {n}",
            description=" ".join(self.rng.choices(words, k=v.DESCRIPTION_WORDS)) + ".",
            price=Decimal(cents) / 100,
            stock_quantity=self.rng.randint(0, v.MAX_STOCK),
            tags=self.rng.sample(v.TAGS, k=2),
            attributes={"colour": self.rng.choice(v.COLOURS)},
            is_active=self.rng.random() >= v.INACTIVE_SHARE,
            category_id=category_id,
        )

    def products(self, total: int, categories: list[int]) -> list[tuple[int, Decimal]]:
        offset = Product.objects.count()
        rows = []
        for start, size in self._batches(total, "products"):
            with transaction.atomic():
                rows += Product.objects.bulk_create(
                    self.product(offset + n, self.rng.choice(categories))
                    for n in range(start, start + size)
                )
        if not rows:
            rows = Product.objects.order_by("pk").only("pk", "price")
        return [(product.pk, product.price) for product in rows]

    def orders(self, total: int, users: list[int], products: list[tuple[int, Decimal]]) -> None:
        now = timezone.now()
        statuses, shares = zip(*v.STATUS_MIX.items(), strict=True)
        for _, size in self._batches(total, "orders"):
            orders, lines = [], []
            for _ in range(size):
                count = min(len(products), self.rng.randint(1, v.MAX_LINES))
                chosen = self.rng.sample(products, k=count)
                quantities = [self.rng.randint(1, v.MAX_QUANTITY) for _ in chosen]
                buyer = self.rng.randrange(len(users))
                orders.append(
                    Order(
                        user_id=users[buyer],
                        status=self.rng.choices(statuses, shares)[0],
                        total_amount=sum(
                            (
                                price * qty
                                for (_, price), qty in zip(chosen, quantities, strict=True)
                            ),
                            Decimal("0.00"),
                        ),
                        shipping_address=shipping_address_for(
                            v.ADDRESS_NAMES[buyer % len(v.ADDRESS_NAMES)]
                        ),
                        created_at=now
                        - dt.timedelta(seconds=self.rng.randint(0, v.HISTORY_DAYS * 86400)),
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
