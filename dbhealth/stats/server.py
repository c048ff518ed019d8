"""The server and this database at a glance: version, uptime, size, connections, transactions
per second, cache hit ratios, and since when the statistics count."""

from __future__ import annotations

from .cursor import row, rows

SERVER_SQL = """
SELECT current_setting('server_version') AS version,
       version() AS version_full,
       pg_postmaster_start_time() AS started_at,
       now() - pg_postmaster_start_time() AS uptime,
       current_database() AS database,
       pg_database_size(current_database()) AS database_bytes,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_connections
"""

# Client connections of the whole server (max_connections is server-wide), by state.
CONNECTIONS_SQL = """
SELECT coalesce(state, 'unknown') AS state, count(*) AS connections
  FROM pg_stat_activity
 WHERE backend_type = 'client backend'
 GROUP BY 1
 ORDER BY 2 DESC, 1
"""

# Average transactions per second since the counters were last reset (or the server started).
# NULLIF: a database whose statistics were reset this very second divides by nothing.
TPS_SQL = """
SELECT xact_commit + xact_rollback AS transactions,
       coalesce(stats_reset, pg_postmaster_start_time()) AS since,
       (xact_commit + xact_rollback)
         / NULLIF(extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time())), 0)
         AS tps,
       xact_rollback::float8 / NULLIF(xact_commit + xact_rollback, 0) AS rollback_ratio
  FROM pg_stat_database
 WHERE datname = current_database()
"""

# Shares of block reads found in shared buffers; NULL (not a division by zero) before any read.
CACHE_HIT_SQL = """
SELECT (SELECT sum(heap_blks_hit)::float8 / NULLIF(sum(heap_blks_hit + heap_blks_read), 0)
          FROM pg_statio_user_tables) AS tables,
       (SELECT sum(idx_blks_hit)::float8 / NULLIF(sum(idx_blks_hit + idx_blks_read), 0)
          FROM pg_statio_user_indexes) AS indexes
"""

STATS_SINCE_SQL = """
SELECT coalesce(stats_reset, pg_postmaster_start_time()) AS since
  FROM pg_stat_database WHERE datname = current_database()
"""

# What a snapshot keeps for the overview's charts: cumulative counters (rates come from the
# deltas between two snapshots), the client connections of the server, this database's size.
SNAPSHOT_SQL = """
SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database
         WHERE datname = current_database()) AS transactions,
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend')::int AS connections,
       (SELECT coalesce(sum(heap_blks_hit + coalesce(idx_blks_hit, 0)), 0)
          FROM pg_statio_user_tables)::bigint AS blocks_hit,
       (SELECT coalesce(sum(heap_blks_read + coalesce(idx_blks_read, 0)), 0)
          FROM pg_statio_user_tables)::bigint AS blocks_read,
       pg_database_size(current_database()) AS database_bytes
"""

VERSION_NUM_SQL = "SELECT current_setting('server_version_num')::int AS version"


def server(cursor) -> dict:
    """Version, start time, uptime, this database's name and size, max_connections."""
    return row(cursor, SERVER_SQL)


def connections(cursor) -> list[dict]:
    """Client connections of the server by state, most first."""
    return rows(cursor, CONNECTIONS_SQL)


def transactions(cursor) -> dict:
    """Transactions since the statistics reset, per second, and the share rolled back."""
    return row(cursor, TPS_SQL)


def cache_hit(cursor) -> dict:
    """{"tables": ratio, "indexes": ratio}; None before any block was read."""
    return row(cursor, CACHE_HIT_SQL)


def stats_since(cursor):
    """When this database's statistics began counting (their reset, or the server's start)."""
    return row(cursor, STATS_SINCE_SQL)["since"]


def snapshot_counters(cursor) -> dict:
    """Transactions so far, client connections, table+index blocks hit and read, size."""
    return row(cursor, SNAPSHOT_SQL)


def version_num(cursor) -> int:
    """server_version_num: 180001 for 18.1."""
    return row(cursor, VERSION_NUM_SQL)["version"]
