"""Plans: EXPLAIN (FORMAT JSON, BUFFERS) of one statement the EXPLAIN page has already parsed
and accepted (dbhealth/panels/explain.py), and the volatile functions it calls.

The one place in the query layer whose SQL is not its own: the statement is the user's. It runs
inside a READ ONLY transaction the caller always rolls back, under SET LOCAL statement_timeout
and lock_timeout; ANALYZE (which executes it) is refused when it calls a volatile function.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cursor import read_only_settings, rows

# Volatile, yet harmless to run under ANALYZE.
HARMLESS_VOLATILE = {"random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuidv4"}

VOLATILE_SQL = """
SELECT DISTINCT proname::text AS name FROM pg_proc
 WHERE proname = ANY(%s) AND provolatile = 'v' AND NOT proname = ANY(%s)
 ORDER BY 1
"""


class Refused(ValueError):
    """The statement is not one the dashboard will explain; the message says why."""


@dataclass(frozen=True)
class Statement:
    sql: str  # the statement, without a trailing semicolon
    kind: str  # SELECT, INSERT ...
    placeholders: bool  # $1-style parameters (a statement from pg_stat_statements)
    functions: tuple[str, ...]  # names of the functions it calls


def run(cursor, statement: Statement, *, analyze: bool, config: dict, version: int) -> list:
    """EXPLAIN the statement on a cursor whose transaction the caller rolls back afterwards.

    Sets the transaction READ ONLY and the timeouts (SET LOCAL: they end with it).
    """
    if statement.placeholders and version < 160000:
        raise Refused(
            "This statement has $1-style placeholders: PostgreSQL 16+ explains those as a "
            "generic plan; on this server, replace them with values."
        )
    if analyze and statement.functions:
        found = rows(cursor, VOLATILE_SQL, [list(statement.functions), sorted(HARMLESS_VOLATILE)])
        volatile = [r["name"] for r in found]
        if volatile:
            raise Refused(
                "ANALYZE runs the statement, and it calls volatile function(s) that may change "
                f"something: {', '.join(volatile)}. Explain it without ANALYZE."
            )
    timeout = f"{int(config['EXPLAIN_TIMEOUT_MS'])}ms"
    read_only_settings(cursor, statement_timeout=timeout, lock_timeout=timeout)
    options = ["FORMAT JSON", "BUFFERS"]
    if analyze:
        options.insert(0, "ANALYZE")
    if statement.placeholders:
        options.append("GENERIC_PLAN")
    # The statement is concatenated, not bound: it is the one thing EXPLAIN cannot take as a
    # parameter. It was parsed above as exactly one explainable statement; no parameters are
    # passed, so a % in it is sent as is.
    cursor.execute(f"EXPLAIN ({', '.join(options)}) {statement.sql}")
    return cursor.fetchone()[0]
