"""The query layer is where the dashboard's SQL runs: outside dbhealth/stats/ no dbhealth module
executes a statement, except the two writes of its own tables, each labelled where it is."""

import ast
from pathlib import Path

from django.conf import settings

APP = Path(settings.BASE_DIR) / "dbhealth"

# (module, the statement it executes): the Alert upsert and resolve (alerts.py), and the lock
# that makes snapshots one at a time (snapshots.py).
DEPARTURES = [
    ("alerts.py", "OPEN_SQL"),
    ("alerts.py", "RESOLVE_SQL"),
    ("snapshots.py", "'LOCK TABLE dbhealth_snapshot IN SHARE ROW EXCLUSIVE MODE'"),
]


def executed_outside_the_query_layer() -> list[tuple[str, str]]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP)
        if relative.parts[0] in ("stats", "migrations"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany")
                and node.args  # a Redis pipeline's execute() takes none
            ):
                found.append((relative.as_posix(), ast.unparse(node.args[0])))
    return sorted(found)


def test_no_dbhealth_module_runs_sql_outside_the_query_layer():
    assert executed_outside_the_query_layer() == DEPARTURES


def test_the_check_sees_a_statement_run_elsewhere(tmp_path, monkeypatch):
    # The check itself can fail: a panel that runs its own statement is found.
    (tmp_path / "panels").mkdir()
    (tmp_path / "panels" / "rogue.py").write_text(
        "def collect(cursor):\n    cursor.execute('SELECT 1', [])\n"
    )
    monkeypatch.setattr(f"{__name__}.APP", tmp_path)

    assert executed_outside_the_query_layer() == [("panels/rogue.py", "'SELECT 1'")]
