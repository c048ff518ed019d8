"""Token and session authentication that also refuse suspended and closed accounts.

Django's own checks stop at is_active; shop_user.status is the shop's account state, and a
token issued before a suspension must stop working with it.
"""

from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from rest_framework import authentication, exceptions

from shop.api import rls
from shop.models import User

INACTIVE = "This account is suspended or closed."


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (the token and its user in one query), then the shop's
    account state, and the row-level security scope."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if user.status != User.Status.ACTIVE:
            raise exceptions.AuthenticationFailed(INACTIVE)
        rls.scope_to(user)  # PostgreSQL shows this shopper only their own orders
        return user, token


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and result[0].status != User.Status.ACTIVE:
            raise exceptions.AuthenticationFailed(INACTIVE)
        if result is not None:
            rls.scope_to(result[0])  # PostgreSQL shows this shopper only their own orders
        return result


class SessionScheme(SpectacularSessionScheme):
    """Describes the session login in the OpenAPI schema (the token one matches subclasses)."""

    target_class = SessionAuthentication
