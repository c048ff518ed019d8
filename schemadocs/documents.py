"""The generated reference under docs/: read from the migrated database and from the code.

`manage.py gendocs` (`make docs`) writes:

- docs/erd.md: a Mermaid erDiagram of every application table (shop_*, audit_*, dbhealth_*),
  the tables they reference, and every foreign key with its cardinality;
- docs/schema.md: every such table's columns (type, nullability, default, comment),
  constraints, indexes and triggers, each with its reason;
- docs/schema.sql: `pg_dump --schema-only` of the whole database, normalised;
- the table of every index and its reason between the gendocs markers in docs/indexing.md.

Facts come from pg_catalog; reasons come from the code, so each has one home. Table and column
comments are the db_table_comment / db_comment that migrations put into PostgreSQL. For a
constraint, index or trigger the reason is the comment beside its declaration in the model's
source (the comment lines right above it, and the comments on its first and last line), read
with `ast` and `tokenize`; for what a field declares (its FK, UNIQUE or index) it is the comment
on the line of that keyword (on_delete=, unique=, db_index=) or beside the field.

Everything is sorted and uses only catalog functions whose output is the same on PostgreSQL 15
and 18, so erd.md, schema.md and the index table are byte-identical on both. schema.sql records
the server's major version in its header; pg_dump output differs between versions
(tests/schemadocs/test_docs.py explains how it is checked on the others).

The app is split by job: catalog.py reads pg_catalog, sources.py finds the reasons in the
code, mermaid.py and markdown.py render, dump.py runs and normalises pg_dump, and this module
puts them together; the command is schemadocs/management/commands/gendocs.py.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from django.conf import settings

from schemadocs.catalog import read_catalog
from schemadocs.dump import schema_sql
from schemadocs.markdown import index_table, schema_md, splice
from schemadocs.mermaid import erd

DOCS_DIR = Path(settings.BASE_DIR) / "docs"


def catalog_docs(cursor, directory: Path = DOCS_DIR) -> dict[str, str]:
    """erd.md, schema.md and indexing.md for the database `cursor` is connected to."""
    tables = read_catalog(cursor)
    indexing = (directory / "indexing.md").read_text()
    return {
        "erd.md": erd(tables),
        "schema.md": schema_md(tables),
        "indexing.md": splice(indexing, index_table(tables)),
    }


def generate(database: dict, cursor) -> dict[str, str]:
    """The three documents, by file name, for the database described and connected to."""
    return {**catalog_docs(cursor), "schema.sql": schema_sql(database, cursor)}


def diff(old: dict[str, str], new: dict[str, str], *, labels=("committed", "regenerated")) -> str:
    """A unified diff, file by file, of two sets of documents keyed by file name."""
    lines = []
    for name, text in new.items():
        lines += difflib.unified_diff(
            old.get(name, "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"docs/{name} ({labels[0]})",
            f"docs/{name} ({labels[1]})",
        )
    return "".join(lines)


def stale(generated: dict[str, str], directory: Path = DOCS_DIR) -> str:
    """A unified diff of every committed file that differs from its regenerated text."""
    paths = {name: directory / name for name in generated}
    return diff({n: p.read_text() for n, p in paths.items() if p.exists()}, generated)
