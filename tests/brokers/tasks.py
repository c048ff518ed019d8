"""A task for tests/brokers/test_rabbitmq_redelivery.py, loaded by its workers with --include.

It places one order through the service (shop.services.order_create) with an
Idempotency-Key, noting in a file when each delivery starts (its pid and its worker's main
pid) and what it got back when it is done. The first delivery waits, before placing the
order, until the test creates the file `gate` (or 60 s pass): the test kills its worker's
main process meanwhile, so if that delivery's process outlives its worker, it places the
order after the redelivery did.
"""

import os
import time
from pathlib import Path

from celery import shared_task

from shop import services
from shop.factories import shipping_address_for
from shop.models import User

GATE_WAIT = 60  # seconds at most; the test opens the gate long before


@shared_task
def order_place_noted_task(
    *, user_id: int, product_id: int, key: str, notes: str, gate: str
) -> None:
    first = not Path(notes).exists()
    with Path(notes).open("a") as fh:
        fh.write(f"start {os.getpid()} {os.getppid()}\n")
    deadline = time.monotonic() + GATE_WAIT
    while first and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    order, created = services.order_create(
        user=User.objects.get(pk=user_id),
        lines=[services.OrderLine(product_id=product_id, quantity=1)],
        shipping_address=shipping_address_for("Ada"),
        idempotency_key=key,
    )
    with Path(notes).open("a") as fh:
        fh.write(f"done {os.getpid()} {order.pk} {created}\n")
