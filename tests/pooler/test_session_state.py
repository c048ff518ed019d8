"""Nothing in the project's code keeps state in a session, which a transaction pooler would
hand to the next client (test_what_breaks.py shows each one happening): the source of every
app and of config/ is read, every string in it checked.

Allowed, because each ends with its transaction: SET LOCAL, SET TRANSACTION, SET CONSTRAINTS,
set_config(..., true), pg_advisory_xact_lock, temporary tables ON COMMIT DROP. Migrations are
left out: `manage.py migrate` connects to PostgreSQL directly (DATABASE_DIRECT_URL).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "shop", "audit", "dbhealth", "schemadocs")

SESSION_STATE = {
    "session SET": re.compile(
        r"(?:^|;)\s*SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)(?:SESSION\s+)?"
        r"(?:ROLE\b|[\w.]+\s*(?:=|\bTO\b))",
        re.I,
    ),
    "RESET": re.compile(r"(?:^|;)\s*RESET\s+\w", re.I),
    "set_config(..., false)": re.compile(r"set_config\([^;]*,\s*false\s*\)", re.I),
    "session advisory lock": re.compile(r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\(", re.I),
    "LISTEN": re.compile(r"(?:^|;)\s*(?:UN)?LISTEN\s+\w", re.I),
    "WITH HOLD cursor": re.compile(r"\bWITH\s+HOLD\b", re.I),
    "PREPARE": re.compile(r"(?:^|;)\s*PREPARE\s+\w+", re.I),
    "temporary table kept past COMMIT": re.compile(
        r"CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\s+TABLE(?![^;]*ON\s+COMMIT\s+DROP)", re.I
    ),
}


def strings(tree: ast.AST):
    """Every string literal, an f-string's literal parts joined with a placeholder."""
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstrings.update(id(value) for value in node.values)
            parts = [v.value if isinstance(v, ast.Constant) else "x" for v in node.values]
            yield node.lineno, "".join(parts)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside_fstrings
        ):
            yield node.lineno, node.value


def findings(source: str, name: str = "<source>") -> list[str]:
    found = []
    for line, text in strings(ast.parse(source)):
        for what, pattern in SESSION_STATE.items():
            if pattern.search(text):
                found.append(f"{name}:{line}: {what}: {text.strip()[:80]!r}")
    return found


def project_sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_project_keeps_no_session_state():
    found = [
        finding
        for path in project_sources()
        for finding in findings(path.read_text(), str(path.relative_to(ROOT)))
    ]

    assert found == []


def test_the_check_reads_every_app():
    names = {path.relative_to(ROOT).parts[0] for path in project_sources()}

    assert names == set(APPS)
    assert ROOT / "core" / "db.py" in set(project_sources())


def test_the_check_finds_each_kind_of_session_state():
    source = """
cursor.execute("SET statement_timeout = '1ms'")
cursor.execute("SET ROLE pgshop_staff")
cursor.execute("SELECT 1; SET search_path TO public")
cursor.execute("RESET statement_timeout")
cursor.execute("SELECT set_config('app.rls_user_id', %s, false)", [7])
cursor.execute("SELECT pg_advisory_lock(42)")
cursor.execute("SELECT pg_try_advisory_lock(42)")
cursor.execute("LISTEN orders")
cursor.execute(f"DECLARE c CURSOR WITH HOLD FOR SELECT {columns} FROM shop_order")
cursor.execute("PREPARE probe AS SELECT 1")
cursor.execute("CREATE TEMP TABLE scratch (n int)")
"""
    found = [finding.split(": ")[1] for finding in findings(source)]

    assert found == [
        "session SET",
        "session SET",
        "session SET",
        "RESET",
        "set_config(..., false)",
        "session advisory lock",
        "session advisory lock",
        "LISTEN",
        "WITH HOLD cursor",
        "PREPARE",
        "temporary table kept past COMMIT",
    ]


def test_what_ends_with_its_transaction_passes_the_check():
    source = """
cursor.execute("SET LOCAL statement_timeout = '1ms'")
cursor.execute('SET LOCAL ROLE "pgshop_app"')
cursor.execute("SET TRANSACTION READ ONLY")
cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
cursor.execute("SELECT set_config('app.rls_user_id', %s, true)", [7])
cursor.execute("SELECT pg_advisory_xact_lock(42)")
cursor.execute("CREATE TEMP TABLE seed_user (n int) ON COMMIT DROP")
cursor.execute("UPDATE shop_product SET stock_quantity = stock_quantity - 1")
UNPREFIXED = ("savepoint", "set ", "show ")
"""
    assert findings(source) == []
