"""Retention deletes only events older than the cutoff, a small batch per transaction."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import EVENT_MODELS, CategoryEvent
from audit.retention import audit_prune
from shop.factories import CategoryFactory
from tests.audit.conftest import db_now

pytestmark = pytest.mark.django_db


def test_prune_deletes_only_older_events_in_batches():
    old = [CategoryFactory() for _ in range(5)]
    cutoff = db_now()
    new = CategoryFactory()

    with CaptureQueriesContext(connection) as queries:
        result = audit_prune(cutoff=cutoff, batch_size=2)

    assert result.deleted["audit_categoryevent"] == 5
    assert sum(result.deleted.values()) == 5
    assert result.batches == 3  # 2 + 2 + 1
    assert list(CategoryEvent.objects.values_list("pgh_obj_id", flat=True)) == [new.pk]
    assert {c.pk for c in old}.isdisjoint(
        CategoryEvent.objects.values_list("pgh_obj_id", flat=True)
    )
    # Each batch in its own atomic block (a transaction of its own when the command runs):
    # the category table's three batches, then one empty look at each other table.
    sql = [q["sql"] for q in queries]
    deletes = [s for s in sql if "DELETE FROM" in s]
    assert len(deletes) == 3 + len(EVENT_MODELS) - 1
    assert sum(s.startswith("SAVEPOINT") for s in sql) == len(deletes)
    assert sum(s.startswith("RELEASE SAVEPOINT") for s in sql) == len(deletes)


def test_prune_command_uses_the_retention_setting(settings, capsys):
    CategoryFactory()
    settings.AUDIT_RETENTION_DAYS = 30

    call_command("prune_audit")

    assert CategoryEvent.objects.count() == 1  # written just now: kept
    assert capsys.readouterr().out.startswith("Deleted 0 audit events written before ")


def test_prune_command_with_zero_days_deletes_everything_written_before_now(capsys):
    CategoryFactory()
    CategoryFactory()

    call_command("prune_audit", days=0, batch_size=1)

    assert CategoryEvent.objects.count() == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(" in 2 batches.")
    assert out[1:] == ["  audit_categoryevent: 2"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "--batch-size must be at least 1."),
        ({"days": -1}, "--days must be 0 or more."),
    ],
)
def test_prune_command_refuses_bad_options_and_deletes_nothing(options, message):
    CategoryFactory()

    with pytest.raises(CommandError, match=f"^{message}$"):
        call_command("prune_audit", **options)

    assert CategoryEvent.objects.count() == 1
