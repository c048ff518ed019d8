"""No models. The module exists because Django sends post_migrate only to apps that have one,
and core's hooks (core/apps.py: roles and trigger locks) run on it."""
