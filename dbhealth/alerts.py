"""Alert rules: measure() reads the figures once; each rule turns them into breaches, and
/metrics (dbhealth/metrics.py) exports the same figures. alerts_evaluate() opens, refreshes
and resolves Alert rows and mails ADMINS once per incident.

The figures come from the query layer (dbhealth/stats/), as the panels' do. A rule breaches
at the CRITICAL threshold of the dashboard check of the same name (settings in
dbhealth/conf.py), except the slow-query regression, which has its own REGRESSION_* settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.mail import mail_admins
from django.db import connection, transaction

from dbhealth import stats
from dbhealth.conf import config
from dbhealth.stats.cursor import fresh_statistics, statement_timeout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Breach:
    subject: str
    value: float | None
    message: str


def measure(cursor, cfg: dict) -> dict:
    """Every figure the rules and /metrics use, read in one go from the query layer."""
    fresh_statistics(cursor)
    server = stats.server.server(cursor)
    replication = stats.replication.role(cursor)
    slots = stats.replication.slots(cursor)
    return {
        "server": server,
        "connections": stats.server.connections(cursor),
        "connections_usable": server["max_connections"] - server["reserved_connections"],
        "cache": stats.server.cache_hit(cursor),
        "sessions": stats.activity.busy_sessions(cursor),
        "replication": {
            "server": replication,
            "replicas": [] if replication["replica"] else stats.replication.replicas(cursor),
            "slots": slots,
            "inactive_slots": [s for s in slots if not s["active"]],
        },
        "xid": stats.maintenance.xid_databases(cursor),
        "sequences": stats.maintenance.sequences(cursor),
        "partition_runway": stats.space.partition_runway(cursor),
        "invalid_indexes": stats.indexes.invalid(cursor),
        "regressions": stats.statements.regressions(
            cursor,
            baseline_hours=cfg["REGRESSION_BASELINE_HOURS"],
            min_calls=cfg["REGRESSION_MIN_CALLS"],
            min_ms=cfg["REGRESSION_MIN_MS"],
            factor=cfg["REGRESSION_FACTOR"],
        ),
    }


def _cache_hit_ratio(f, cfg):
    return [
        Breach(kind, ratio, f"{kind} cache hit ratio {ratio * 100:.2f}% is below "
               f"{cfg['CACHE_HIT_RATIO_CRITICAL'] * 100:g}%")
        for kind, ratio in f["cache"].items()
        if ratio is not None and ratio < cfg["CACHE_HIT_RATIO_CRITICAL"]
    ]  # fmt: skip


def _connections(f, cfg):
    in_use = sum(c["connections"] for c in f["connections"])
    usage = in_use / f["connections_usable"]
    if usage < cfg["CONNECTIONS_CRITICAL"]:
        return []
    return [Breach("server", usage, f"{in_use} of {f['connections_usable']} connections in use")]


def _long_running(f, cfg):
    return [
        Breach(f"pid {s['pid']}", s["query_seconds"],
               f"statement running for {s['query_seconds']:.1f} s ({s['application_name']})")
        for s in f["sessions"]
        if s["state"] == "active" and s["query_seconds"] >= cfg["LONG_RUNNING_SEC"]
    ]  # fmt: skip


def _idle_in_transaction(f, cfg):
    return [
        Breach(f"pid {s['pid']}", s["state_seconds"],
               f"idle in transaction for {s['state_seconds']:.1f} s ({s['application_name']})")
        for s in f["sessions"]
        if s["state"] != "active" and s["state_seconds"] >= cfg["IDLE_IN_TRANSACTION_SEC"]
    ]  # fmt: skip


def _replication_lag(f, cfg):
    rep = f["replication"]
    lags = [(r["application_name"] or str(r["pid"]), r["replay_lag_seconds"])
            for r in rep["replicas"]]  # fmt: skip
    if rep["server"]["replica"]:
        lags.append(("this replica", rep["server"]["replay_lag_seconds"]))
    breaches = [
        Breach(f"replica {name}", lag, f"replay lag {lag:.1f} s")
        for name, lag in lags
        if lag is not None and lag >= cfg["REPLICATION_LAG_CRITICAL_SEC"]
    ]
    breaches += [
        Breach(f"slot {s['slot_name']}", s["retained_bytes"],
               f"inactive slot keeps {s['retained_bytes']} bytes of WAL")
        for s in rep["inactive_slots"]
        if (s["retained_bytes"] or 0) >= cfg["INACTIVE_SLOT_CRITICAL_BYTES"]
    ]  # fmt: skip
    return breaches


def _wraparound(f, cfg):
    return [
        Breach(d["database"], d["xid_age"], f"transaction id age {d['xid_age']:,}")
        for d in f["xid"]
        if d["xid_age"] >= cfg["XID_AGE_CRITICAL"]
    ]


def _sequences(f, cfg):
    return [
        Breach(s["sequence"], s["used"], f"{s['used'] * 100:.1f}% of {s['limit_value']:,} used")
        for s in f["sequences"]
        if s["used"] is not None and s["used"] >= cfg["SEQUENCE_CRITICAL"]
    ]


def _partition_runway(f, cfg):
    return [
        Breach(t["relation"], t["days_left"],
               f"its last partition ends {t['last_bound']:%Y-%m-%d %H:%M %Z} "
               f"({t['days_left']:.1f} days): later rows cannot be inserted")
        for t in f["partition_runway"]
        if t["days_left"] < cfg["PARTITION_RUNWAY_DAYS_CRITICAL"]
    ]  # fmt: skip


def _invalid_indexes(f, cfg):
    return [
        Breach(i["index_name"], None, f"invalid index on {i['relation']}: rebuild or drop it")
        for i in f["invalid_indexes"]
    ]


def _regression(f, cfg):
    return [
        Breach(str(r["queryid"]), r["recent_ms"],
               f"mean {r['recent_ms']:.2f} ms against {r['baseline_ms']:.2f} ms before")
        for r in f["regressions"]
    ]  # fmt: skip


RULES = {
    "cache_hit_ratio": _cache_hit_ratio,
    "connections": _connections,
    "long_running": _long_running,
    "idle_in_transaction": _idle_in_transaction,
    "replication_lag": _replication_lag,
    "wraparound": _wraparound,
    "sequence_overflow": _sequences,
    "partition_runway": _partition_runway,
    "invalid_index": _invalid_indexes,
    "slow_query_regression": _regression,
}

# The Alert rows' own writes, the one SQL here outside dbhealth/stats/: an upsert on the partial
# unique index of open alerts, so that two evaluations at once open one alert, never two.
OPEN_SQL = """
INSERT INTO dbhealth_alert (rule, subject, message, value, first_seen, last_seen)
VALUES (%s, %s, %s, %s, clock_timestamp(), clock_timestamp())
ON CONFLICT (rule, subject) WHERE resolved_at IS NULL
DO UPDATE SET last_seen = clock_timestamp(), message = EXCLUDED.message, value = EXCLUDED.value
RETURNING id, xmax = 0 AS opened
"""
RESOLVE_SQL = """
UPDATE dbhealth_alert SET resolved_at = clock_timestamp()
 WHERE rule = %s AND resolved_at IS NULL AND NOT (subject = ANY(%s))
RETURNING id, subject
"""


def alerts_evaluate() -> dict:
    """Evaluate every rule once: open or refresh an alert per breach, resolve the rest.
    Returns {"opened": [...], "resolved": [...]} as (rule, subject) pairs."""
    cfg = config()
    opened, resolved = [], []
    with transaction.atomic(), connection.cursor() as cursor:
        statement_timeout(cursor, "10s")
        figures = measure(cursor, cfg)
        for rule, check in RULES.items():
            breaches = check(figures, cfg)
            for b in breaches:
                cursor.execute(OPEN_SQL, [rule, b.subject[:300], b.message, b.value])
                if cursor.fetchone()[1]:
                    opened.append((rule, b.subject, b.message))
            cursor.execute(RESOLVE_SQL, [rule, [b.subject[:300] for b in breaches]])
            resolved += [(rule, subject) for _, subject in cursor.fetchall()]
        for rule, subject, message in opened:
            logger.error("dbhealth alert %s: %s: %s", rule, subject, message)
        for rule, subject in resolved:
            logger.info("dbhealth alert %s resolved: %s", rule, subject)
        if opened:
            transaction.on_commit(lambda: _mail(opened))
    return {"opened": [o[:2] for o in opened], "resolved": resolved}


def _mail(opened: list[tuple[str, str, str]]) -> None:
    lines = [f"{rule}: {subject}: {message}" for rule, subject, message in opened]
    mail_admins(
        f"Database alert: {len(opened)} new incident{'s' if len(opened) != 1 else ''}",
        "\n".join(lines) + "\n\nEach is mailed once; see /admin/dbhealth/ until it resolves.",
    )
