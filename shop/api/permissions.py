"""Who may call what. Object-level rules live in the selectors and services: a shopper's
order is looked up with `user_id=request.user.pk`, so another user's order is a 404."""

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    message = "Staff only."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
