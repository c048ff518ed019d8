"""The optimistic-locking pattern docs/transactions.md shows: the version in the WHERE clause."""

import pytest
from django.db import connection

from shop.factories import ProductFactory
from shop.models import Product

pytestmark = pytest.mark.django_db


def update_price(product_id: int, price: str, seen_version: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE shop_product SET price = %s WHERE id = %s AND version = %s RETURNING version",
            [price, product_id, seen_version],
        )
        return cursor.fetchall()


def test_the_first_writer_wins_and_a_stale_version_updates_nothing():
    product = ProductFactory(price="100.00")
    assert product.version == 1

    assert update_price(product.pk, "90.00", 1) == [(2,)]
    assert update_price(product.pk, "80.00", 1) == []

    product.refresh_from_db()
    assert (str(product.price), product.version) == ("90.00", 2)


def test_the_orm_form_returns_the_row_count():
    product = ProductFactory(price="100.00")

    assert Product.objects.filter(pk=product.pk, version=1).update(price="90.00") == 1
    assert Product.objects.filter(pk=product.pk, version=1).update(price="80.00") == 0
