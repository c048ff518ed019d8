"""Admin pieces shared by the apps."""


class ReadOnlyMixin:
    """View only, for superusers too: rows that only the project's own code may write
    (order items, audit events, alerts)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
