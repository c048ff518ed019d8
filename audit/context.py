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

Celery (issue 5) wraps each task run, e.g. in a base Task's __call__:

    with task_context(name=self.name, task_id=self.request.id, user_id=...):
        return super().__call__(*args, **kwargs)
"""

import contextlib
import uuid

import pghistory

# Commands whose writes are attributed elsewhere: runserver's requests go through the
# middleware (one context per request, not one for the whole session).
UNTRACKED_COMMANDS = frozenset({"runserver"})


def task_context(
    *, name: str, task_id: str, user_id: int | None = None, request_id: str | None = None
) -> pghistory.context:
    """Context for one Celery task run. request_id: the enqueuing request's, else the task id."""
    return pghistory.context(
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
    return pghistory.context(
        via="command", user=None, command=argv[1], request_id=str(uuid.uuid4())
    )
