"""Events cannot be changed or deleted, by the ORM or raw SQL; retention is the one exception."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, connection, transaction

from audit.models import EVENT_MODELS, PRUNE_BEFORE_SETTING, CategoryEvent
from shop.factories import (
    CategoryFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    UserProfileFactory,
)
from shop.models import UserGroup
from tests.audit.conftest import db_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_event_per_table():
    """At least one event in every event table."""
    user = UserFactory()
    user.groups.add(Group.objects.create(name="G"))
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    UserProfileFactory(user=user)
    OrderFactory(user=user, lines=[(ProductFactory(), 1)])
    assert UserGroup.objects.count() == 1
    for event_model in EVENT_MODELS:
        assert event_model.objects.exists(), event_model


def refused(sql: str, params=()) -> str:
    """The error a statement raises (inside a savepoint, so the test can go on)."""
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)
    return str(error.value).splitlines()[0]


@pytest.mark.parametrize("event_model", EVENT_MODELS, ids=lambda m: m.__name__)
def test_raw_update_and_delete_of_events_fail(one_event_per_table, event_model):
    table = event_model._meta.db_table
    before = list(event_model.objects.order_by("pgh_id").values())

    update = refused(f"UPDATE {table} SET pgh_label = 'forged'")  # noqa: S608
    delete = refused(f"DELETE FROM {table}")  # noqa: S608

    # The trigger runs on the partition that holds the row (audit/partitions.py): events of
    # this month are in the one made when the table was partitioned.
    assert update == f"audit events are immutable: UPDATE on {table}__legacy refused"
    assert delete == f"audit events are immutable: DELETE on {table}__legacy refused"
    assert list(event_model.objects.order_by("pgh_id").values()) == before


def test_orm_update_and_delete_of_events_fail():
    category = CategoryFactory(name="Books")
    event = CategoryEvent.objects.get(pgh_obj_id=category.pk)

    with pytest.raises(IntegrityError), transaction.atomic():
        CategoryEvent.objects.filter(pk=event.pk).update(name="Forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        event.delete()

    assert list(CategoryEvent.objects.values_list("pgh_id", "name")) == [(event.pk, "Books")]


def test_the_prune_setting_lets_only_older_events_be_deleted_and_never_updated():
    old = CategoryFactory()
    cutoff = db_now()
    new = CategoryFactory()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true)", [PRUNE_BEFORE_SETTING, cutoff.isoformat()]
        )
    update = refused("UPDATE audit_categoryevent SET name = 'x' WHERE pgh_obj_id = %s", [old.pk])
    delete_new = refused("DELETE FROM audit_categoryevent WHERE pgh_obj_id = %s", [new.pk])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_categoryevent WHERE pgh_obj_id = %s", [old.pk])
        deleted = cursor.rowcount

    assert update.startswith("audit events are immutable: UPDATE")
    assert delete_new.startswith("audit events are immutable: DELETE")
    assert deleted == 1
    assert list(CategoryEvent.objects.values_list("pgh_obj_id", flat=True)) == [new.pk]


def test_event_ids_are_unique_across_tables():
    OrderFactory(lines=[(ProductFactory(), 1)])

    ids = [pk for m in EVENT_MODELS for pk in m.objects.values_list("pgh_id", flat=True)]

    # user, category, product, order, order item: one insert each, five tables, five ids
    assert len(ids) == len(set(ids)) == 5
