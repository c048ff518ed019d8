"""The README's curl walk-through, run as it is written, against a live server.

The shell block under "Try it with curl" is read from README.md and run by bash (with -e
and pipefail: a failed command or an HTTP error body that breaks a pipe fails the test),
with BASE pointing at the live server; what it prints is compared line by line, and the
database is asked what it did.
"""

import re
import subprocess
from pathlib import Path

import pytest

from shop.factories import CategoryFactory, ProductFactory
from shop.models import IdempotencyKey, Order, User

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[3] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text[text.index("### Try it with curl") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_curl_walkthrough_runs_as_written(live_server):
    books = CategoryFactory(name="Books", slug="books")
    lamp = ProductFactory(name="Copper lamp", category=books, stock_quantity=4)
    ProductFactory(name="Oak desk", category=books, stock_quantity=0)  # not in stock

    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", walkthrough()],
        env={"PATH": "/usr/bin:/bin", "BASE": f"{live_server.url}/api/v1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    order = Order.objects.get()
    assert result.stdout.splitlines() == [
        "grace",
        "Books",
        "Copper lamp",
        "Idempotent-Replayed: true",
        "pending",
        "True",
        "cancelled",
    ]
    # One order (the replay made none), cancelled, its one unit back on sale.
    assert (order.user.username, order.status) == ("grace", Order.Status.CANCELLED)
    assert list(order.items.values_list("product_id", "quantity")) == [(lamp.pk, 1)]
    assert IdempotencyKey.objects.filter(user=order.user).count() == 1
    lamp.refresh_from_db()
    assert lamp.stock_quantity == 4
    assert User.objects.filter(username="grace").count() == 1
