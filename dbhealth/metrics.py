"""GET /metrics: the alert rules' figures in the Prometheus text format.

Who may read it: a staff session with dbhealth.view_dashboard (a person checking), or a scraper
sending `Authorization: Bearer <settings.DBHEALTH_METRICS_TOKEN>` (env DBHEALTH_METRICS_TOKEN;
empty disables tokens). Anyone else: 401 with WWW-Authenticate, and nothing is measured.
Every series is documented in docs/monitoring.md; docs/prometheus/alert-rules.yml uses them.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from dbhealth.alerts import RULES, measure
from dbhealth.conf import config
from dbhealth.models import Alert
from dbhealth.stats.cursor import READ_LOCK_TIMEOUT, read_only_settings
from dbhealth.views import PERMISSION

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# name -> help; the documented series (a test checks the output carries each one).
SERIES = {
    "dbhealth_up": "1 when the figures below could be read from PostgreSQL.",
    "dbhealth_database_size_bytes": "Size of this database.",
    "dbhealth_connections": "Client connections of the server, by state.",
    "dbhealth_connections_usable": "max_connections minus superuser_reserved_connections.",
    "dbhealth_cache_hit_ratio": "Share of block reads served from shared buffers, by kind.",
    "dbhealth_long_running_seconds": "Age of the running statement, per active session.",
    "dbhealth_idle_in_transaction_seconds": "Time idle in an open transaction, per session.",
    "dbhealth_replication_lag_seconds": "Replay lag per replica (on a replica: its own).",
    "dbhealth_replication_slot_retained_bytes": "WAL kept by each replication slot.",
    "dbhealth_xid_age": "Transaction-id age (age of datfrozenxid), per database.",
    "dbhealth_sequence_used_ratio": "last_value against the sequence's (or column's) maximum.",
    "dbhealth_partition_runway_days": "Days until the last partition of a table ends.",
    "dbhealth_invalid_indexes": "Indexes marked invalid (a failed CREATE INDEX CONCURRENTLY).",
    "dbhealth_slow_query_regressions": "Statements whose mean time regressed (alert rule).",
    "dbhealth_alerts_open": "Open dashboard alerts, per rule.",
}


class Figures:
    def __init__(self, figures: dict, open_alerts: dict[str, int]):
        self.f = figures
        self.open_alerts = open_alerts

    def gauge(self, name, labels=()):
        return GaugeMetricFamily(name, SERIES[name], labels=list(labels))

    def collect(self):
        f = self.f
        g = self.gauge("dbhealth_up")
        g.add_metric([], 1)
        yield g
        g = self.gauge("dbhealth_database_size_bytes", ["database"])
        g.add_metric([f["server"]["database"]], f["server"]["database_bytes"])
        yield g
        g = self.gauge("dbhealth_connections", ["state"])
        for c in f["connections"]:
            g.add_metric([c["state"]], c["connections"])
        yield g
        g = self.gauge("dbhealth_connections_usable")
        g.add_metric([], f["connections_usable"])
        yield g
        g = self.gauge("dbhealth_cache_hit_ratio", ["kind"])
        for kind, ratio in f["cache"].items():
            if ratio is not None:
                g.add_metric([kind], ratio)
        yield g
        running = self.gauge("dbhealth_long_running_seconds", ["pid", "application_name"])
        idle = self.gauge("dbhealth_idle_in_transaction_seconds", ["pid", "application_name"])
        for s in f["sessions"]:
            labels = [str(s["pid"]), s["application_name"] or ""]
            if s["state"] == "active" and s["query_seconds"] is not None:
                running.add_metric(labels, s["query_seconds"])
            elif s["state"] != "active" and s["state_seconds"] is not None:
                idle.add_metric(labels, s["state_seconds"])
        yield running
        yield idle
        rep = f["replication"]
        g = self.gauge("dbhealth_replication_lag_seconds", ["replica"])
        for r in rep["replicas"]:
            if r["replay_lag_seconds"] is not None:
                g.add_metric([r["application_name"] or str(r["pid"])], r["replay_lag_seconds"])
        if rep["server"]["replica"] and rep["server"]["replay_lag_seconds"] is not None:
            g.add_metric(["self"], rep["server"]["replay_lag_seconds"])
        yield g
        g = self.gauge("dbhealth_replication_slot_retained_bytes", ["slot", "active"])
        for s in rep["slots"]:
            if s["retained_bytes"] is not None:
                g.add_metric([s["slot_name"], str(s["active"]).lower()], s["retained_bytes"])
        yield g
        g = self.gauge("dbhealth_xid_age", ["database"])
        for d in f["xid"]:
            g.add_metric([d["database"]], d["xid_age"])
        yield g
        g = self.gauge("dbhealth_sequence_used_ratio", ["sequence"])
        for s in f["sequences"]:
            if s["used"] is not None:
                g.add_metric([s["sequence"]], s["used"])
        yield g
        g = self.gauge("dbhealth_partition_runway_days", ["table"])
        for t in f["partition_runway"]:
            g.add_metric([t["relation"]], t["days_left"])
        yield g
        g = self.gauge("dbhealth_invalid_indexes")
        g.add_metric([], len(f["invalid_indexes"]))
        yield g
        g = self.gauge("dbhealth_slow_query_regressions")
        g.add_metric([], len(f["regressions"]))
        yield g
        g = self.gauge("dbhealth_alerts_open", ["rule"])
        for rule in RULES:
            g.add_metric([rule], self.open_alerts.get(rule, 0))
        yield g


def allowed(request) -> bool:
    token = settings.DBHEALTH_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    return request.user.is_authenticated and request.user.has_perm(PERMISSION)


@require_GET
def metrics_view(request):
    if not allowed(request):
        response = HttpResponse("Authentication required.\n", status=401, content_type=CONTENT_TYPE)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    with transaction.atomic(), connection.cursor() as cursor:
        read_only_settings(cursor, statement_timeout="10s", lock_timeout=READ_LOCK_TIMEOUT)
        figures = measure(cursor, config())
        open_alerts = dict(
            Alert.objects.filter(resolved_at__isnull=True)
            .values("rule")
            .annotate(n=Count("id"))
            .values_list("rule", "n")
        )
        transaction.set_rollback(True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Figures(figures, open_alerts))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE)
