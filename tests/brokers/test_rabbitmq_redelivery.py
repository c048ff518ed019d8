"""RabbitMQ, the production broker: a worker's main process SIGKILLed mid-task.

The Redis broker gives an unacknowledged task back only after its visibility_timeout (an
hour in the settings); RabbitMQ gives it back as soon as the dead worker's connection drops,
to the other worker, which places the order.

The killed worker's prefork child (orphaned, mid-task) is killed with it: Celery gives its
pool processes PR_SET_PDEATHSIG = SIGKILL (every run here). Should one outlive its main
process and finish the task (a pool without that setting, another Celery), it must do no
harm: the test opens the task's gate (tests/brokers/tasks.py) only after the redelivery has
placed the order, so a surviving orphan places it second, and order_create's
Idempotency-Key makes it replay the first order. Either way: one order, one unit of stock.
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


def test_a_killed_worker_s_task_is_redelivered_at_once_and_placed_once_even_if_its_orphan_runs(
    rabbitmq_vhost, tmp_path
):
    user = UserFactory(username="ada")
    lamp = ProductFactory(stock_quantity=5)
    notes, gate = tmp_path / "notes.txt", tmp_path / "gate"
    queue = f"brokers-{uuid.uuid4().hex}"
    workers = start_workers(tmp_path, ("w1", "w2"), queue=queue, CELERY_BROKER_URL=rabbitmq_vhost)
    orphan = None
    try:
        with app.connection_for_write(rabbitmq_vhost) as amqp:
            order_place_noted_task.apply_async(
                kwargs={"user_id": user.pk, "product_id": lamp.pk, "key": "order-1",
                        "notes": str(notes), "gate": str(gate)},
                queue=queue, connection=amqp,
            )  # fmt: skip
        wait_until(lambda: len(notes_of(notes)) == 1)  # started, waiting at the gate
        orphan, main = (int(pid) for pid in notes_of(notes)[0][1:])
        killed = next(worker for worker in workers if worker.pid == main)
        os.kill(main, signal.SIGKILL)  # the worker's main process, as the OOM killer would
        started = time.monotonic()
        wait_until(lambda: len(notes_of(notes)) >= 2, timeout=10)
        print(f"\nredelivered by RabbitMQ {time.monotonic() - started:.2f} s after the kill")
        wait_until(lambda: len(notes_of(notes)) >= 3)  # the redelivery placed the order
        survived = alive(orphan)
        gate.touch()
        if survived:
            wait_until(lambda: len(notes_of(notes)) == 4)  # the orphan finishes too
        print(f"the orphaned pool process {'finished the task' if survived else 'was killed'}")
    finally:
        gate.touch()
        for worker in workers:
            stop_worker(worker)
        if orphan and alive(orphan):
            os.kill(orphan, signal.SIGKILL)

    survivor = next(worker for worker in workers if worker is not killed)
    redelivery = notes_of(notes)[1][1]
    order = Order.objects.get(user=user)
    assert notes_of(notes)[:3] == [
        ["start", str(orphan), str(killed.pid)],
        ["start", redelivery, str(survivor.pid)],  # the other worker's pool process
        ["done", redelivery, str(order.pk), "True"],  # placed the order
    ]
    # A surviving orphan replayed the order; a killed one did nothing more.
    assert notes_of(notes)[3:] == (
        [["done", str(orphan), str(order.pk), "False"]] if survived else []
    )
    assert list(IdempotencyKey.objects.filter(user=user).values_list("key", "order_id")) == [
        ("order-1", order.pk)
    ]
    lamp.refresh_from_db()
    assert lamp.stock_quantity == 4
