"""The audit retention task, run by a real Celery worker (prefork) on the real broker."""

import re

import pytest
from django.db import transaction

from audit.models import CategoryEvent
from audit.tasks import audit_prune_task
from shop.factories import CategoryFactory
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def results(worker) -> list[str]:
    """What each audit_prune_task run returned (events deleted), in order, from the log."""
    return re.findall(
        r"audit_prune_task\[[^\]]+\] succeeded in [\d.]+s: (\d+)", worker.log.read_text()
    )


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
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["audit-prune"] == {
        "task": "audit.tasks.audit_prune_task",
        "schedule": 86400,
    }
