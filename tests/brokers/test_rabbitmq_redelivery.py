"""RabbitMQ, the production broker: a worker's main process SIGKILLed mid-task.

The Redis broker gives an unacknowledged task back only after its visibility_timeout (an
hour in the settings); RabbitMQ gives it back as soon as the dead worker's connection drops,
to the other worker. The task (tests/brokers/tasks.py) is killed after its order committed,
so the redelivery really runs it a second time: order_create's Idempotency-Key makes that
run replay the first's order. One order, one unit of stock.

The killed worker's prefork child is not left running the task: Celery (5.x) gives its pool
processes PR_SET_PDEATHSIG = SIGKILL, so the kernel kills the child with its main process.
The test proves that too.
"""

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from config.celery import app
from scripts.sentinel import alive
from shop.factories import ProductFactory, UserFactory
from shop.models import IdempotencyKey, Order
from tests.brokers.conftest import start_workers, stop_worker
from tests.brokers.tasks import order_place_noted_task
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def notes_of(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def test_a_killed_worker_s_task_is_redelivered_at_once_and_its_two_runs_place_one_order(
    rabbitmq_vhost, tmp_path
):
    user = UserFactory(username="ada")
    lamp = ProductFactory(stock_quantity=5)
    notes = tmp_path / "notes.txt"
    queue = f"brokers-{uuid.uuid4().hex}"
    broker = {"CELERY_BROKER_URL": rabbitmq_vhost}
    workers = start_workers(tmp_path, ("w1", "w2"), queue=queue, **broker)
    child = None
    try:
        with app.connection_for_write(rabbitmq_vhost) as amqp:
            order_place_noted_task.apply_async(
                kwargs={"user_id": user.pk, "product_id": lamp.pk, "key": "order-1",
                        "notes": str(notes)},
                queue=queue, connection=amqp,
            )  # fmt: skip
        wait_until(lambda: len(notes_of(notes)) == 2)  # started, order committed, stalled
        child, main = (int(pid) for pid in notes_of(notes)[0][1:])
        killed = next(worker for worker in workers if worker.pid == main)
        os.kill(main, signal.SIGKILL)  # the worker's main process, as the OOM killer would
        started = time.monotonic()
        wait_until(lambda: len(notes_of(notes)) == 3, timeout=10)
        print(f"\nredelivered by RabbitMQ {time.monotonic() - started:.2f} s after the kill")
        wait_until(lambda: len(notes_of(notes)) == 4)
        wait_until(lambda: not alive(child), timeout=10)
    finally:
        for worker in workers:
            stop_worker(worker)
        if child and alive(child):
            os.kill(child, signal.SIGKILL)

    survivor = next(worker for worker in workers if worker is not killed)
    order = Order.objects.get(user=user)
    assert notes_of(notes) == [
        ["start", str(child), str(killed.pid)],
        ["done", str(child), str(order.pk), "True"],
        ["start", notes_of(notes)[2][1], str(survivor.pid)],  # the other worker's child
        ["done", notes_of(notes)[2][1], str(order.pk), "False"],  # replayed, not placed
    ]
    assert list(IdempotencyKey.objects.filter(user=user).values_list("key", "order_id")) == [
        ("order-1", order.pk)
    ]
    lamp.refresh_from_db()
    assert lamp.stock_quantity == 4
