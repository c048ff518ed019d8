"""Replication: is this server a primary or a replica (and its own replay lag), its replicas
and their lag, and its replication slots with the WAL each holds back.

pg_stat_replication's addresses and LSNs need pg_read_all_stats (part of pg_monitor).
"""

from __future__ import annotations

from .cursor import row, rows

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


def role(cursor) -> dict:
    """replica (bool), replay_lag_seconds (on a replica), wal_level, the sender/slot limits."""
    return row(cursor, ROLE_SQL)


def replicas(cursor) -> list[dict]:
    """The replicas streaming from this server (none on a replica)."""
    return rows(cursor, REPLICAS_SQL)


def slots(cursor) -> list[dict]:
    """Every replication slot, inactive first, with the WAL it keeps (retained_bytes)."""
    return rows(cursor, SLOTS_SQL)
