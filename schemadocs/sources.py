"""The reason of each constraint, index and trigger, read from the models' source.

For a constraint, index or trigger the reason is the comment beside its declaration in the
model's source (the comment lines right above it, and the comments on its first and last
line), read with `ast` and `tokenize`; for what a field declares (its FK, UNIQUE or index) it
is the comment on the line of that keyword (on_delete=, unique=, db_index=) or beside the field.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings

from core.model_map import ModelMap
from schemadocs.catalog import Constraint, Index, Table, Trigger


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
def model_map() -> ModelMap:
    """The installed models by table: core/model_map.py's map, the one the dashboard reads too."""
    return ModelMap()


def model_field(model, column: str):
    return next((f for f in model._meta.concrete_fields if f.column == column), None)


def constraint_reason(table: Table, constraint: Constraint) -> str:
    model = model_map().model(table.name)
    if model is None:
        return ""
    where = ModelSource.of(model)
    declared = {c.name for c in model._meta.constraints}
    if constraint.name in declared:
        return where.meta_reason("constraints", constraint.name)
    pk = [model._meta.pk.column]
    if constraint.kind == "p" and constraint.columns[:1] == pk and len(constraint.columns) > 1:
        # A partitioned table (audit/partitions.py).
        rest = ", ".join(f"`{column}`" for column in constraint.columns[1:])
        return (
            f"{where.field_reason(model._meta.pk.name, 'primary_key')}; with {rest}, the "
            "partition key, which a partitioned table's primary key must contain."
        )
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
    model = model_map().model(table.name)
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
    model = model_map().model(table.name)
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
