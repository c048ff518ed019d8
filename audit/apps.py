from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Trigger-based history of every change to the shop's tables (django-pghistory)."""

    name = "audit"
