"""Celery beat on the Application page: its last run is the newest snapshot (the snapshot task
runs only on beat's schedule), late after three intervals without one."""

import datetime as dt

import pytest

from dbhealth.models import Snapshot
from dbhealth.panels.application import beat, beat_check

NOW = dt.datetime(2026, 12, 8, 1, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("minutes_ago", "status", "summary"),
    [
        (None, "warning", "no snapshot yet: beat schedules one every 5 min"),
        (0.5, "ok", "the last snapshot is 30 s old (every 5 min)"),
        (15, "ok", "the last snapshot is 15 min old (every 5 min)"),  # three intervals: on time
        (16, "warning",
         "the last snapshot is 16 min old (every 5 min): beat or the worker has stopped"),
    ],
)  # fmt: skip
def test_beat_is_late_after_three_snapshot_intervals(minutes_ago, status, summary):
    latest = None if minutes_ago is None else NOW - dt.timedelta(minutes=minutes_ago)

    check = beat_check(beat(latest, NOW))

    assert (check.name, check.status, check.summary) == ("Celery beat", status, summary)


def test_a_schedule_without_the_snapshot_task_is_a_warning(settings):
    settings.CELERY_BEAT_SCHEDULE = {}

    check = beat_check(beat(NOW, NOW))

    assert (check.status, check.summary) == (
        "warning",
        "dbhealth-snapshot is not in CELERY_BEAT_SCHEDULE",
    )


@pytest.mark.django_db
def test_the_application_page_shows_beats_last_run(viewer_client):
    s = Snapshot.objects.create(database_bytes=1)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=2)
    Snapshot.objects.filter(pk=s.pk).update(captured_at=at)

    response = viewer_client.get("/admin/dbhealth/application/")

    [check] = [c for c in response.context["checks"] if c.name == "Celery beat"]
    assert check.status == "ok"
    assert response.context["data"]["beat"]["latest"] == at
    page = response.content.decode()
    assert f"last ran at <strong>{at:%Y-%m-%d %H:%M:%S}</strong>" in page
    assert "every 5.0 min" in page  # the seconds filter of 300


@pytest.mark.django_db
def test_the_application_page_without_a_snapshot_says_beat_has_not_run(viewer_client):
    response = viewer_client.get("/admin/dbhealth/application/")

    assert "no snapshot yet: beat has not run the snapshot task" in response.content.decode()
    [check] = [c for c in response.context["checks"] if c.name == "Celery beat"]
    assert check.status == "warning"
