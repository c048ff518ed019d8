"""Logging filters for the settings' LOGGING.

Celery beat logs "Scheduler: Sending due task ..." at INFO for every periodic job, and the
worker "Task ... received" and "Task ... succeeded in ..." for each run: with jobs every 30
and 60 seconds, that is most of what `make run` prints. Those three lines are dropped for
the jobs of CELERY_BEAT_SCHEDULE only; a task's failure or retry (WARNING and above, and
logged by other lines), its own log lines, and every other task's lines are kept.
"""

import logging

from django.conf import settings


def _periodic_task_names() -> set[str]:
    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()}


class PeriodicChatterFilter(logging.Filter):
    """On the loggers celery.beat, celery.worker.strategy and celery.app.trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if record.name == "celery.beat":
            return not record.msg.startswith("Scheduler: Sending due task")
        # The worker's received/succeeded lines pass their context as one dict argument.
        name = record.args.get("name") if isinstance(record.args, dict) else None
        return name not in _periodic_task_names()
