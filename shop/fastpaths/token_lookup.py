"""Fast path: the API token and its user read by one SQL statement, built once per process.

Replaces: DRF's `Token.objects.select_related("user").get(key=key)` (what
`TokenAuthentication.authenticate_credentials` runs on every authenticated request). The
statement is the same join; what is saved is compiling the queryset each time, which cost
more CPU than PostgreSQL spent answering it. The columns come from the models' metadata, so a
field added to either model is read too; the rows become model instances (`Model.from_db`),
as the ORM would make them.

Measured by `ONLY=fastpaths ROUNDS=5 SECONDS=3 make bench` (the "token_lookup" lines;
2026-12-07, a busy 2-CPU machine; docs/performance.md, "Fast paths"): CPU per checkout
in-process, DRF's / this, 1.13 (spread 1.13-1.34), 4.5-6.8 ms against 5.9-8.2 ms; the
checkout's orders/s under load, this / DRF's, 1.12 (0.88-1.27), with gunicorn's CPU per
order lower in all 5 rounds (7.3-8.0 ms against 8.1-8.7). Earlier runs under load alone
(0.93, 1.11, 0.99) had it dropped, and the whole checkout then cost about 1.6 ms more
gunicorn CPU per order than before (before/after runs of `ONLY=checkout`): this was most of it.
"""

import functools

from django.db import connection
from rest_framework.authtoken.models import Token

from shop.models import User


@functools.cache
def _sql() -> tuple[str, list[str], list[str]]:
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


def token_with_user(key: str) -> Token | None:
    """The token with this key, its `user` loaded; None if there is none."""
    sql, token_fields, user_fields = _sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    token = Token.from_db(connection.alias, token_fields, row[: len(token_fields)])
    token.user = User.from_db(connection.alias, user_fields, row[len(token_fields) :])
    return token
