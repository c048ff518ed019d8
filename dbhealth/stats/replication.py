"""Replication: is this server a primary or a replica (and its own replay backlog), its
replicas and their lag, its replication slots with the WAL each holds back, and every
configured replica (settings.DATABASE_REPLICAS) as seen from itself: replay position, lag
behind this server by LSN, recovery conflicts.

Lag is an LSN difference (pg_wal_lsn_diff), never `now() - pg_last_xact_replay_timestamp()`:
that is NULL until a commit replays and grows while the primary is idle. As time, only the
primary's own measure (pg_stat_replication.replay_lag) is shown.

pg_stat_replication's addresses and LSNs need pg_read_all_stats (part of pg_monitor).
"""

from __future__ import annotations

import psycopg

from .cursor import row, rows

ROLE_SQL = """
SELECT pg_is_in_recovery() AS replica,
       NULL::float8 AS replay_lag_seconds,  -- a replica alone cannot tell it honestly
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS replay_backlog_bytes,
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


# A configured replica, on its own connection: where it has replayed to, what it received and
# has not replayed, whether replay is paused, and the queries replay cancelled (conflicts).
REPLICA_SQL = """
SELECT pg_is_in_recovery() AS replica,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS backlog_bytes,
       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause_state,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver,
       c.confl_tablespace, c.confl_lock, c.confl_snapshot, c.confl_bufferpin, c.confl_deadlock
  FROM pg_stat_database_conflicts c
 WHERE c.datname = current_database()
"""

# On the primary, once the replicas have answered: its position, and each replica's lag
# behind it in bytes (NULL for one that did not answer), in the order given.
POSITION_SQL = """
SELECT pg_current_wal_lsn()::text AS position,
       array(SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), r.lsn::pg_lsn)
               FROM unnest(%s::text[]) WITH ORDINALITY AS r(lsn, n) ORDER BY r.n) AS lags
"""


def _ask(wrapper, sql: str) -> dict:
    """One row from a server of its own connection, opened for this page and closed (the
    dashboard is read seldom; the application's connections to it stay as they are)."""
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        raw.autocommit = True
        with raw.cursor() as cursor:
            return row(cursor, sql)
    finally:
        raw.close()


def configured(cursor) -> list[dict]:
    """The primary (this server) and each replica of settings.DATABASE_REPLICAS: alias,
    address, role, position (written / replayed), lag_bytes behind the primary, backlog,
    pause state, conflicts; one query on the primary, one on each replica. A replica that
    does not answer has its `error`."""
    from django.conf import settings
    from django.db import DatabaseError, connections

    replicas = []
    for alias in getattr(settings, "DATABASE_REPLICAS", ()):
        db = connections[alias].settings_dict
        entry = {"alias": alias, "address": f"{db['HOST']}:{db['PORT']}", "error": None}
        try:
            found = _ask(connections[alias], REPLICA_SQL)
        except (DatabaseError, psycopg.Error) as error:
            entry.update(role="unreachable", error=str(error).strip(), replay_lsn=None)
        else:
            entry.update(found, role="replica" if found["replica"] else "primary")
        replicas.append(entry)
    primary = row(cursor, POSITION_SQL, [[r["replay_lsn"] for r in replicas]])
    db = connections["default"].settings_dict
    return [
        {"alias": "default", "address": f"{db['HOST']}:{db['PORT']}", "role": "primary",
         "position": primary["position"], "lag_bytes": 0, "error": None},
        *({**r, "position": r["replay_lsn"], "lag_bytes": lag}
          for r, lag in zip(replicas, primary["lags"], strict=True)),
    ]  # fmt: skip
