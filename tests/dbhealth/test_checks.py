"""The DBHEALTH setting is checked once, at start-up, by a system check with an id; the pages
read it without checking again."""

import pytest
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from dbhealth.conf import DEFAULTS, config


def dbhealth_errors() -> list[Error]:
    return [e for e in run_checks() if e.id.startswith("dbhealth.")]


def test_the_projects_settings_pass(settings):
    assert set(settings.DBHEALTH) <= set(DEFAULTS)  # the suite's own overrides are known keys
    assert dbhealth_errors() == []


def test_an_unknown_key_is_an_error_at_start_up(settings):
    settings.DBHEALTH = {"SLOW_QUERY_MS": 50, "SLOW_QUERY_SM": 50, "CACHE_HIT": 0.9}

    assert dbhealth_errors() == [
        Error(
            "Unknown DBHEALTH setting 'CACHE_HIT'.",
            hint="Every key and its default is in dbhealth/conf.py; check the spelling.",
            obj="CACHE_HIT",
            id="dbhealth.E001",
        ),
        Error(
            "Unknown DBHEALTH setting 'SLOW_QUERY_SM'.",
            hint="Every key and its default is in dbhealth/conf.py; check the spelling.",
            obj="SLOW_QUERY_SM",
            id="dbhealth.E001",
        ),
    ]
    with pytest.raises(SystemCheckError, match=r"dbhealth\.E001"):
        call_command("check")
    # The known key still applies; the pages no longer raise on every request.
    assert config()["SLOW_QUERY_MS"] == 50


def test_a_setting_that_is_not_a_dict_is_an_error(settings):
    settings.DBHEALTH = [("SLOW_QUERY_MS", 50)]

    assert [(e.id, e.msg) for e in dbhealth_errors()] == [
        ("dbhealth.E002", "DBHEALTH must be a dict of thresholds, not list.")
    ]


@pytest.mark.django_db
def test_a_page_reads_the_known_keys_and_does_not_raise(settings, viewer_client):
    settings.DBHEALTH = {"SPACE_ROWS": 1, "SPACE_ROSW": 2}

    response = viewer_client.get("/admin/dbhealth/space/")

    assert response.status_code == 200
    assert len(response.context["data"]["tables"]) == 1  # the known key applies
