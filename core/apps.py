import os

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

from core import db, roles
from core.checks import pooler_settings_check


def _grant_login_roles(sender, using, **kwargs):
    """After every migrate: re-grant the application and staff roles (new tables included)."""
    roles.apply_both(
        app_role=os.environ["DB_APP_ROLE"],
        staff_role=os.environ.get("DB_STAFF_ROLE", "pgshop_staff"),
        app_password=os.environ.get("DB_APP_PASSWORD"),
        staff_password=os.environ.get("DB_STAFF_PASSWORD"),
    )


def _lock_triggers(sender, using, **kwargs):
    """After every migrate: pgtrigger's re-installed functions locked again (core/roles.py)."""
    roles.lock_triggers()


class CoreConfig(AppConfig):
    """Project-wide plumbing every app may use and none of it knows about: database roles,
    the database cursor's wrappers, shared admin pieces, the map from catalog to models."""

    name = "core"

    def ready(self):
        # One execute wrapper on every connection, composing the apps' parts (core/db.py).
        connection_created.connect(db.install, dispatch_uid="core-db-execute")
        # Behind a transaction pooler: no database entry keeps state past its transaction.
        checks.register(pooler_settings_check, checks.Tags.database)
        # Whatever the roles: a migration's trigger install resets what lock_triggers() sets.
        post_migrate.connect(_lock_triggers, sender=self, dispatch_uid="core-lock-triggers")
        # Set where migrations run as an owner distinct from the application's role
        # (scripts/stack.py, docker-compose.yml); see core/roles.py.
        if os.environ.get("DB_APP_ROLE"):
            post_migrate.connect(_grant_login_roles, sender=self, dispatch_uid="core-db-roles")
