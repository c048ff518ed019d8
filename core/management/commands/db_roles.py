"""manage.py db_roles: create or update the application's two database login roles
(core/roles.py): the shopper-facing application role and the staff role.

Run as the owner (the role that migrates): `manage.py db_roles --role pgshop_app
--staff-role pgshop_staff`, with the passwords in DB_APP_PASSWORD and DB_STAFF_PASSWORD.
Idempotent; `migrate` re-applies it when DB_APP_ROLE is set.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core import roles


class Command(BaseCommand):
    help = "Create or update the least-privilege application and staff roles (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--role", default=os.environ.get("DB_APP_ROLE", "pgshop_app"))
        parser.add_argument("--staff-role", default=os.environ.get("DB_STAFF_ROLE", "pgshop_staff"))

    def handle(self, *args, role, staff_role, **options):
        try:
            roles.apply_both(
                app_role=role,
                staff_role=staff_role,
                app_password=os.environ.get("DB_APP_PASSWORD"),
                staff_password=os.environ.get("DB_STAFF_PASSWORD"),
            )
        except DatabaseError as error:
            raise CommandError(f"could not set up roles {role}, {staff_role}: {error}") from error
        self.stdout.write(f"roles {role}, {staff_role}: privileges applied")
