"""The shop's own rooms (docs/architecture.md, "Inside the shop"), read from the source (ast,
nothing imported): the clients (the admin, the API, tasks, commands) write through services,
never invalidate the cache themselves (the service that wrote does), and every row lock is
taken in shop/locks.py."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRITES = {
    "save", "delete", "update", "create", "get_or_create", "update_or_create",
    "bulk_create", "bulk_update", "select_for_update", "create_user", "create_superuser",
}  # fmt: skip
# Invalidation belongs to the service that wrote; cache-aside reads and refills (refresh, the
# new order's write-through in shop/api/representations.py) are a client's own.
CACHE_WRITES = ("invalidate",)
CLIENTS = ["shop/admin.py", "shop/tasks.py", *sorted(
    str(p.relative_to(ROOT)) for p in [*(ROOT / "shop/api").glob("*.py"),
                                       *(ROOT / "shop/management/commands").glob("*.py")]
)]  # fmt: skip
# A row lock in SQL text (the shop writes SQL keywords in capitals).
LOCK_CLAUSE = re.compile(r"\bFOR (NO KEY UPDATE|UPDATE|KEY SHARE|SHARE)\b")


def direct_writes(source: str) -> list[str]:
    """`owner.method` for each call of a model-writing method or of a cache invalidation."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner, method = ast.unparse(node.func.value), node.func.attr
        if (method in WRITES and owner != "services") or method.startswith(CACHE_WRITES):
            found.append(f"{owner}.{method}")
    return found


def test_the_admin_api_tasks_and_commands_write_only_through_services():
    found = {path: direct_writes((ROOT / path).read_text()) for path in CLIENTS}

    assert {path: calls for path, calls in found.items() if calls} == {}


def test_a_direct_write_is_reported():
    source = (
        "def save_model(obj):\n    obj.save()\n    services.product_update(id=1)\n"
        "    cache.invalidate_products([obj.pk])\n    cache.cached(family, key, build)\n"
    )

    assert direct_writes(source) == ["obj.save", "cache.invalidate_products"]


def test_every_row_lock_is_taken_in_shop_locks():
    found = []
    for path in sorted((ROOT / "shop").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if "/migrations/" in relative or relative == "shop/locks.py":
            continue
        text = path.read_text()
        found += [(relative, "select_for_update") for _ in range(text.count(".select_for_update("))]
        found += [(relative, match[0]) for match in LOCK_CLAUSE.finditer(text)]

    # The one lock inside a single statement, labelled in shop/locks.py's docstring.
    assert found == [("shop/services.py", "FOR UPDATE")]
