from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Project-wide plumbing every app may use and none of it knows about: database roles,
    the database cursor's wrappers, shared admin pieces, the map from catalog to models."""

    name = "core"
