"""Audit context outside requests: management commands and (once they exist) Celery tasks.

Inside a context every write's events carry its metadata (pghistory sets it per statement, for
the transaction); outside any context they carry none. The request middleware is
audit/middleware.py. Keys, the same everywhere:

    via         "admin" | "api" | "web" | "command" | "task"
    user        the acting user's id, when there is one
    request_id  ties together every event of one request, task or command
    method, path            requests
    command                 management commands
    task, task_id           Celery tasks

Use audit_context() rather than pghistory.context() directly: pghistory sets the context with
set_config(..., is_local => true), which lasts until the end of the *transaction*, so a write
made after the context, in the same transaction, would still carry it. audit_context() clears
it on the way out when that can happen.

Celery wraps each task run, e.g. in a base Task's __call__:

    with task_context(name=self.name, task_id=self.request.id, user_id=...):
        return super().__call__(*args, **kwargs)
"""

import contextlib
import uuid
from collections.abc import Iterator

import pghistory
from django.db import connection
from pghistory import runtime

# Commands whose writes are attributed elsewhere: runserver's requests go through the
# middleware (one context per request, not one for the whole session).
UNTRACKED_COMMANDS = frozenset({"runserver"})


# What pghistory prepends to a statement it attaches context to.
_INJECTED = "pghistory.context_metadata"
_CLEAR = (
    "SELECT set_config('pghistory.context_id', '', true), "
    "set_config('pghistory.context_metadata', '', true)"
)


@contextlib.contextmanager
def audit_context(**metadata) -> Iterator[runtime.Context | None]:
    """pghistory.context(**metadata), cleared on exit if the transaction goes on.

    Inside another context it only adds its keys to that one (pghistory's nesting).
    """
    if hasattr(runtime._tracker, "value"):
        pghistory.context(**metadata)
        yield runtime._tracker.value
        return
    wrote = False

    def watch(execute, sql, params, many, context):
        nonlocal wrote
        wrote = wrote or _INJECTED in (sql.decode() if isinstance(sql, bytes) else sql)
        return execute(sql, params, many, context)

    with pghistory.context(**metadata) as tracked, connection.execute_wrapper(watch):
        yield tracked
    if wrote and connection.in_atomic_block:
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


def command_context(argv: list[str]) -> contextlib.AbstractContextManager:
    """Context for `manage.py <command> ...` (see manage.py); none for runserver or no command."""
    if len(argv) < 2 or argv[1].startswith("-") or argv[1] in UNTRACKED_COMMANDS:
        return contextlib.nullcontext()
    return audit_context(via="command", user=None, command=argv[1], request_id=str(uuid.uuid4()))
