"""Replication: is this server a primary or a replica, its replicas and their lag, and
replication slots that no one reads (each keeps WAL on disk until it is read or dropped).

Rows: dbhealth/stats/replication.py.
"""

from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check, level_above

TITLE = "Replication"


def collect(cursor, config: dict) -> dict:
    server = stats.replication.role(cursor)
    replicas = [] if server["replica"] else stats.replication.replicas(cursor)
    slots = stats.replication.slots(cursor)
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
                if worst_lag is None and not server["replica"]
                else f"replay lag {worst_lag or 0:.1f} s"
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
        "inactive_slots": inactive,
        "checks": checks,
    }
