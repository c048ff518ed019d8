"""Queries: pg_stat_statements, top statements by total time, mean time or calls.

Works for any role with pg_read_all_stats (part of pg_monitor); without it the text of other
roles' statements reads "<insufficient privilege>". Where the extension is not installed in
this database, or its library is not preloaded, the panel says how to fix that instead.
"""

from .base import OK, WARNING, Check, row, rows

TITLE = "Queries"

# The three orders offered, mapped to fixed SQL: the request only ever picks a key.
ORDERS = {
    "total": ("total_exec_time DESC", "total time"),
    "mean": ("mean_exec_time DESC", "mean time"),
    "calls": ("calls DESC", "calls"),
}

STATE_SQL = """
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


def how_to_enable(state: dict) -> list[str] | None:
    """The steps that would make the panel work, or None when it works already."""
    steps = []
    if not state["available"]:
        steps.append(
            "Install the server's contrib modules (Debian/Ubuntu: the postgresql-contrib "
            "package; the official Docker images have them)."
        )
    if not state["preloaded"]:
        steps.append(
            "Preload the library, which needs a server restart: in postgresql.conf set "
            "shared_preload_libraries = 'pg_stat_statements' (keep any libraries already "
            "listed there, comma-separated), or run ALTER SYSTEM SET shared_preload_libraries "
            "= 'pg_stat_statements'; then restart PostgreSQL."
        )
    if not state["installed"]:
        steps.append(
            "Create the extension in this database as a superuser: "
            "CREATE EXTENSION pg_stat_statements; (or run `manage.py migrate dbhealth`, whose "
            "migration creates it when the role may)."
        )
    if steps:
        steps.append(
            "Let the dashboard's role read every role's statements: "
            "GRANT pg_monitor TO <the application's role>;"
        )
    return steps or None


def state(cursor) -> dict:
    return row(cursor, STATE_SQL)


def _schema(found: dict) -> str:
    # The extension's schema comes from pg_extension (a catalog name, quoted), not the request.
    return '"' + found["schema"].strip('"').replace('"', '""') + '"'


def collect(cursor, config: dict, order: str = "total", slow_only: bool = False) -> dict:
    found = state(cursor)
    steps = how_to_enable(found)
    if steps:
        return {
            "state": found,
            "enable_steps": steps,
            "statements": [],
            "order": order,
            "orders": ORDERS,
            "checks": [
                Check(
                    "queries",
                    "Slow statements",
                    WARNING,
                    "pg_stat_statements is not available: see the queries page for how to "
                    "enable it",
                )
            ],
        }
    order_sql = ORDERS.get(order, ORDERS["total"])[0]
    limits = [config["SLOW_QUERY_MS"], config["SLOW_QUERY_CALLS"]]
    sql = STATEMENTS_SQL.format(
        schema=_schema(found), order=order_sql, where="WHERE slow" if slow_only else ""
    )
    statements = rows(cursor, sql, [*limits, config["TOP_QUERIES"]])
    slow = row(cursor, SLOW_COUNT_SQL.format(schema=_schema(found)), limits)["slow"]
    criteria = f"mean >= {config['SLOW_QUERY_MS']:g} ms and >= {config['SLOW_QUERY_CALLS']} calls"
    return {
        "state": found,
        "enable_steps": None,
        "statements": statements,
        "order": order,
        "orders": ORDERS,
        "slow_count": slow,
        "criteria": criteria,
        "checks": [
            Check(
                "queries",
                "Slow statements",
                WARNING if slow else OK,
                f"{slow} statement{'s' if slow != 1 else ''} with {criteria}",
            )
        ],
    }


def detail(cursor, queryid: int) -> dict | None:
    """Every counter of one statement of this database, or None (unknown id, or no extension)."""
    found = state(cursor)
    if how_to_enable(found):
        return None
    sql = STATEMENTS_SQL.format(
        schema=_schema(found), order="total_exec_time DESC", where="WHERE queryid = %s"
    )
    matches = rows(cursor, sql, [0, 0, queryid, 100])
    if not matches:
        return None
    statement = matches[0]
    statement["roles"] = [m["role"] for m in matches]
    return statement
