"""The catalog-to-model map: which installed Django model, field or Meta entry stands behind a
table, a column, an index or a constraint that PostgreSQL's catalog names.

One map for every reader of pg_catalog (the dashboard's findings, the generated schema docs):
built once per call from the app registry, keyed by database names, and read-only. It imports
nothing above Django, so any app may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models

FIELD = "field"
META_INDEX = "meta_index"
META_CONSTRAINT = "meta_constraint"


@dataclass(frozen=True)
class Declaration:
    """What declares a database object in Django, in words, and the pieces a fix needs."""

    text: str
    model: type[models.Model] | None = None
    field: models.Field | None = None
    kind: str = ""  # FIELD, META_INDEX, META_CONSTRAINT, or "" (not declared in Django)
    declared: object = None  # the Index or constraint object, for META_INDEX / META_CONSTRAINT


class ModelMap:
    """Tables, columns, indexes and constraints of the installed models, by database name."""

    def __init__(self) -> None:
        self.tables: dict[str, type[models.Model]] = {}
        self.columns: dict[tuple[str, str], models.Field] = {}
        self.named: dict[str, tuple[type[models.Model], str, object]] = {}
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed:
                continue  # a proxy shares its parent's table; an unmanaged model owns none
            self.tables[meta.db_table] = model
            for field in meta.local_fields:
                if field.column:
                    self.columns[(meta.db_table, field.column)] = field
            for index in meta.indexes:
                self.named[index.name] = (model, META_INDEX, index)
            for constraint in meta.constraints:
                self.named[constraint.name] = (model, META_CONSTRAINT, constraint)

    def model(self, table: str) -> type[models.Model] | None:
        return self.tables.get(table)

    def field(self, table: str, column: str) -> models.Field | None:
        return self.columns.get((table, column))

    def fields(self, table: str, columns: list[str]) -> tuple[type | None, list]:
        """(the table's model or None, the field of each column or None)."""
        return self.tables.get(table), [self.columns.get((table, c)) for c in columns]

    @staticmethod
    def label(model: type[models.Model]) -> str:
        owner = model._meta.auto_created  # the model of a ManyToManyField's own join table
        if owner:
            for field in owner._meta.local_many_to_many:
                if field.remote_field.through is model:
                    return f"{owner._meta.label}.{field.name} (its join table)"
        return model._meta.label

    def declaration(self, name: str, table: str, columns: list[str]) -> Declaration:
        """What declares the index or constraint `name` (schema-qualified or not, quoted or
        not) on `table` over `columns` (as pg_get_indexdef prints them)."""
        bare = name.rsplit(".", 1)[-1].strip('"')
        if bare in self.named:
            model, kind, declared = self.named[bare]
            where = "Meta.indexes" if kind == META_INDEX else "Meta.constraints"
            fields = getattr(declared, "fields", None) or getattr(declared, "expressions", ())
            described = ", ".join(str(f) for f in fields)
            return Declaration(
                f"{self.label(model)} {where}: {type(declared).__name__}"
                f"({described}) named {bare!r}",
                model=model,
                kind=kind,
                declared=declared,
            )
        model = self.tables.get(table)
        if model is None:
            return Declaration(f"table {table} is not a Django model's table")
        fields = [self.columns.get((table, column.strip('"'))) for column in columns]
        if len(fields) == 1 and fields[0] is not None:
            field = fields[0]
            why = (
                "primary key"
                if field.primary_key
                else "unique=True"
                if field.unique
                else "ForeignKey (Django indexes it unless db_index=False)"
                if field.is_relation and field.db_index
                else "db_index=True"
                if field.db_index
                else None
            )
            if why:
                return Declaration(
                    f"{self.label(model)}.{field.name} ({why})",
                    model=model,
                    field=field,
                    kind=FIELD,
                )
        if all(fields) and tuple(f.name for f in fields) in {
            tuple(together) for together in model._meta.unique_together
        }:
            names = ", ".join(f.name for f in fields)
            return Declaration(f"{self.label(model)} unique_together ({names})", model=model)
        named = [f"{self.label(model)}.{f.name}" if f else "an expression" for f in fields]
        return Declaration(
            f"on {', '.join(named)}; not declared in Django (made by raw SQL or RunSQL)",
            model=model,
        )
