"""The audit retention task, run by a real Celery worker (prefork) on the real broker, and the
base task that gives every task run its audit context."""

import re

import pytest
from celery import shared_task
from django.conf import settings
from django.db import transaction

from audit.context import AuditedTask
from audit.models import CategoryEvent
from audit.tasks import audit_prune_task
from config.celery import app
from shop.factories import CategoryFactory
from shop.models import Category
from tests.audit.conftest import events
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def results(worker) -> list[str]:
    """What each audit_prune_task run returned (events deleted), in order, from the log."""
    return re.findall(
        r"audit_prune_task\[[^\]]+\] succeeded in [\d.]+s: (\d+)", worker.log.read_text()
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_prunes_events_and_a_second_delivery_changes_nothing(celery_worker):
    before = len(results(celery_worker))
    CategoryFactory()
    CategoryFactory()
    assert CategoryEvent.objects.count() == 2

    for delivery in (1, 2):  # the same task delivered twice
        with transaction.atomic():  # enqueued only once the transaction commits
            transaction.on_commit(lambda: audit_prune_task.delay(days=0))
        wait_until(lambda n=before + delivery: len(results(celery_worker)) == n)

    assert results(celery_worker)[before:] == ["2", "0"]
    assert CategoryEvent.objects.count() == 0


def test_retention_runs_daily_in_beat():
    assert settings.CELERY_BEAT_SCHEDULE["audit-prune"] == {
        "task": "audit.tasks.audit_prune_task",
        "schedule": 86400,
    }


@shared_task(name="tests.audit.category_rename")
def category_rename(category_id: int, name: str) -> None:
    Category.objects.filter(pk=category_id).update(name=name)


def test_a_tasks_writes_carry_its_audit_context_from_the_base_task():
    category = CategoryFactory(name="Books")

    category_rename.apply(args=[category.pk, "Old books"], task_id="task-42")

    assert events(CategoryEvent, category) == [
        ("insert", None),
        (
            "update",
            {
                "via": "task",
                "user": None,
                "task": "tests.audit.category_rename",
                "task_id": "task-42",
                "request_id": "task-42",
            },
        ),
    ]


def test_every_task_of_the_project_has_the_audited_base():
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks.py
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert scheduled <= set(app.tasks)
    assert [name for name, task in app.tasks.items() if not isinstance(task, AuditedTask)] == []
