"""System checks for running behind a transaction pooler (DB_TRANSACTION_POOLER): a database
entry that would keep state past its transaction is reported once at start-up, with an id."""

import os

from django.conf import settings
from django.core.checks import Error, Warning


def pooler_settings_check(app_configs=None, **kwargs):
    return pooler_problems(
        pooler=getattr(settings, "DB_TRANSACTION_POOLER", False),
        databases=settings.DATABASES,
        direct_url=settings.DATABASE_DIRECT_URL,
        url=os.environ.get("DATABASE_URL"),
    )


def pooler_problems(*, pooler: bool, databases: dict, direct_url: str, url: str | None) -> list:
    if not pooler:
        return []
    problems = []
    for alias, entry in databases.items():
        if not entry.get("DISABLE_SERVER_SIDE_CURSORS"):
            problems.append(
                Error(
                    f"DATABASES[{alias!r}] keeps server-side cursors behind a transaction pooler",
                    hint="DISABLE_SERVER_SIDE_CURSORS must be True: iterator()'s cursor would "
                    "outlive its transaction, on a server connection another client gets.",
                    id="core.E001",
                )
            )
        if entry.get("OPTIONS", {}).get("server_side_binding"):
            problems.append(
                Error(
                    f"DATABASES[{alias!r}] binds server-side behind a transaction pooler",
                    hint="OPTIONS['server_side_binding'] must be False: psycopg would prepare "
                    "statements on one server connection and run them on another.",
                    id="core.E002",
                )
            )
    if direct_url == url:
        problems.append(
            Warning(
                "DATABASE_DIRECT_URL is DATABASE_URL behind a transaction pooler",
                hint="Point DATABASE_DIRECT_URL at PostgreSQL itself: migrate, pg_dump and "
                "the dashboard's cancel/terminate must not go through the pooler.",
                id="core.W001",
            )
        )
    return problems
