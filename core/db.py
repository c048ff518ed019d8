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

in one round trip (executemany: the prefix just before, in the same transaction): psycopg's
client-side binding (config/settings/base.py) sends the text as
one simple query, and the cursor is then moved on to the statement's own rows. The settings
are transaction-local (is_local => true): they end with the transaction, so nothing leaks to
the next request of a pooled connection, or PgBouncer's. A statement that had no parameters
gets its '%' doubled when settings add some, so a literal '%' stays one.

Transaction control and session commands get no prefix (a ROLLBACK TO SAVEPOINT must run in a
failed transaction, where the prefix itself would fail), and nor does anything run in a failed
transaction; comments go on every statement.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

# Statements that take no prefix: transaction control and session commands.
UNPREFIXED = ("savepoint", "release", "rollback", "commit", "begin", "start", "set ", "show ")
# Setting names go into the text (set_config's values are parameters): ours, never input.
SETTING_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")


@dataclass(slots=True)
class Statement:
    """One statement about to be sent, as each part sees it (the text before any part's)."""

    sql: str
    params: Any
    many: bool
    cursor: Any  # Django's cursor wrapper, over psycopg's
    keyword: str = ""  # its first characters, lower-cased: what kind of statement it is

    def __post_init__(self):
        self.keyword = self.sql.lstrip()[:20].lower()

    @property
    def connection(self) -> psycopg.Connection:
        return self.cursor.connection

    @property
    def named(self) -> bool:
        """A server-side cursor: its statement cannot carry a prefix."""
        return bool(getattr(self.cursor, "name", None))

    @property
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
# Each hook's overriding parts, in registration order: a statement calls only those.
_hooks: dict[str, list[Callable]] = {"before": [], "commands": [], "settings": [], "comment": []}


def register(part: StatementPart) -> None:
    """Add an app's part (its AppConfig.ready); settings and comments keep this order."""
    if any(type(known) is type(part) for known in _parts):
        return
    _parts.append(part)
    for hook, parts in _hooks.items():
        if getattr(type(part), hook) is not getattr(StatementPart, hook):
            parts.append(getattr(part, hook))


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


@functools.cache
def _set_config(name: str, placeholder: str) -> str:
    if not SETTING_NAME.fullmatch(name):
        raise ValueError(f"not a setting name: {name!r}")
    return f"set_config('{name}', {placeholder}, true)"


def execute(execute: Callable, sql, params, many, context):
    """The execute wrapper (install()): every registered part, in the one order above."""
    is_bytes = isinstance(sql, bytes)
    statement = Statement(sql.decode() if is_bytes else sql, params, many, context["cursor"])
    commands: list[str] = []
    settings: dict[str, str] = {}
    for before in _hooks["before"]:
        before(statement)
    if statement.prefixable:
        for part_commands in _hooks["commands"]:
            commands += part_commands(statement)
        for part_settings in _hooks["settings"]:
            settings.update(part_settings(statement))
    comments = [text for comment in _hooks["comment"] if (text := comment(statement))]
    if not (commands or settings or comments):
        return execute(sql, params, many, context)
    text = with_comment(statement.sql, ",".join(comments)) if comments else statement.sql
    if many and (commands or settings):
        sql = text.encode() if is_bytes else text
        return _execute_many_after(execute, commands, settings, sql, statement, context)
    if settings:
        if params is None:
            text = text.replace("%", "%%")  # it had no placeholders; now it has parameters
        params, placeholders = _with_params(params, list(settings.values()))
        text = f"SELECT {_calls(settings, placeholders)}; {text}"
    if commands:
        text = "; ".join(commands) + "; " + text
    result = execute(text.encode() if is_bytes else text, params, many, context)
    if commands or settings:
        while result is not None and result.nextset():  # on to the statement's own rows
            pass
    return result


def _calls(settings: dict[str, str], placeholders: list[str]) -> str:
    return ", ".join(map(_set_config, settings, placeholders))


def _execute_many_after(execute, commands, settings, sql, statement, context):
    """executemany is sent as a prepared statement, which holds one command only: the prefix
    goes first, on the raw cursor (not a query of its own), and lasts for the transaction."""
    raw = statement.connection
    if raw.autocommit:
        raise RuntimeError("executemany outside a transaction cannot carry its statement's prefix")
    cursor = context["cursor"].cursor  # psycopg's, under Django's wrapper
    for command in commands:
        cursor.execute(command)
    if settings:
        cursor.execute(
            f"SELECT {_calls(settings, ['%s'] * len(settings))}", list(settings.values())
        )
    return execute(sql, statement.params, statement.many, context)


def install(sender, connection, **kwargs):
    """connection_created: the wrapper on this connection, outermost, once (with a pool,
    Django connects again on every request)."""
    if execute not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, execute)
