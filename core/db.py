"""One execute wrapper on every connection, composing what each app adds to a statement.

Each app registers a StatementPart (from its AppConfig.ready) and states only its own bit;
how the bits meet is written here, once. A statement goes out as

    SET LOCAL ROLE "pgshop_app";                        commands  (shop/api/rls.py: tests'
                                                                   emulated login)
    SELECT set_config('app.rls_user_id', %s, true),     settings  (shop/api/rls.py: the
           set_config('pghistory.context_id', %s, true),           shopper; audit/context.py:
           set_config('pghistory.context_metadata', %s, true);     the audit context)
    <the statement>
    /*fp='3f2a9c41d0e5b7a8',route='api/v1/products/'*/ comments  (dbhealth/origins.py: where
                                                                   it comes from)

in one round trip: psycopg's client-side binding (config/settings/base.py) sends the text as
one simple query, and the cursor is then moved on to the statement's own rows. The settings
are transaction-local (is_local => true): they end with the transaction, so nothing leaks to
the next request of a pooled connection, or PgBouncer's. A statement that had no parameters
gets its '%' doubled when settings add some, so a literal '%' stays one.

Transaction control and session commands get no prefix (a ROLLBACK TO SAVEPOINT must run in a
failed transaction, where the prefix itself would fail), and nor does anything run in a failed
transaction; comments go on every statement.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import psycopg

# Statements that take no prefix: transaction control and session commands.
UNPREFIXED = ("savepoint", "release", "rollback", "commit", "begin", "start", "set ", "show ")
# Setting names go into the text (set_config's values are parameters): ours, never input.
SETTING_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")


@dataclass
class Statement:
    """One statement about to be sent, as each part sees it (the text before any part's)."""

    sql: str
    params: Any
    many: bool
    cursor: Any  # psycopg's cursor

    @property
    def connection(self) -> psycopg.Connection:
        return self.cursor.connection

    @property
    def named(self) -> bool:
        """A server-side cursor: its statement cannot carry a prefix."""
        return bool(getattr(self.cursor, "name", None))

    @cached_property
    def keyword(self) -> str:
        return self.sql.lstrip()[:20].lower()

    @cached_property
    def prefixable(self) -> bool:
        return (
            not self.keyword.startswith(UNPREFIXED)
            and self.connection.info.transaction_status != psycopg.pq.TransactionStatus.INERROR
        )

    @property
    def executions(self) -> int:
        return len(self.params) if self.many and isinstance(self.params, list | tuple) else 1


class StatementPart:
    """One app's share of every statement. Each hook adds nothing unless overridden."""

    def before(self, statement: Statement) -> None:
        """Runs first, on the raw connection (not a query of the statement's own)."""

    def commands(self, statement: Statement) -> list[str]:
        """Parameterless commands in front of the statement (prefixable statements only)."""
        return []

    def settings(self, statement: Statement) -> dict[str, str]:
        """Transaction-local settings for the statement (prefixable statements only)."""
        return {}

    def comment(self, statement: Statement) -> str | None:
        """`key='value',...` for the comment after the statement."""
        return None


_parts: list[StatementPart] = []


def register(part: StatementPart) -> None:
    """Add an app's part (its AppConfig.ready); settings and comments keep this order."""
    if not any(type(known) is type(part) for known in _parts):
        _parts.append(part)


def with_comment(sql: str, comment: str) -> str:
    """The statement with /*comment*/ before a trailing semicolon, where pg_stat_statements
    keeps it; on a line of its own, so that a trailing `-- comment` cannot swallow it."""
    body = sql.rstrip()
    if body.endswith(";"):
        return f"{body[:-1]}\n/*{comment}*/;"
    return f"{body}\n/*{comment}*/"


def _with_params(params: Any, values: list[str]) -> tuple[Any, list[str]]:
    """One execution's parameters with `values` first, and the placeholders for them."""
    if isinstance(params, dict):
        names = [f"core_setting_{n}" for n in range(len(values))]
        return {**params, **dict(zip(names, values, strict=True))}, [f"%({n})s" for n in names]
    return (*values, *(params or ())), ["%s"] * len(values)


def execute(execute: Callable, sql, params, many, context):
    """The execute wrapper (install()): every registered part, in the one order above."""
    is_bytes = isinstance(sql, bytes)
    statement = Statement(sql.decode() if is_bytes else sql, params, many, context["cursor"])
    commands: list[str] = []
    settings: dict[str, str] = {}
    comments: list[str] = []
    for part in _parts:
        part.before(statement)
    prefixable = statement.prefixable
    for part in _parts:
        if prefixable:
            commands += part.commands(statement)
            settings.update(part.settings(statement))
        if comment := part.comment(statement):
            comments.append(comment)
    if not (commands or settings or comments):
        return execute(sql, params, many, context)
    text = with_comment(statement.sql, ",".join(comments)) if comments else statement.sql
    if settings:
        if params is None:
            text = text.replace("%", "%%")  # it had no placeholders; now it has parameters
        values = list(settings.values())
        if many:  # executemany: every execution carries the settings
            rows = [_with_params(row, values) for row in params]
            params = [row for row, _ in rows]
            placeholders = rows[0][1] if rows else ["%s"] * len(values)
        else:
            params, placeholders = _with_params(params, values)
        for name in settings:
            if not SETTING_NAME.fullmatch(name):
                raise ValueError(f"not a setting name: {name!r}")
        calls = ", ".join(
            f"set_config('{name}', {placeholder}, true)"
            for name, placeholder in zip(settings, placeholders, strict=True)
        )
        text = f"SELECT {calls}; {text}"
    text = "".join(f"{command}; " for command in commands) + text
    result = execute(text.encode() if is_bytes else text, params, many, context)
    if commands or settings:
        while result is not None and result.nextset():  # on to the statement's own rows
            pass
    return result


def install(sender, connection, **kwargs):
    """connection_created: the wrapper on this connection, outermost, once (with a pool,
    Django connects again on every request)."""
    if execute not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, execute)
