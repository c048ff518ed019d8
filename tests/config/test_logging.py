"""The periodic jobs' Celery chatter is dropped at INFO; errors and other tasks' lines stay.

The records are made as Celery makes them (its own format strings and arguments), on the
loggers Celery uses, and pass through the handlers the settings' LOGGING configured.
"""

import logging

import pytest
from celery.app import trace
from celery.worker import strategy  # noqa: F401 (its logger is the one configured)

from config.logging import frequent_periodic_tasks


class Caught(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.name} {record.getMessage()}")


@pytest.fixture
def caught():
    handler = Caught()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def received(name: str) -> dict:
    return {"name": name, "id": "f00d", "hostname": "w@h", "ack": True}


def test_beat_and_the_worker_say_nothing_at_info_about_the_periodic_jobs(caught):
    beat = logging.getLogger("celery.beat")
    worker = logging.getLogger("celery.worker.strategy")
    tracer = logging.getLogger("celery.app.trace")

    beat.info(
        "Scheduler: Sending due task %s (%s)",
        "dbhealth-origins",
        "dbhealth.tasks.dbhealth_origins_task",
    )
    worker.info(trace.LOG_RECEIVED, received("dbhealth.tasks.dbhealth_origins_task"))
    tracer.info(
        trace.LOG_SUCCESS,
        {"id": "f00d", "name": "dbhealth.tasks.dbhealth_origins_task", "return_value": None,
         "runtime": 0.01},
    )  # fmt: skip

    assert caught == []


def test_the_jobs_every_30_s_to_5_min_are_frequent_the_hourly_and_daily_ones_are_not():
    assert frequent_periodic_tasks() == {
        "shop.tasks.product_cache_warm",
        "dbhealth.tasks.dbhealth_snapshot_task",
        "dbhealth.tasks.dbhealth_alerts_task",
        "dbhealth.tasks.dbhealth_origins_task",
    }


def test_errors_other_tasks_and_beats_other_lines_are_kept(caught):
    beat = logging.getLogger("celery.beat")
    worker = logging.getLogger("celery.worker.strategy")
    tracer = logging.getLogger("celery.app.trace")

    beat.info("beat: Starting...")
    worker.info(trace.LOG_RECEIVED, received("shop.tasks.order_confirmation"))
    tracer.error(
        trace.LOG_FAILURE,
        {"id": "f00d", "name": "dbhealth.tasks.dbhealth_origins_task", "exc": "boom",
         "description": "raised unexpected"},
    )  # fmt: skip
    beat.warning(
        "Scheduler: Sending due task %s (%s)",
        "dbhealth-alerts",
        "dbhealth.tasks.dbhealth_alerts_task",
    )
    # The daily prune's lines stay: what it deleted is worth a line.
    beat.info("Scheduler: Sending due task %s (%s)", "audit-prune", "audit.tasks.audit_prune_task")
    tracer.info(
        trace.LOG_SUCCESS,
        {"id": "cafe", "name": "audit.tasks.audit_prune_task", "return_value": 2, "runtime": 0.5},
    )

    assert caught == [
        "INFO celery.beat beat: Starting...",
        "INFO celery.worker.strategy Task shop.tasks.order_confirmation[f00d] received",
        "ERROR celery.app.trace Task dbhealth.tasks.dbhealth_origins_task[f00d] "
        "raised unexpected: boom",
        "WARNING celery.beat Scheduler: Sending due task dbhealth-alerts "
        "(dbhealth.tasks.dbhealth_alerts_task)",
        "INFO celery.beat Scheduler: Sending due task audit-prune (audit.tasks.audit_prune_task)",
        "INFO celery.app.trace Task audit.tasks.audit_prune_task[cafe] succeeded in 0.5s: 2",
    ]
