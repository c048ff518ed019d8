"""Token and session authentication that also refuse suspended and closed accounts.

Django's own checks stop at is_active; shop_user.status is the shop's account state, and a
token issued before a suspension must stop working with it.

A token is sent as `Authorization: Bearer <token>`, the scheme HTTP clients and Swagger UI
expect, or as `Authorization: Token <token>`, DRF's own: the same token either way.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from shop.api import rls
from shop.fastpaths import token_lookup
from shop.models import User

INACTIVE = "This account is suspended or closed."


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (its lookup a fast path: shop/fastpaths/token_lookup.py),
    then the shop's account state, and the row-level security scope."""

    keyword = "Bearer"  # named in WWW-Authenticate; "Token" (DRF's) is accepted as well
    keywords = (b"bearer", b"token")

    def authenticate(self, request):
        scheme = authentication.get_authorization_header(request).split(maxsplit=1)[:1]
        if not scheme or scheme[0].lower() not in self.keywords:
            return None
        # DRF's parsing (no token, spaces, undecodable bytes), under the keyword sent.
        self.keyword = scheme[0].decode("latin-1")
        return super().authenticate(request)

    def authenticate_header(self, request):
        return "Bearer"

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


class BearerScheme(OpenApiAuthenticationExtension):
    """The one scheme of the OpenAPI schema and of Swagger UI's Authorize dialog: paste the
    token from auth/login/, and it is sent as `Authorization: Bearer <token>`. (The session
    login serves the browsable pages only: SPECTACULAR_SETTINGS leaves it out.)"""

    target_class = TokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Paste the token that POST /api/v1/auth/login/ returns (the bare "
            "token, no prefix): it is sent as `Authorization: Bearer <token>`. "
            "`Authorization: Token <token>` is accepted too.",
        }
