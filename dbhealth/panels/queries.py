"""Queries: pg_stat_statements, top statements by total time, mean time or calls (rows:
dbhealth/stats/statements.py). Where the extension is not installed in this database, or its
library is not preloaded, the panel says how to fix that instead.
"""

from dbhealth import stats
from dbhealth.stats.statements import ORDERS

from .base import OK, WARNING, Check

TITLE = "Queries"


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


def collect(cursor, config: dict, order: str = "total", slow_only: bool = False) -> dict:
    found = stats.statements.extension(cursor)
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
    schema = stats.statements.readable_schema(found)
    limits = {"slow_ms": config["SLOW_QUERY_MS"], "slow_calls": config["SLOW_QUERY_CALLS"]}
    statements = stats.statements.top(
        cursor,
        schema,
        order=order if order in ORDERS else "total",
        slow_only=slow_only,
        limit=config["TOP_QUERIES"],
        **limits,
    )
    slow = stats.statements.slow_count(cursor, schema, **limits)
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
    schema = stats.statements.readable_schema(stats.statements.extension(cursor))
    if schema is None:
        return None
    matches = stats.statements.of_queryid(cursor, schema, queryid)
    if not matches:
        return None
    statement = matches[0]
    statement["roles"] = [m["role"] for m in matches]
    return statement
