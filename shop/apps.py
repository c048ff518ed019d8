from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The domain: users, profiles, categories, products, orders and order items."""

    name = "shop"
