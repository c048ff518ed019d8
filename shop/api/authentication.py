"""Token and session authentication that also refuse suspended and closed accounts.

Django's own checks stop at is_active; shop_user.status is the shop's account state, and a
token issued before a suspension must stop working with it.
"""

import functools

from django.db import connection
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from shop.api import rls
from shop.models import User

INACTIVE = "This account is suspended or closed."


@functools.cache
def _token_sql() -> tuple[str, list[str], list[str]]:
    """The token and its user in one statement, the columns taken from the models (what
    DRF's Token.objects.select_related("user").get(key=key) sends)."""
    token_fields = [field.attname for field in Token._meta.concrete_fields]
    user_fields = [field.attname for field in User._meta.concrete_fields]
    columns = [f't."{field.column}"' for field in Token._meta.concrete_fields] + [
        f'u."{field.column}"' for field in User._meta.concrete_fields
    ]
    # Only identifiers from the models' metadata are formatted in; the key is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {Token._meta.db_table} t "  # noqa: S608
        f"JOIN {User._meta.db_table} u ON u.id = t.user_id WHERE t.key = %s"
    )
    return sql, token_fields, user_fields


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, its query sent as SQL: on every authenticated request,
    building it as a queryset cost more CPU than PostgreSQL spent answering it."""

    def authenticate_credentials(self, key):
        sql, token_fields, user_fields = _token_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = Token.from_db(connection.alias, token_fields, row[: len(token_fields)])
        user = User.from_db(connection.alias, user_fields, row[len(token_fields) :])
        token.user = user
        # DRF's own checks, then the shop's account state.
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
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
