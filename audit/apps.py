from django.apps import AppConfig

from audit import context
from core import db
from core import roles as core_roles


class AuditConfig(AppConfig):
    """Trigger-based history of every change to the shop's tables (django-pghistory)."""

    name = "audit"

    def ready(self):
        from audit import roles  # it reads the models: Django's idiom, imported in ready()

        # Every write inside an audit context carries it (audit/context.py).
        db.register(context.AuditContextPart())

        # Every login role reads history and may prune it through one function; the history
        # triggers write as the owner (audit/roles.py).
        core_roles.register(
            grants=roles.role_grants, definer_functions=roles.history_trigger_functions
        )
