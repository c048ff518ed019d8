"""Time travel and object history, read from the event tables."""

from decimal import Decimal

import pytest

from audit.selectors import Change, object_as_of, object_history
from shop.factories import ProductFactory
from shop.models import Product
from tests.audit.conftest import db_now

pytestmark = pytest.mark.django_db


def test_time_travel_returns_the_values_at_three_moments(django_assert_num_queries):
    before_creation = db_now()
    product = ProductFactory(name="Desk", price=Decimal("100.00"), stock_quantity=5)
    first = db_now()
    Product.objects.filter(pk=product.pk).update(price=Decimal("90.00"))
    second = db_now()
    Product.objects.filter(pk=product.pk).update(name="Walnut desk", stock_quantity=4)
    third = db_now()

    with django_assert_num_queries(1):
        at_first = object_as_of(model=Product, pk=product.pk, at=first)
    at_second = object_as_of(model=Product, pk=product.pk, at=second)
    at_third = object_as_of(model=Product, pk=product.pk, at=third)

    def pick(values):
        return (values["name"], values["price"], values["stock_quantity"], values["version"])

    assert pick(at_first) == ("Desk", Decimal("100.00"), 5, 1)
    assert pick(at_second) == ("Desk", Decimal("90.00"), 5, 2)
    assert pick(at_third) == ("Walnut desk", Decimal("90.00"), 4, 3)
    assert at_third["category_id"] == product.category_id
    assert object_as_of(model=Product, pk=product.pk, at=before_creation) is None


def test_time_travel_after_a_delete_finds_nothing():
    product = ProductFactory(name="Lamp")
    alive = db_now()
    pk = product.pk
    product.delete()
    gone = db_now()

    assert object_as_of(model=Product, pk=pk, at=alive)["name"] == "Lamp"
    assert object_as_of(model=Product, pk=pk, at=gone) is None


def test_history_is_newest_first_with_field_level_diffs():
    product = ProductFactory(name="Desk", price=Decimal("100.00"), stock_quantity=5)
    Product.objects.filter(pk=product.pk).update(price=Decimal("90.00"))

    page = object_history(model=Product, pk=product.pk)

    update, insert = page.entries
    assert update.event.pgh_label == "update"
    changed = {c.field: (c.old, c.new) for c in update.changes}
    assert set(changed) == {"price"}  # version and updated_at, bumped by trigger: not shown
    assert changed["price"] == (Decimal("100.00"), Decimal("90.00"))
    assert insert.event.pgh_label == "insert"
    assert Change("name", None, "Desk") in insert.changes
    assert page.older is None


def test_history_pages_diff_their_oldest_entry_against_the_next_page():
    product = ProductFactory(stock_quantity=0)
    for stock in range(1, 4):
        Product.objects.filter(pk=product.pk).update(stock_quantity=stock)

    first = object_history(model=Product, pk=product.pk, limit=2)
    second = object_history(model=Product, pk=product.pk, limit=2, before=first.older)

    assert [e.event.stock_quantity for e in first.entries] == [3, 2]
    stock_change = [c for c in first.entries[1].changes if c.field == "stock quantity"]
    assert stock_change == [Change("stock quantity", 1, 2)]
    assert [e.event.pgh_label for e in second.entries] == ["update", "insert"]
    assert [e.event.stock_quantity for e in second.entries] == [1, 0]
    assert second.older is None
