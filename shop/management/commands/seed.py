"""Demo data: users with profiles, a category tree, products and orders with their items.

    manage.py seed                          # the demo shop `make run` loads
    manage.py seed --orders 100000 --seed 7 # bigger, and reproducible
    manage.py seed --if-empty               # only when there are no products yet
    manage.py seed --users 0 --categories 0 --products 0 --orders 5000   # more orders
    manage.py seed --users 100000 --products 50000 --orders 1000000   # the fast path

The command line of shop/seeding/: small loads go through the factories (small.py), large
ones (--orders >= FAST_THRESHOLD, or --fast) are generated inside PostgreSQL (bulk.py), both
from one vocabulary. The same --seed on an empty database writes the same rows. On a database
that already has a catalogue or orders, only orders are added (--users 0 --categories 0
--products 0); any other run is refused at once, before it writes anything. Every path leaves
the cache with nothing stale.
"""

import argparse

from django.core.management.base import BaseCommand, CommandError

from shop.models import Product
from shop.seeding.bulk import NotOwner
from shop.seeding.load import FAST_THRESHOLD, Refused, load


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
        try:
            counts = load(
                users=options["users"],
                categories=options["categories"],
                products=options["products"],
                orders=options["orders"],
                seed=options["seed"],
                batch_size=options["batch_size"],
                fast=options["fast"],
                progress=options["verbosity"] >= 1,
            )
        except (Refused, NotOwner) as error:
            raise CommandError(str(error)) from error
        summary = (
            f"Seeded {counts['users']} users, {counts['categories']} categories, "
            f"{counts['products']} products, {counts['orders']} orders"
        )
        if "seconds" in counts:
            summary += f" ({counts['items']} items) by the fast path in {counts['seconds']:.2f} s"
        self.stdout.write(self.style.SUCCESS(summary + "."))
