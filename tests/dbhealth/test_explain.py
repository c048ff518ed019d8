"""The EXPLAIN panel: what it refuses (with the reason, and nothing run), the plan it shows,
and the read-only, rolled-back, time-limited transaction it runs in."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError

from dbhealth.conf import config
from dbhealth.panels import explain
from dbhealth.stats import plans
from shop.factories import OrderFactory, ProductFactory
from shop.models import Product

pytestmark = pytest.mark.django_db

PAGE = "/admin/dbhealth/explain/"


def post(client, sql, analyze=False):
    data = {"sql": sql}
    if analyze:
        data["analyze"] = "on"
    return client.post(PAGE, data)


ONE = "One statement at a time: this is 2 statements."
ONLY = "Only SELECT, INSERT, UPDATE, DELETE and MERGE can be explained, not "
RUNS = "ANALYZE runs the statement"
REFUSALS = [
    ("SELECT 1; SELECT 2", False, ONE),
    ("SELECT 1; DELETE FROM shop_product", False, ONE),
    ("SELECT 1; -- and then", False, "Nothing may follow a semicolon, not even a comment."),
    ("SELECT 1;;", False, "Nothing may follow a semicolon, not even another semicolon."),
    ("", False, "This field is required."),
    ("-- only a comment", False, "Enter a statement to explain: this is only comments."),
    ("EXPLAIN SELECT 1", False, "Leave out EXPLAIN and its options: the dashboard adds them."),
    ("DROP TABLE shop_product", False, ONLY + "DROP."),
    ("VACUUM shop_product", False, ONLY + "VACUUM."),
    ("DELETE FROM shop_product", True, RUNS + ": only a SELECT may be analyzed, not DELETE."),
    (
        "UPDATE shop_product SET price = 0",
        True,
        RUNS + ": only a SELECT may be analyzed, not UPDATE.",
    ),
    (
        "WITH gone AS (DELETE FROM shop_product RETURNING id) SELECT * FROM gone",
        True,
        RUNS + ": this SELECT also writes (DELETE); explain it without ANALYZE.",
    ),
    (
        "SELECT * FROM shop_product FOR UPDATE",
        True,
        RUNS + ": SELECT ... FOR UPDATE/SHARE locks rows.",
    ),
    (
        "SELECT pg_terminate_backend(1), pg_sleep(1)",
        True,
        RUNS + ", and it calls volatile function(s) that may change something:"
        " pg_sleep, pg_terminate_backend. Explain it without ANALYZE.",
    ),
    (
        "SELECT * FROM shop_product WHERE id = $1",
        True,
        RUNS + ": replace the $1, $2 ... placeholders with values.",
    ),
]


@pytest.mark.parametrize(("sql", "analyze", "message"), REFUSALS)
def test_refused_statements_say_why_and_run_nothing(viewer_client, sql, analyze, message):
    product = ProductFactory(price=Decimal("9.99"))

    response = post(viewer_client, sql, analyze)

    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["form"].errors == {
        ("sql" if message == "This field is required." else "__all__"): [message]
    }
    assert Product.objects.get(pk=product.pk).price == Decimal("9.99")  # there, unchanged


def test_a_delete_is_planned_not_run(viewer_client):
    product = ProductFactory()

    response = post(viewer_client, "DELETE FROM shop_product WHERE id = 1")

    # Which scan finds the row depends on the table's statistics at that moment (autovacuum
    # analyzes it as other tests commit rows): the shape is what is asserted.
    result = response.context["result"]
    [(modify, table), (scan, scanned)] = [(n["type"], n["relation"]) for n in result["nodes"]]
    assert (modify, table, scanned) == ("ModifyTable", "shop_product", "shop_product")
    assert scan in {"Index Scan", "Seq Scan"}
    assert result["analyzed"] is False
    assert Product.objects.filter(pk=product.pk).exists()


def test_explain_analyze_of_a_join_marks_the_costly_node(viewer_client):
    OrderFactory(lines=[(ProductFactory(), 1)])

    response = post(
        viewer_client,
        "SELECT count(*) FROM shop_orderitem i JOIN shop_product p ON p.id = i.product_id "
        "WHERE p.description LIKE '%nothing like it%';",
        analyze=True,
    )

    result = response.context["result"]
    assert result["analyzed"] is True
    assert result["nodes"][0]["type"] == "Aggregate"
    assert all(n["actual_rows"] is not None for n in result["nodes"])
    assert [n["type"] for n in result["nodes"] if n["costly"]] != []
    assert b'class="node costly"' in response.content
    assert b"costly:" in response.content


def test_a_statement_from_pg_stat_statements_gets_a_generic_plan(viewer_client):
    response = post(viewer_client, "SELECT name FROM shop_product WHERE id = $1")

    if connection.pg_version >= 160000:
        [node] = response.context["result"]["nodes"]  # one scan; which one, statistics decide
        assert (node["type"] in {"Index Scan", "Seq Scan"}, node["relation"]) == (
            True,
            "shop_product",
        )
    else:
        assert response.context["form"].errors == {
            "__all__": [
                "This statement has $1-style placeholders: PostgreSQL 16+ explains those as a "
                "generic plan; on this server, replace them with values."
            ]
        }


def test_the_statement_timeout_stops_a_long_analyze(viewer_client, dbhealth_settings):
    dbhealth_settings(EXPLAIN_TIMEOUT_MS=1)

    response = post(
        viewer_client, "SELECT count(*) FROM generate_series(1, 50000000)", analyze=True
    )

    assert response.context["form"].errors == {
        "__all__": ["PostgreSQL refused it: canceling statement due to statement timeout"]
    }


def test_the_transaction_is_read_only_even_if_parsing_let_a_write_through(db):
    # The second line of defence: a statement that slipped past parse() still cannot write.
    product = ProductFactory()
    statement = plans.Statement(
        "WITH gone AS (DELETE FROM shop_product RETURNING id) SELECT * FROM gone",
        "SELECT",
        False,
        (),
    )

    with (
        pytest.raises(InternalError, match="in a read-only transaction"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        plans.run(cursor, statement, analyze=True, config=config(), version=180000)

    assert Product.objects.filter(pk=product.pk).exists()


def test_the_queries_page_links_a_statement_into_the_form(viewer_client):
    response = viewer_client.get(PAGE, {"queryid": "-42"})

    assert response.status_code == 200
    assert response.context["form"].initial == {}


def test_parse_strips_one_trailing_semicolon_and_keeps_strings_whole():
    statement = explain.parse("SELECT ';' AS semi, 'a -- b' AS dash ;  ", analyze=True)

    assert statement.sql == "SELECT ';' AS semi, 'a -- b' AS dash"
    assert statement.kind == "SELECT"
