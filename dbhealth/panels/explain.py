"""EXPLAIN: the plan of one statement, shown as a tree with the costly nodes marked.

The statement is parsed with sqlparse (a real tokenizer: strings, comments and quoted names
are tokens, not text to match) and refused unless it is exactly one SELECT, INSERT, UPDATE,
DELETE or MERGE with nothing after a semicolon. It then runs as
EXPLAIN (FORMAT JSON, BUFFERS) inside a READ ONLY transaction that is always rolled back,
under SET LOCAL statement_timeout and lock_timeout. ANALYZE, which executes the statement,
is only done on request and only for a plain SELECT calling no volatile function (pg_sleep,
pg_terminate_backend, nextval ... all are refused): the read-only transaction is the second
line of defence, not the first. A statement copied from pg_stat_statements, with $1
placeholders, is explained as a generic plan (PostgreSQL 16+). The EXPLAIN itself is run by
dbhealth/stats/plans.py; this module parses the statement and draws the plan.
"""

from __future__ import annotations

import sqlparse
from sqlparse import tokens as T
from sqlparse.sql import Function

from dbhealth.stats.plans import Refused, Statement

TITLE = "EXPLAIN"

EXPLAINABLE = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"}
WRITES = {"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY"}


def _meaningful(token) -> bool:
    return not (token.is_whitespace or token.ttype in T.Comment)


def parse(sql: str, *, analyze: bool) -> Statement:
    """One explainable statement, or Refused with the reason."""
    if not sql or not sql.strip():
        raise Refused("Enter a statement to explain.")
    parsed = sqlparse.parse(sql)
    statements = [
        s
        for s in parsed
        if any(_meaningful(t) and not t.match(T.Punctuation, ";") for t in s.flatten())
    ]
    if len(statements) > 1:
        raise Refused(f"One statement at a time: this is {len(statements)} statements.")
    if not statements:
        raise Refused("Enter a statement to explain: this is only comments.")
    statement = statements[0]
    everything = [t for s in parsed for t in s.flatten()]
    semicolons = [i for i, t in enumerate(everything) if t.match(T.Punctuation, ";")]
    if len(semicolons) > 1:
        raise Refused("Nothing may follow a semicolon, not even another semicolon.")
    if semicolons and any(not t.is_whitespace for t in everything[semicolons[0] + 1 :]):
        raise Refused("Nothing may follow a semicolon, not even a comment.")
    tokens = list(statement.flatten())
    words = [t for t in tokens if _meaningful(t)]
    first = words[0].normalized.upper()
    if first == "EXPLAIN":
        raise Refused("Leave out EXPLAIN and its options: the dashboard adds them.")
    kind = statement.get_type()
    if first == "WITH" and kind in EXPLAINABLE:
        pass
    elif first in ("MERGE", "TABLE", "VALUES"):
        kind = first
    elif first != kind or kind not in EXPLAINABLE:
        raise Refused(
            f"Only SELECT, INSERT, UPDATE, DELETE and MERGE can be explained, not {first}."
        )
    text = str(statement).strip()
    if semicolons:
        text = text[: text.rfind(";")].rstrip()
    placeholders = any(t.ttype in T.Name.Placeholder and t.value.startswith("$") for t in tokens)
    functions = tuple(
        sorted(
            {
                f.get_real_name().lower()
                for f in _walk(statement)
                if isinstance(f, Function) and f.get_real_name()
            }
        )
    )
    if analyze:
        if kind != "SELECT":
            raise Refused(f"ANALYZE runs the statement: only a SELECT may be analyzed, not {kind}.")
        locking = [t for t in tokens if t.ttype in T.Keyword and t.normalized.upper() == "FOR"]
        if locking:
            raise Refused("ANALYZE runs the statement: SELECT ... FOR UPDATE/SHARE locks rows.")
        written = sorted({t.normalized.upper() for t in tokens if t.ttype in T.DML} & WRITES)
        if written:
            raise Refused(
                "ANALYZE runs the statement: this SELECT also writes "
                f"({', '.join(written)}); explain it without ANALYZE."
            )
        if placeholders:
            raise Refused(
                "ANALYZE runs the statement: replace the $1, $2 ... placeholders with values."
            )
    return Statement(text, kind, placeholders, functions)


def _walk(token):
    yield token
    for child in getattr(token, "tokens", []):
        yield from _walk(child)


def tree(plan: list, *, costly_share: float) -> dict:
    """The plan as a flat list of nodes with depth, each with its own (exclusive) cost and,
    when analyzed, its own time; nodes at or above `costly_share` of the total are costly."""
    top = plan[0]
    root = top["Plan"]
    analyzed = "Actual Total Time" in root
    nodes: list[dict] = []

    def own(node: dict, key: str, loops: bool) -> float:
        value = node.get(key, 0.0) * (node.get("Actual Loops", 1) if loops else 1)
        for child in node.get("Plans", []):
            value -= child.get(key, 0.0) * (child.get("Actual Loops", 1) if loops else 1)
        return max(value, 0.0)

    def walk(node: dict, depth: int) -> None:
        entry = {
            "depth": depth,
            "indent": depth * 1.5,
            "type": node["Node Type"],
            "relation": node.get("Relation Name"),
            "alias": node.get("Alias"),
            "index": node.get("Index Name"),
            "join": node.get("Join Type"),
            "strategy": node.get("Strategy"),
            "condition": node.get("Index Cond")
            or node.get("Hash Cond")
            or node.get("Merge Cond")
            or node.get("Recheck Cond"),
            "filter": node.get("Filter"),
            "sort_key": ", ".join(node.get("Sort Key", [])),
            "total_cost": node.get("Total Cost", 0.0),
            "own_cost": own(node, "Total Cost", loops=False),
            "plan_rows": node.get("Plan Rows"),
            "actual_rows": node.get("Actual Rows"),
            "loops": node.get("Actual Loops"),
            "own_time": own(node, "Actual Total Time", loops=True) if analyzed else None,
            "shared_hit": node.get("Shared Hit Blocks"),
            "shared_read": node.get("Shared Read Blocks"),
        }
        if analyzed:
            total_time = root.get("Actual Total Time", 0.0) or 0.0
            entry["share"] = entry["own_time"] / total_time if total_time else 0.0
            planned, actual = entry["plan_rows"] or 0, entry["actual_rows"] or 0
            misestimate = max(planned, 1) / max(actual, 1)
            entry["misestimate"] = (
                f"{misestimate:.0f}x fewer rows than estimated"
                if misestimate >= 10
                else f"{1 / misestimate:.0f}x more rows than estimated"
                if misestimate <= 0.1
                else None
            )
        else:
            total_cost = root.get("Total Cost", 0.0)
            entry["share"] = entry["own_cost"] / total_cost if total_cost else 0.0
            entry["misestimate"] = None
        entry["costly"] = entry["share"] >= costly_share
        nodes.append(entry)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(root, 0)
    if len(nodes) == 1:
        nodes[0]["costly"] = False  # a one-node plan has nothing to compare with
    return {
        "nodes": nodes,
        "analyzed": analyzed,
        "total_cost": root.get("Total Cost"),
        "planning_time": top.get("Planning Time"),
        "execution_time": top.get("Execution Time"),
    }
