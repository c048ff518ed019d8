import os

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_app_role(sender, using, **kwargs):
    """After every migrate: re-grant the application and staff roles (new tables included)."""
    from shop import db_roles

    db_roles.apply_both(
        app_role=os.environ["DB_APP_ROLE"],
        staff_role=os.environ.get("DB_STAFF_ROLE", "pgshop_staff"),
        app_password=os.environ.get("DB_APP_PASSWORD"),
        staff_password=os.environ.get("DB_STAFF_PASSWORD"),
    )


def _lock_triggers(sender, using, **kwargs):
    """After every migrate: pgtrigger's re-installed functions locked again (shop/db_roles.py)."""
    from shop import db_roles

    db_roles.lock_triggers()


class ShopConfig(AppConfig):
    """The domain: users, profiles, categories, products, orders and order items."""

    name = "shop"

    def ready(self):
        # Whatever the roles: a migration's trigger install resets what lock_triggers() sets.
        post_migrate.connect(_lock_triggers, sender=self, dispatch_uid="shop-lock-triggers")
        # Set where migrations run as an owner distinct from the application's role
        # (scripts/stack.py, docker-compose.yml); see shop/db_roles.py.
        if os.environ.get("DB_APP_ROLE"):
            post_migrate.connect(_grant_app_role, sender=self, dispatch_uid="shop-db-roles")
