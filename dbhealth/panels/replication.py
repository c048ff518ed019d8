"""Replication: is this server a primary or a replica, its replicas and their lag, and
replication slots that no one reads (each keeps WAL on disk until it is read or dropped).

Also every server the application reads (the primary and settings.DATABASE_REPLICAS): role,
position, lag behind the primary in bytes, recovery conflicts. Rows: dbhealth/stats/replication.py.
"""

from django.conf import settings

from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check, level_above

TITLE = "Replication"


def collect(cursor, config: dict) -> dict:
    server = stats.replication.role(cursor)
    replicas = [] if server["replica"] else stats.replication.replicas(cursor)
    slots = stats.replication.slots(cursor)
    servers = [] if server["replica"] else stats.replication.configured(cursor)
    inactive = [s for s in slots if not s["active"]]
    lags = [r["replay_lag_seconds"] for r in replicas if r["replay_lag_seconds"] is not None]
    if server["replica"]:
        lags.append(server["replay_lag_seconds"])
    worst_lag = max((lag for lag in lags if lag is not None), default=None)
    checks = [
        Check(
            "replication",
            "Replication lag",
            level_above(
                worst_lag,
                config["REPLICATION_LAG_WARNING_SEC"],
                config["REPLICATION_LAG_CRITICAL_SEC"],
            ),
            (
                "no replica connected"
                if not replicas and not server["replica"]
                else f"replay lag {worst_lag or 0:.1f} s"
            ),
        ),
        Check(
            "replication",
            "Replicas the application reads",
            (
                CRITICAL
                if any(s["error"] or s["role"] != "replica" for s in servers[1:])
                else WARNING
                if any(
                    (s["backlog_bytes"] or 0) > settings.DB_REPLICA_MAX_LAG_BYTES
                    for s in servers[1:]
                )
                else OK
            ),
            (
                f"{sum(1 for s in servers[1:] if s['error'])} unreachable, worst lag "
                f"{max(s['lag_bytes'] or 0 for s in servers[1:]):,} bytes behind"
                if servers[1:]
                else "none configured"
            ),
        ),
        Check(
            "replication",
            "Inactive replication slots",
            (
                CRITICAL
                if any(
                    (s["retained_bytes"] or 0) >= config["INACTIVE_SLOT_CRITICAL_BYTES"]
                    for s in inactive
                )
                else WARNING
                if inactive
                else OK
            ),
            f"{len(inactive)} slot(s) with no reader, keeping WAL on disk",
        ),
    ]
    return {
        "server": server,
        "role": "replica" if server["replica"] else "primary",
        "replicas": replicas,
        "slots": slots,
        "servers": servers,
        "inactive_slots": inactive,
        "checks": checks,
    }
