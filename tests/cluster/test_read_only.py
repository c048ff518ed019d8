"""A write that reaches a server in recovery is a 503, not a 500.

During a failover HAProxy routes to the new leader as soon as Patroni calls it the primary,
a moment before its promotion ends, and a demoted leader keeps its sessions until they are
cut: an INSERT there fails with "cannot execute INSERT in a read-only transaction"
(SQLSTATE 25006, psycopg's ReadOnlySqlTransaction, Django's InternalError). The failover
test met it once as a 500. Here the real server refuses the write the same way: the test's
transaction is made read-only before the request, whose savepoint inherits it.

A COMMIT cut by the leader's death is classified the same way; reproducing it needs a dying
server (the failover test), so here the exception psycopg raises is checked as such.
"""

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from shop.api.exceptions import is_database_outage
from shop.factories import ProductFactory, shipping_address_for
from tests.shop.api.conftest import client_for, error, row_counts

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
def test_a_checkout_on_a_read_only_server_is_a_503_with_retry_after(
    settings, debug, immediate_constraints
):
    from shop.factories import UserFactory

    settings.DEBUG = debug
    product = ProductFactory(stock_quantity=5, price="2.50")
    api: APIClient = client_for(UserFactory(username="ada"))
    api.raise_request_exception = False
    before = row_counts()
    immediate_constraints()  # the setup's deferred checks run now, while writes are allowed
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL transaction_read_only = on")

    response = api.post(
        "/api/v1/orders/",
        {"items": [{"product": product.pk, "quantity": 1}],
         "shipping_address": shipping_address_for("Ada")},
        format="json",
        HTTP_IDEMPOTENCY_KEY="read-only-1",
    )  # fmt: skip

    body = error(response, 503, "unavailable")
    assert body["message"] == "The database is unavailable; please try again in a moment."
    assert response["Retry-After"] == "5"
    assert row_counts() == before
    product.refresh_from_db()
    assert product.stock_quantity == 5


def wrapped(cause: Exception):
    """The exception as Django raises it: its own class, psycopg's error as the cause."""
    from django.db import InternalError

    try:
        raise InternalError(str(cause)) from cause
    except InternalError as exc:
        return exc


def test_a_commit_cut_by_the_leaders_death_is_an_outage():
    """The failover test met it once as a 500: psycopg's own error (no SQLSTATE) when the
    dying leader's connection answered COMMIT with two results."""
    error = psycopg.InternalError("received 2 results from command 'COMMIT'")
    assert error.sqlstate is None
    assert is_database_outage(wrapped(error)) is True


def test_other_internal_errors_stay_bugs():
    from django.db import InternalError

    # A server-side internal error (it has a SQLSTATE: XX000) is a bug, not an outage.
    server_side = psycopg.errors.lookup("XX000")("internal error")
    assert is_database_outage(wrapped(server_side)) is False
    assert is_database_outage(InternalError("a bug")) is False
    assert is_database_outage(ValueError()) is False
