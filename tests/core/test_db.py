"""The one execute wrapper (core/db.py): what the parts add, in its order, in one round trip."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core import db

pytestmark = pytest.mark.django_db


class Probe(db.StatementPart):
    """A part that adds one of everything, and notes which statements it was asked about."""

    def __init__(self):
        self.asked = []

    def commands(self, statement):
        return ["SET LOCAL lock_timeout = '3s'"]

    def settings(self, statement):
        self.asked.append(statement.keyword.split()[0])
        return {"probe.value": "50%"}

    def comment(self, statement):
        return "probe='yes'"


def registered(monkeypatch, part: db.StatementPart) -> db.StatementPart:
    """`part` registered for one test, after the project's own parts."""
    monkeypatch.setattr(db, "_parts", list(db._parts))
    monkeypatch.setattr(db, "_hooks", {hook: list(parts) for hook, parts in db._hooks.items()})
    db.register(part)
    return part


@pytest.fixture
def probe(monkeypatch):
    return registered(monkeypatch, Probe())


def test_commands_settings_statement_and_comment_go_in_that_order_in_one_round_trip(probe):
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('probe.value'), current_setting('lock_timeout')")
        row = cursor.fetchone()

    assert row == ("50%", "3s")  # the cursor is left on the statement's own rows
    assert [q["sql"] for q in queries.captured_queries] == [
        "SET LOCAL lock_timeout = '3s'; SELECT set_config('probe.value', '50%', true); "
        "SELECT current_setting('probe.value'), current_setting('lock_timeout')\n"
        "/*probe='yes'*/"
    ]


def test_a_statement_without_parameters_keeps_its_literal_percent_signs(probe):
    with connection.cursor() as cursor:
        cursor.execute("SELECT '100%', current_setting('probe.value')")  # no parameters
        assert cursor.fetchone() == ("100%", "50%")
        cursor.execute("SELECT %s || '%%'", ["5"])  # parameters: '%%' is a literal '%'
        assert cursor.fetchone() == ("5%",)


def test_transaction_control_carries_no_prefix_but_the_statements_inside_do(probe):
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint in the test's
        cursor.execute("SELECT 1")

    assert probe.asked == ["select"]  # not SAVEPOINT, not RELEASE SAVEPOINT


def test_executemany_has_its_prefix_sent_just_before_it_in_the_transaction(probe):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE probe_rows (n int, value text, timeout text)")
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO probe_rows VALUES "
            "(%s, current_setting('probe.value'), current_setting('lock_timeout'))",
            [(1,), (2,)],
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT n, value, timeout FROM probe_rows ORDER BY n")
        assert cursor.fetchall() == [(1, "50%", "3s"), (2, "50%", "3s")]
    assert len(queries.captured_queries) == 1  # the prefix is not a query of its own


class BadName(db.StatementPart):
    def settings(self, statement):
        return {"x', 'y', true); --": "1"}


def test_a_setting_name_is_checked_before_it_goes_into_the_text(monkeypatch):
    registered(monkeypatch, BadName())

    with pytest.raises(ValueError, match="not a setting name"), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
