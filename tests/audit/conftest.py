import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection


def db_now():
    """The database's clock: what event timestamps (clock_timestamp()) are compared with."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def events(event_model, obj=None, **filters):
    """(label, context) of `obj`'s events (or all of them), oldest first."""
    qs = event_model.objects.filter(**filters)
    if obj is not None:
        qs = qs.filter(pgh_obj_id=obj.pk)
    return list(qs.order_by("pgh_id").values_list("pgh_label", "pgh_context"))


@pytest.fixture(autouse=True)
def content_types_cached():
    """Query budgets are counted with ContentType's per-process cache warm, as in production."""
    ContentType.objects.get_for_models(*apps.get_app_config("shop").get_models())
