"""Statements: pg_stat_statements (is it usable here, the top statements, one statement, the
per-query-id totals a snapshot copies), the origin comments in statement texts, and the
regressions found in the snapshots.

Works for any role with pg_read_all_stats (part of pg_monitor); without it the text of other
roles' statements reads "<insufficient privilege>". The extension's schema is read from
pg_extension (a catalog name, quoted here), never from a request.
"""

from __future__ import annotations

from .cursor import row, rows

# The orders offered, mapped to fixed SQL: a request only ever picks a key.
ORDERS = {
    "total": ("total_exec_time DESC", "total time"),
    "mean": ("mean_exec_time DESC", "mean time"),
    "calls": ("calls DESC", "calls"),
}

EXTENSION_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
         AS available,
       'pg_stat_statements' = ANY (
           string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
         AS preloaded,
       (SELECT extnamespace::regnamespace::text FROM pg_extension
         WHERE extname = 'pg_stat_statements') AS schema
"""

# One row per statement of this database (all roles), with its share of the database's total
# time. NULLIF everywhere: a statement that read no block, or a database with no time yet.
STATEMENTS_SQL = """
WITH s AS (
    SELECT s.queryid, s.query, r.rolname AS role, s.calls, s.rows,
           s.total_exec_time, s.mean_exec_time, s.min_exec_time, s.max_exec_time,
           s.stddev_exec_time, s.total_plan_time, s.shared_blks_hit, s.shared_blks_read,
           s.shared_blks_dirtied, s.shared_blks_written, s.temp_blks_read, s.temp_blks_written,
           s.wal_bytes,
           s.shared_blks_hit::float8 / NULLIF(s.shared_blks_hit + s.shared_blks_read, 0)
             AS hit_ratio,
           s.total_exec_time / NULLIF(sum(s.total_exec_time) OVER (), 0) AS share,
           s.mean_exec_time >= %s AND s.calls >= %s AS slow
      FROM {schema}.pg_stat_statements s
      JOIN pg_database d ON d.oid = s.dbid
      LEFT JOIN pg_roles r ON r.oid = s.userid
     WHERE d.datname = current_database()
)
SELECT * FROM s {where} ORDER BY {order}, queryid LIMIT %s
"""

SLOW_COUNT_SQL = """
SELECT count(*) AS slow
  FROM {schema}.pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = current_database() AND s.mean_exec_time >= %s AND s.calls >= %s
"""

# Per query id, all roles added up: the cumulative counters a snapshot copies.
TOTALS_SQL = """
SELECT s.queryid, sum(s.calls)::bigint AS calls, sum(s.total_exec_time) AS total_exec_time,
       sum(s.rows)::bigint AS rows, sum(s.shared_blks_hit)::bigint AS shared_blks_hit,
       sum(s.shared_blks_read)::bigint AS shared_blks_read
  FROM {schema}.pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = current_database() AND s.queryid IS NOT NULL
 GROUP BY s.queryid
"""

INFO_SQL = "SELECT stats_reset, dealloc FROM {schema}.pg_stat_statements_info"

# Statement texts that carry an origin comment (dbhealth/origins.py): pg_stat_statements'
# samples, and the statements running now (whose query_id is the same id).
COMMENTED_TEXTS_SQL = """
SELECT s.queryid, s.query FROM {schema}.pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = current_database() AND s.query LIKE '%%/*fp=''%%'
"""
COMMENTED_RUNNING_SQL = """
SELECT query_id AS queryid, query FROM pg_stat_activity
 WHERE datname = current_database() AND query_id IS NOT NULL AND query LIKE '%%/*fp=''%%'
"""

# Each statement's mean time in the latest snapshot against its mean over the earlier
# snapshots of the baseline window (deltas, so resets in between do not matter).
REGRESSIONS_SQL = """
WITH latest AS (SELECT id, captured_at FROM dbhealth_snapshot
                 ORDER BY captured_at DESC, id DESC LIMIT 1)
SELECT q.queryid,
       q.exec_time_delta / q.calls_delta AS recent_ms,
       b.time / b.calls AS baseline_ms
  FROM dbhealth_querysample q
  JOIN latest ON latest.id = q.snapshot_id
  CROSS JOIN LATERAL (
      SELECT sum(h.exec_time_delta) AS time, sum(h.calls_delta) AS calls
        FROM dbhealth_querysample h JOIN dbhealth_snapshot s ON s.id = h.snapshot_id
       WHERE h.queryid = q.queryid AND s.id <> latest.id
         AND s.captured_at >= latest.captured_at - make_interval(hours => %s)) b
 WHERE q.calls_delta >= %s AND b.calls >= %s
   AND q.exec_time_delta / q.calls_delta >= %s
   AND q.exec_time_delta / q.calls_delta >= %s * b.time / b.calls
 ORDER BY q.queryid
"""


def extension(cursor) -> dict:
    """Is pg_stat_statements installed here, available on the server, preloaded; its schema."""
    return row(cursor, EXTENSION_SQL)


def readable_schema(state: dict) -> str | None:
    """The extension's schema, quoted, when it can be read here (installed and preloaded on a
    server that has it); None otherwise."""
    if not (state["available"] and state["preloaded"] and state["installed"]):
        return None
    return '"' + state["schema"].strip('"').replace('"', '""') + '"'


def top(
    cursor,
    schema: str,
    *,
    order: str,
    slow_only: bool,
    slow_ms: float,
    slow_calls: int,
    limit: int,
) -> list[dict]:
    """The `limit` first statements of this database by ORDERS[order], flagged slow at
    slow_ms and slow_calls (only the slow ones when slow_only)."""
    sql = STATEMENTS_SQL.format(
        schema=schema, order=ORDERS[order][0], where="WHERE slow" if slow_only else ""
    )
    return rows(cursor, sql, [slow_ms, slow_calls, limit])


def slow_count(cursor, schema: str, *, slow_ms: float, slow_calls: int) -> int:
    return row(cursor, SLOW_COUNT_SQL.format(schema=schema), [slow_ms, slow_calls])["slow"]


def of_queryid(cursor, schema: str, queryid: int) -> list[dict]:
    """The rows of one query id (one per role that ran it), most total time first."""
    sql = STATEMENTS_SQL.format(
        schema=schema, order="total_exec_time DESC", where="WHERE queryid = %s"
    )
    return rows(cursor, sql, [0, 0, queryid, 100])


def totals(cursor, schema: str) -> list[dict]:
    """Per query id: calls, execution time, rows and buffer counters, all roles added up."""
    return rows(cursor, TOTALS_SQL.format(schema=schema))


def info(cursor, schema: str) -> dict:
    """pg_stat_statements_info: when it was last reset, and how many entries it evicted."""
    return row(cursor, INFO_SQL.format(schema=schema))


def commented_texts(cursor, schema: str | None) -> list[dict]:
    """(queryid, query) of the running statements and, with the extension, the sample texts
    that carry an origin comment."""
    found = rows(cursor, COMMENTED_RUNNING_SQL)
    if schema:
        found += rows(cursor, COMMENTED_TEXTS_SQL.format(schema=schema))
    return found


def regressions(
    cursor, *, baseline_hours: int, min_calls: int, min_ms: float, factor: float
) -> list[dict]:
    """Statements whose mean time in the latest snapshot is at least min_ms and at least
    factor times their mean over the baseline_hours before, with min_calls calls in both."""
    return rows(cursor, REGRESSIONS_SQL, [baseline_hours, min_calls, min_calls, min_ms, factor])
