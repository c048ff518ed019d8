"""Overview: the server at a glance, and one green/yellow/red line per check of every panel."""

from .base import Check, level_above, level_below, row, rows

TITLE = "Overview"

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


def percent(ratio) -> str:
    return "no reads yet" if ratio is None else f"{ratio * 100:.2f}%"


def collect(cursor, config: dict) -> dict:
    server = row(cursor, SERVER_SQL)
    connections = rows(cursor, CONNECTIONS_SQL)
    in_use = sum(c["connections"] for c in connections)
    usable = server["max_connections"] - server["reserved_connections"]
    usage = in_use / usable if usable > 0 else None
    tps = row(cursor, TPS_SQL)
    cache = row(cursor, CACHE_HIT_SQL)
    hit_warning, hit_critical = (
        config["CACHE_HIT_RATIO_WARNING"],
        config["CACHE_HIT_RATIO_CRITICAL"],
    )
    checks = [
        Check(
            "overview",
            "Connections",
            level_above(usage, config["CONNECTIONS_WARNING"], config["CONNECTIONS_CRITICAL"]),
            f"{in_use} of {usable} usable connections in use "
            f"(max_connections {server['max_connections']}, "
            f"{server['reserved_connections']} reserved for superusers)",
        ),
        Check(
            "overview",
            "Table cache hit ratio",
            level_below(cache["tables"], hit_warning, hit_critical),
            f"{percent(cache['tables'])} of table block reads from memory "
            f"(healthy at {hit_warning * 100:g}% or more)",
        ),
        Check(
            "overview",
            "Index cache hit ratio",
            level_below(cache["indexes"], hit_warning, hit_critical),
            f"{percent(cache['indexes'])} of index block reads from memory "
            f"(healthy at {hit_warning * 100:g}% or more)",
        ),
    ]
    return {
        "server": server,
        "connections": connections,
        "connections_in_use": in_use,
        "connections_usable": usable,
        "connection_usage": usage,
        "tps": tps,
        "cache": cache,
        "checks": checks,
    }
