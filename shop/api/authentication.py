"""Token and session authentication that also refuse suspended and closed accounts.

Django's own checks stop at is_active; shop_user.status is the shop's account state, and a
token issued before a suspension must stop working with it.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from rest_framework import authentication, exceptions

from shop.api import rls
from shop.fastpaths import token_lookup
from shop.models import User

INACTIVE = "This account is suspended or closed."


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (its lookup a fast path: shop/fastpaths/token_lookup.py),
    then the shop's account state, and the row-level security scope."""

    def authenticate_credentials(self, key):
        token = token_lookup.token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        # DRF's own check, then the shop's account state.
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token.user.status != User.Status.ACTIVE:
            raise exceptions.AuthenticationFailed(INACTIVE)
        rls.scope_to(token.user)  # PostgreSQL shows this shopper only their own orders
        return token.user, token


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
