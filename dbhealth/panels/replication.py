"""Replication: is this server a primary or a replica, its replicas and their lag, and
replication slots that no one reads (each keeps WAL on disk until it is read or dropped).

pg_stat_replication's addresses and LSNs need pg_read_all_stats (part of pg_monitor).
"""

from .base import CRITICAL, OK, WARNING, Check, level_above, row, rows

TITLE = "Replication"

ROLE_SQL = """
SELECT pg_is_in_recovery() AS replica,
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
       END AS replay_lag_seconds,
       current_setting('wal_level') AS wal_level,
       current_setting('max_wal_senders')::int AS max_wal_senders,
       current_setting('max_replication_slots')::int AS max_replication_slots
"""

REPLICAS_SQL = """
SELECT pid, usename AS role, application_name, client_addr::text AS client, state,
       sync_state, sent_lsn::text, replay_lsn::text,
       pg_wal_lsn_diff(sent_lsn, replay_lsn) AS replay_lag_bytes,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds
  FROM pg_stat_replication
 ORDER BY application_name, pid
"""

# The WAL a slot holds back: from its restart_lsn to where the server is writing now. On a
# replica pg_current_wal_lsn() is refused, so the last received position stands in.
SLOTS_SQL = """
SELECT slot_name, slot_type, database, active, restart_lsn::text,
       pg_wal_lsn_diff(
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                ELSE pg_current_wal_lsn() END,
           restart_lsn) AS retained_bytes
  FROM pg_replication_slots
 ORDER BY active, retained_bytes DESC NULLS LAST, slot_name
"""


def collect(cursor, config: dict) -> dict:
    server = row(cursor, ROLE_SQL)
    replicas = [] if server["replica"] else rows(cursor, REPLICAS_SQL)
    slots = rows(cursor, SLOTS_SQL)
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
