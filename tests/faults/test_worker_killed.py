"""A Celery worker process killed (SIGKILL, as the OOM killer does) in the middle of a task.

acks_late + reject_on_worker_lost (config/settings/base.py): the message is acknowledged only
after the task returns, and when the pool process running it dies the worker puts it back
on the queue. The task (tests/faults/tasks.py) is killed after its order committed, so the
redelivery really runs it again: the Idempotency-Key's unique constraint makes the second
run replay the order instead of placing another. One order, one unit of stock.
"""

import os
import signal
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from shop.factories import ProductFactory, UserFactory
from shop.models import Order
from tests.conftest import child_process_env, wait_until
from tests.faults.conftest import TIMEOUT
from tests.faults.tasks import order_place_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(tmp_path):
    """A prefork worker with one pool process, on a queue of its own."""
    queue = f"faults-{uuid.uuid4().hex}"
    env = child_process_env(CELERY_QUEUE=queue)
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--include=tests.faults.tasks", f"--hostname={queue}@%h", "--queues", queue],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    process.queue, process.log = queue, log
    try:
        wait_until(lambda: process.poll() is None and " ready." in log.read_text(), timeout=60)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_task_killed_after_its_effect_is_redelivered_and_the_effect_happens_once(
    worker, tmp_path
):
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    user = UserFactory(username="ada")
    lamp = ProductFactory(stock_quantity=5)
    deliveries = tmp_path / "deliveries.txt"

    order_place_task.apply_async(
        kwargs={"user_id": user.pk, "product_id": lamp.pk, "key": "order-1",
                "deliveries": str(deliveries)},
        queue=worker.queue,
    )  # fmt: skip
    wait_until(lambda: deliveries.exists() and deliveries.read_text().count("\n") == 1)
    first_pid = int(deliveries.read_text().split()[0])
    os.kill(first_pid, signal.SIGKILL)  # mid-task: committed, not acknowledged

    wait_until(lambda: deliveries.read_text().count("\n") == 2)
    (pid1, order1, created1), (pid2, order2, created2) = (
        line.split() for line in deliveries.read_text().splitlines()
    )

    assert "WorkerLostError" in worker.log.read_text()
    assert pid2 != pid1  # a new pool process ran the redelivered task
    assert (order2, created1, created2) == (order1, "True", "False")
    assert list(Order.objects.filter(user=user).values_list("pk", flat=True)) == [int(order1)]
    lamp.refresh_from_db()
    assert lamp.stock_quantity == 4
