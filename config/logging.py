"""Logging filters for the settings' LOGGING.

Celery beat logs "Scheduler: Sending due task ..." at INFO for every periodic job, and the
worker "Task ... received" and "Task ... succeeded in ..." for each run: with jobs every 30
and 60 seconds, that is most of what `make run` prints. Those three lines are dropped for
the frequent jobs of CELERY_BEAT_SCHEDULE (more often than hourly) only; a task's failure
or retry (WARNING and above, and logged by other lines), its own log lines, the hourly and
daily jobs' lines (the prunes: what they deleted), and every other task's lines are kept.
"""

import logging
from datetime import timedelta

from django.conf import settings

FREQUENT = timedelta(hours=1)  # a job that runs more often than this is chatter at INFO


def frequent_periodic_tasks() -> set[str]:
    names = set()
    for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values():
        every = entry["schedule"]
        if isinstance(every, int | float):
            every = timedelta(seconds=every)
        if isinstance(every, timedelta) and every < FREQUENT:  # a crontab: kept
            names.add(entry["task"])
    return names


class PeriodicChatterFilter(logging.Filter):
    """On the loggers celery.beat, celery.worker.strategy and celery.app.trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if record.name == "celery.beat":
            if not record.msg.startswith("Scheduler: Sending due task"):
                return True
            name = record.args[1] if isinstance(record.args, tuple) else None
        else:
            # The worker's received/succeeded lines pass their context as one dict argument.
            name = record.args.get("name") if isinstance(record.args, dict) else None
        return name not in frequent_periodic_tasks()
