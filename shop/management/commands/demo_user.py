"""Create (or reset) the demo staff login that `make run` prints.

    DEMO_PASSWORD=... manage.py demo_user --username admin

The password comes from the environment (scripts/stack.py makes a random one per data
folder), never from the command line, where `ps` would show it.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from shop import services


class Command(BaseCommand):
    help = "Create or reset the demo superuser, with its password from $DEMO_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username, email, **options):
        password = os.environ.get("DEMO_PASSWORD", "")
        if len(password) < 8:
            raise CommandError("set DEMO_PASSWORD (8 characters or more) in the environment")
        _, created = services.staff_user_reset(username=username, email=email, password=password)
        verb = "Created" if created else "Reset"
        self.stdout.write(f"{verb} demo staff user {username!r}.")
