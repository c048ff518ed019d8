"""Audit context: who and through what, on every write's events (pgh_context).

Inside a context every write's events carry its metadata; outside any context they carry none.
Keys, the same everywhere:

    via         "admin" | "api" | "web" | "command" | "task"
    user        the acting user's id, when there is one
    request_id  ties together every event of one request, task or command
    method, path            requests (audit/middleware.py)
    command                 management commands (manage.py)
    task, task_id           Celery tasks (AuditedTask, every task's base: config/celery.py)

How it reaches the triggers: pghistory's triggers copy the transaction-local settings
pghistory.context_id and pghistory.context_metadata into the context table and each event.
AuditContextPart (this app's part of core/db.py's one execute wrapper) sets them before each
write of a context, in the same round trip, as pghistory.context() would with a wrapper of its
own; this module replaces pghistory.context(), so the settings, the shopper's scope and the
origin comment are composed in one place.

Those settings last until the end of the *transaction*, so a write made after the context, in
the same transaction, would still carry it: audit_context() clears them on the way out when
that can happen.
"""

import contextlib
import json
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import celery
from django.db import connection
from pghistory import config
from pghistory.runtime import IGNORED_SQL_PREFIXES

from core import db

# Commands whose writes are attributed elsewhere: runserver's requests go through the
# middleware (one context per request, not one for the whole session).
UNTRACKED_COMMANDS = frozenset({"runserver"})

_CLEAR = (
    "SELECT set_config('pghistory.context_id', '', true), "
    "set_config('pghistory.context_metadata', '', true)"
)


@dataclass
class AuditContext:
    """One context: its id (pgh_context_id of its events) and its metadata so far."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    metadata: dict = field(default_factory=dict)
    wrote: bool = False  # a statement carried it: the transaction's settings hold it


_current: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


class AuditContextPart(db.StatementPart):
    """The context's settings on every statement that may write (pghistory's own rule: not a
    SELECT, DDL or maintenance command), registered in audit/apps.py."""

    def settings(self, statement):
        context = _current.get()
        if (
            context is None
            or statement.named  # Django's named cursors only read (.iterator())
            or statement.keyword.startswith(IGNORED_SQL_PREFIXES)
        ):
            return {}
        context.wrote = True
        return {
            "pghistory.context_id": str(context.id),
            "pghistory.context_metadata": json.dumps(context.metadata, cls=config.json_encoder()),
        }


def add(**metadata) -> None:
    """Add keys to the current context, if there is one (a request's user, once known)."""
    context = _current.get()
    if context is not None:
        context.metadata.update(metadata)


@contextlib.contextmanager
def audit_context(**metadata) -> Iterator[AuditContext]:
    """A context for the block, cleared on exit if the transaction goes on.

    Inside another context it only adds its keys to that one.
    """
    outer = _current.get()
    if outer is not None:
        outer.metadata.update(metadata)
        yield outer
        return
    context = AuditContext(metadata=dict(metadata))
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
        if context.wrote and connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(_CLEAR)


def task_context(
    *, name: str, task_id: str, user_id: int | None = None, request_id: str | None = None
) -> contextlib.AbstractContextManager:
    """Context for one Celery task run. request_id: the enqueuing request's, else the task id."""
    return audit_context(
        via="task",
        user=user_id,
        task=name,
        task_id=task_id,
        request_id=request_id or task_id,
    )


class AuditedTask(celery.Task):
    """The base of every task (Celery(task_cls=...) in config/celery.py): each run is one audit
    context, named after the task, so a task's writes say which task and which run made them."""

    def __call__(self, *args, **kwargs):
        # A task called as a plain function (not through a worker or apply()) has no id.
        with task_context(name=self.name, task_id=self.request.id or "direct"):
            return super().__call__(*args, **kwargs)


def command_context(argv: list[str]) -> contextlib.AbstractContextManager:
    """Context for `manage.py <command> ...` (see manage.py); none for runserver or no command."""
    if len(argv) < 2 or argv[1].startswith("-") or argv[1] in UNTRACKED_COMMANDS:
        return contextlib.nullcontext()
    return audit_context(via="command", user=None, command=argv[1], request_id=str(uuid.uuid4()))
