"""A task for tests/faults/test_worker_killed.py, loaded by its worker with --include.

It places one order through the service with an Idempotency-Key (unique per user and key in
shop_idempotencykey), notes each delivery in a file, and on its first delivery then stalls
until the test kills the process: the worst moment, the effect committed but the task not
yet acknowledged.
"""

import os
import time
from pathlib import Path

from celery import shared_task

from shop import services
from shop.factories import shipping_address_for
from shop.models import User

STALL = 60  # seconds; the test kills the process long before


@shared_task
def order_place_task(*, user_id: int, product_id: int, key: str, deliveries: str) -> None:
    order, created = services.order_create(
        user=User.objects.get(pk=user_id),
        lines=[services.OrderLine(product_id=product_id, quantity=1)],
        shipping_address=shipping_address_for("Ada"),
        idempotency_key=key,
    )
    notes = Path(deliveries)
    first = not notes.exists()
    with notes.open("a") as fh:
        fh.write(f"{os.getpid()} {order.pk} {created}\n")
    if first:
        time.sleep(STALL)
