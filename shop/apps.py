from django.apps import AppConfig
from django.conf import settings

from core import db
from shop.api import rls


class ShopConfig(AppConfig):
    """The domain: users, profiles, categories, products, orders and order items."""

    name = "shop"

    def ready(self):
        # Every statement of a shopper's API request carries the shopper's id (shop/api/rls.py).
        db.register(rls.ShopperScope())
        if settings.DB_EMULATED_ROLES:  # tests: requests run as the production login roles
            db.register(rls.EmulatedLogin())
