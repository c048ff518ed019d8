"""What may import what (docs/architecture.md): each app imports only the apps below it.

    core < shop < audit < dbhealth < schemadocs < config

Every module of every app is parsed (ast, nothing imported), imports inside functions
included; bench/, scripts/, tests/ and manage.py are outside the layering.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["core", "shop", "audit", "dbhealth", "schemadocs", "config"]  # lowest first


def imported_apps(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, app) of every absolute import of one of LAYERS, wherever it stands."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names]
    return [(line, app) for line, app in found if app in LAYERS]


def violations(sources: dict[str, str]) -> list[str]:
    """`path:line: app imports higher` for each upward import; sources: path -> text, each
    path starting with its app's directory."""
    found = []
    for path, text in sorted(sources.items()):
        app = path.split("/")[0]
        for line, imported in imported_apps(ast.parse(text, path)):
            if LAYERS.index(imported) > LAYERS.index(app):
                found.append(f"{path}:{line}: {app} imports {imported}")
    return found


def project_sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for app in LAYERS
        for path in sorted((ROOT / app).rglob("*.py"))
    }


def test_no_app_imports_an_app_above_it():
    sources = project_sources()

    assert len({path.split("/")[0] for path in sources}) == len(LAYERS)  # every app was read
    assert violations(sources) == []


def test_an_upward_import_is_reported_even_inside_a_function():
    sources = {
        "shop/admin.py": "from core.admin import ReadOnlyMixin\nfrom audit.admin import X\n",
        "core/roles.py": "def grants():\n    import shop.models\n    from audit import roles\n",
        "config/urls.py": "from schemadocs import documents\nimport dbhealth.views\n",
        "audit/models.py": "from shop.models import Order\nfrom . import context\n",
    }

    assert violations(sources) == [
        "core/roles.py:2: core imports shop",
        "core/roles.py:3: core imports audit",
        "shop/admin.py:2: shop imports audit",
    ]
