"""Create, once, a demo login that `make run` prints: the staff one or a shopper.

    DEMO_PASSWORD=... manage.py demo_user --username admin
    DEMO_PASSWORD=... manage.py demo_user --username shopper --shopper

The password comes from the environment (scripts/stack.py makes a random one per data
folder), never from the command line, where `ps` would show it. A user that exists already
is left as it is: its password (changed in the admin, say) and its flags are not reset.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from shop import services


class Command(BaseCommand):
    help = "Create, once, a demo superuser (or shopper) with its password from $DEMO_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default=None, help="default: USERNAME@example.com")
        parser.add_argument(
            "--shopper", action="store_true", help="a shopper (no staff rights), not a superuser"
        )

    def handle(self, *args, username, email, shopper, **options):
        password = os.environ.get("DEMO_PASSWORD", "")
        if len(password) < 8:
            raise CommandError("set DEMO_PASSWORD (8 characters or more) in the environment")
        kind = "shopper" if shopper else "staff user"
        _, created = services.demo_user_ensure(
            username=username,
            email=email or f"{username}@example.com",
            password=password,
            staff=not shopper,
        )
        if created:
            self.stdout.write(f"Created demo {kind} {username!r}.")
        else:
            self.stdout.write(f"Demo {kind} {username!r} exists; left as it is.")
