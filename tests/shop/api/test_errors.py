"""One error shape (docs/api.md): `fields` is flat, keyed by the input's dotted path, for
every kind of mistake, and `message` is a sentence that never starts with a field's name."""

import pytest

from shop.factories import ProductFactory
from shop.models import Order
from tests.shop.api.conftest import error, row_counts
from tests.shop.api.test_orders import ADDRESS, ORDERS

pytestmark = pytest.mark.django_db


def test_a_bad_line_an_unknown_product_and_an_empty_list_answer_in_one_shape(api):
    desk = ProductFactory(stock_quantity=5)
    before = row_counts()

    bad_line = api.post(
        ORDERS, {"items": [{"product": desk.pk, "quantity": 0}], "shipping_address": ADDRESS}
    )
    unknown = api.post(
        ORDERS,
        {"items": [{"product": desk.pk + 1000, "quantity": 1}], "shipping_address": ADDRESS},
    )
    empty = api.post(ORDERS, {"items": [], "shipping_address": ADDRESS})

    assert error(bad_line, 400, "invalid") == {
        "code": "invalid",
        "message": "Ensure this value is greater than or equal to 1.",
        "fields": {"items.0.quantity": ["Ensure this value is greater than or equal to 1."]},
    }
    assert error(unknown, 400, "product_unavailable") == {
        "code": "product_unavailable",
        "message": f"Some products do not exist or are not for sale: {desk.pk + 1000}.",
        "fields": {
            "items.0.product": [f"Product {desk.pk + 1000} does not exist or is not for sale."]
        },
    }
    assert error(empty, 400, "invalid") == {
        "code": "invalid",
        "message": "Ensure this field has at least 1 elements.",
        "fields": {"items": ["Ensure this field has at least 1 elements."]},
    }
    assert row_counts() == before
    assert Order.objects.count() == 0


def test_every_bad_field_is_listed_under_its_path(api):
    body = error(
        api.post(
            ORDERS,
            {
                "items": [{"product": 1, "quantity": 1}, {"product": "two", "quantity": 1}],
                "shipping_address": {**ADDRESS, "country": "gb", "city": ""},
            },
        ),
        400,
        "invalid",
    )

    assert body["fields"] == {
        "items.1.product": ["A valid integer is required."],
        "shipping_address.city": ["This field may not be blank."],
        "shipping_address.country": ["Use the ISO 3166-1 alpha-2 code, e.g. GB."],
    }
    assert body["message"] == "A valid integer is required."


def test_an_unknown_body_key_is_refused_as_an_unknown_query_parameter_is(anon):
    before = row_counts()

    body = error(
        anon.post(
            "/api/v1/auth/register/",
            {"username": "ada", "email": "ada@example.com", "password": "pw-x-9-long", "age": 9},
        ),
        400,
        "invalid",
    )
    query = error(anon.get("/api/v1/products/?colour=red"), 400, "invalid")

    assert body == {
        "code": "invalid",
        "message": "Unknown field. Known: username, email, password.",
        "fields": {"age": ["Unknown field. Known: username, email, password."]},
    }
    assert list(query["fields"]) == ["colour"]
    assert row_counts() == before
