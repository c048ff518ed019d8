"""/metrics: Prometheus text format, the documented series, real figures; only for a staff
session with the dashboard permission or the configured bearer token; the example alert
rules use only series it exports."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from dbhealth.metrics import SERIES
from dbhealth.models import Alert

pytestmark = pytest.mark.django_db

RULES_FILE = Path(django_settings.BASE_DIR) / "docs" / "prometheus" / "alert-rules.yml"


def families(response) -> dict:
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def value(family, **labels):
    [found] = [s.value for s in family.samples if s.labels == labels]
    return found


def test_metrics_parse_and_carry_every_documented_series(viewer_client, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE SEQUENCE {schema}.s MAXVALUE 200")
    conn.execute(f"SELECT setval('{schema}.s', 150)")
    conn.execute(f"CREATE TABLE {schema}.t (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute(f"CREATE TABLE {schema}.t_a PARTITION OF {schema}.t FOR VALUES FROM "
                 "(MINVALUE) TO (current_date + 10)")  # fmt: skip
    Alert.objects.create(rule="invalid_index", subject="x", message="m")

    found = families(viewer_client.get("/metrics"))

    assert set(found) == set(SERIES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int,"
            " pg_database_size(current_database()), current_database()"
        )
        usable, size, name = cursor.fetchone()
    assert value(found["dbhealth_connections_usable"]) == usable
    assert value(found["dbhealth_sequence_used_ratio"], sequence=f"{schema}.s") == 0.75
    days = value(found["dbhealth_partition_runway_days"], table=f"{schema}.t")
    assert 9 < days <= 10  # midnight at the end of the tenth day, in the session's time zone
    assert value(found["dbhealth_alerts_open"], rule="invalid_index") == 1
    assert value(found["dbhealth_alerts_open"], rule="wraparound") == 0
    assert value(found["dbhealth_up"]) == 1
    assert value(found["dbhealth_database_size_bytes"], database=name) == pytest.approx(
        size, rel=0.01
    )  # the page's own statements may add a block between the two reads


def test_a_bearer_token_is_accepted_and_anything_else_is_refused(client, settings, viewer):
    settings.DBHEALTH_METRICS_TOKEN = "s3cret-token-for-tests"

    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-tests")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    anonymous = client.get("/metrics")

    assert ok.status_code == 200
    assert "dbhealth_up" in families(ok)
    for refused in (wrong, anonymous):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"dbhealth_" not in refused.content


def test_staff_without_the_dashboard_permission_is_refused(client, settings):
    from shop.factories import UserFactory

    settings.DBHEALTH_METRICS_TOKEN = ""  # and an empty token matches nothing
    client.force_login(UserFactory(username="clerk", is_staff=True))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_the_example_alert_rules_use_only_exported_series():
    rules = [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]
    used = set()
    for rule in rules:
        used |= set(re.findall(r"\bdbhealth_[a-z_]+\b", rule["expr"]))
    assert len(rules) == 13
    assert used <= set(SERIES)
    assert used == set(SERIES) - {"dbhealth_database_size_bytes"}  # size: a chart, no alert
