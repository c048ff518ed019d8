"""manage.py db_roles: create or update the application's database role (shop/db_roles.py).

Run as the owner (the role that migrates): `manage.py db_roles --role pgshop_app`, with the
role's password in DB_APP_PASSWORD. Idempotent; `migrate` re-applies it when DB_APP_ROLE is set.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from shop import db_roles


class Command(BaseCommand):
    help = "Create or update the least-privilege application role (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--role", default=os.environ.get("DB_APP_ROLE", "pgshop_app"))

    def handle(self, *args, role, **options):
        try:
            db_roles.apply(role=role, password=os.environ.get("DB_APP_PASSWORD"))
        except DatabaseError as error:
            raise CommandError(f"could not set up role {role}: {error}") from error
        self.stdout.write(f"role {role}: privileges applied")
