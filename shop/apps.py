from django.apps import AppConfig
from django.conf import settings

from core import db, groups
from shop.api import rls


class ShopConfig(AppConfig):
    """The domain: users, profiles, categories, products, orders and order items."""

    name = "shop"

    def ready(self):
        # Every statement of a shopper's API request carries the shopper's id (shop/api/rls.py).
        db.register(rls.ShopperScope())
        if settings.DB_EMULATED_ROLES:  # tests: requests run as the production login roles
            db.register(rls.EmulatedLogin())
        # The staff groups of the shop's pages (core/groups.py), made after every migrate.
        groups.register(self, CATALOGUE_GROUP, CATALOGUE_PERMISSIONS)
        groups.register(self, FULFILMENT_GROUP, FULFILMENT_PERMISSIONS)


def _model_permissions(model: str, actions: str = "view add change delete") -> list[str]:
    return [f"shop.{action}_{model}" for action in actions.split()]


CATALOGUE_GROUP = "catalogue"
# Categories and products: add, edit, deactivate, delete the ones never ordered.
CATALOGUE_PERMISSIONS = _model_permissions("category") + _model_permissions("product")
FULFILMENT_GROUP = "fulfilment"
# Orders through their workflow and their address; the customers and lines they read.
FULFILMENT_PERMISSIONS = [
    *_model_permissions("order", "view change"),
    *_model_permissions("orderitem", "view"),
    *_model_permissions("user", "view"),
    *_model_permissions("userprofile", "view"),
    *_model_permissions("product", "view"),
]
