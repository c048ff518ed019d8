"""Indexes: unused, redundant, invalid, missing behind a foreign key, and tables read by
sequential scans. Each finding names the Django model and field or Meta entry behind the
index, and shows the migration that would fix it, as makemigrations would write it.

Scan counts are this server's since its statistics were last reset: an index used only on a
replica, or only by a monthly report, looks unused here. Read the date before dropping.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from dbhealth.indexes import redundant_index_rows

from .base import CRITICAL, OK, WARNING, Check, row, rows

TITLE = "Indexes"

USER_SCHEMAS = """
n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
"""

# The key columns (or expressions) of an index, in order, as pg_get_indexdef prints them.
INDEX_COLUMNS = """
ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
        FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k)
"""

UNUSED_SQL = f"""
SELECT s.indexrelid::regclass::text AS index_name, s.relname AS table_name,
       s.relid::regclass::text AS relation, n.nspname AS schema,
       s.idx_scan, pg_relation_size(s.indexrelid) AS bytes,
       pg_get_indexdef(s.indexrelid) AS definition, {INDEX_COLUMNS} AS columns
  FROM pg_stat_user_indexes s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
  JOIN pg_namespace n ON n.nspname = s.schemaname
 WHERE s.idx_scan = 0
   AND NOT i.indisunique
   AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
   AND pg_relation_size(s.indexrelid) >= %s
 ORDER BY bytes DESC, index_name
"""  # noqa: S608 - module constants only

INVALID_SQL = f"""
SELECT i.indexrelid::regclass::text AS index_name, t.relname AS table_name,
       i.indrelid::regclass::text AS relation, n.nspname AS schema,
       pg_relation_size(i.indexrelid) AS bytes,
       pg_get_indexdef(i.indexrelid) AS definition, {INDEX_COLUMNS} AS columns
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE NOT i.indisvalid AND {USER_SCHEMAS}
 ORDER BY index_name
"""  # noqa: S608 - module constants only

# A foreign key is supported when a valid, non-partial index leads with exactly its columns
# (in any order): that index serves the ON DELETE / ON UPDATE check on the referenced table
# and the join back from it.
FK_WITHOUT_INDEX_SQL = f"""
SELECT c.conname AS constraint_name, t.relname AS table_name,
       c.conrelid::regclass::text AS relation, n.nspname AS schema,
       c.confrelid::regclass::text AS referenced,
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       greatest(t.reltuples, 0)::bigint AS estimated_rows
  FROM pg_constraint c
  JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE c.contype = 'f' AND {USER_SCHEMAS}
   AND NOT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = c.conrelid AND i.indisvalid AND i.indpred IS NULL
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
 ORDER BY relation, constraint_name
"""  # noqa: S608 - module constants only

# Tables of at least MIN rows whose scans mostly are sequential (PgHero's "missing indexes").
SEQ_SCANS_SQL = """
SELECT relname AS table_name, relid::regclass::text AS relation, schemaname AS schema,
       seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, n_live_tup,
       seq_tup_read / NULLIF(seq_scan, 0) AS rows_per_seq_scan,
       coalesce(idx_scan, 0)::float8 / NULLIF(seq_scan + coalesce(idx_scan, 0), 0)
         AS index_share
  FROM pg_stat_user_tables
 WHERE seq_scan > 0
   AND n_live_tup >= %s
   AND coalesce(idx_scan, 0)::float8 / NULLIF(seq_scan + coalesce(idx_scan, 0), 0) < %s
 ORDER BY seq_tup_read DESC, relation
"""

COLUMNS_OF_SQL = f"""
SELECT i.indexrelid::regclass::text AS index_name, {INDEX_COLUMNS} AS columns
  FROM pg_index i WHERE i.indexrelid::regclass::text = ANY(%s)
"""  # noqa: S608 - module constants only

STATS_SINCE_SQL = """
SELECT coalesce(stats_reset, pg_postmaster_start_time()) AS since
  FROM pg_stat_database WHERE datname = current_database()
"""


# --------------------------------------------------------------------------- Django's side


@dataclass(frozen=True)
class Source:
    """What declares an index in Django, in words, and the pieces a fix needs."""

    text: str
    model: type[models.Model] | None = None
    field: models.Field | None = None
    declared: str = ""  # "meta_index", "meta_constraint", "field", "" (not declared)


class DjangoSchema:
    """Tables, columns, indexes and constraints of the installed models, by database name."""

    def __init__(self) -> None:
        self.tables: dict[str, type[models.Model]] = {}
        self.columns: dict[tuple[str, str], models.Field] = {}
        self.named: dict[str, tuple[type[models.Model], str, object]] = {}
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if meta.proxy or not meta.managed:
                continue
            self.tables[meta.db_table] = model
            for field in meta.local_fields:
                if field.column:
                    self.columns[(meta.db_table, field.column)] = field
            for index in meta.indexes:
                self.named[index.name] = (model, "meta_index", index)
            for constraint in meta.constraints:
                self.named[constraint.name] = (model, "meta_constraint", constraint)

    @staticmethod
    def label(model: type[models.Model]) -> str:
        owner = model._meta.auto_created  # the model of a ManyToManyField's own join table
        if owner:
            for field in owner._meta.local_many_to_many:
                if field.remote_field.through is model:
                    return f"{owner._meta.label}.{field.name} (its join table)"
        return model._meta.label

    def source(self, index_name: str, table: str, columns: list[str]) -> Source:
        bare = index_name.rsplit(".", 1)[-1].strip('"')
        if bare in self.named:
            model, kind, declared = self.named[bare]
            where = "Meta.indexes" if kind == "meta_index" else "Meta.constraints"
            fields = getattr(declared, "fields", None) or getattr(declared, "expressions", ())
            described = ", ".join(str(f) for f in fields)
            return Source(
                f"{self.label(model)} {where}: {type(declared).__name__}"
                f"({described}) named {bare!r}",
                model=model,
                declared=kind,
            )
        model = self.tables.get(table)
        if model is None:
            return Source(f"table {table} is not a Django model's table")
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
                return Source(
                    f"{self.label(model)}.{field.name} ({why})",
                    model=model,
                    field=field,
                    declared="field",
                )
        if all(fields) and tuple(f.name for f in fields) in {
            tuple(together) for together in model._meta.unique_together
        }:
            names = ", ".join(f.name for f in fields)
            return Source(f"{self.label(model)} unique_together ({names})", model=model)
        named = [f"{self.label(model)}.{f.name}" if f else "an expression" for f in fields]
        return Source(
            f"on {', '.join(named)}; not declared in Django (made by raw SQL or RunSQL)",
            model=model,
        )

    def field_for(self, table: str, columns: list[str]) -> tuple[type | None, list]:
        model = self.tables.get(table)
        return model, [self.columns.get((table, c)) for c in columns]


def is_project_app(app_label: str) -> bool:
    """An app whose code lives in this repository (not Django's, not an installed package)."""
    path = Path(apps.get_app_config(app_label).path).resolve()
    base = Path(settings.BASE_DIR).resolve()
    return path.is_relative_to(base) and "site-packages" not in path.parts


def _leaf(app_label: str) -> list[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(loader.graph.leaf_nodes(app_label))


def migration_text(app_label: str, operations: list, *, name: str, atomic: bool) -> str:
    """A migration file as makemigrations would write it, with atomic = False when needed."""
    migration = migrations.Migration(name, app_label)
    migration.dependencies = _leaf(app_label)
    migration.operations = operations
    text = MigrationWriter(migration, include_header=False).as_string()
    if not atomic:
        text = text.replace(
            "class Migration(migrations.Migration):\n",
            "class Migration(migrations.Migration):\n"
            "    atomic = False  # CONCURRENTLY cannot run inside a transaction\n",
            1,
        )
    return f"# {app_label}/migrations/XXXX_{name}.py\n{text}"


def concurrently(definition: str) -> str:
    return definition.replace("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1).replace(
        "CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX CONCURRENTLY ", 1
    )


def drop_fix(schema: DjangoSchema, source: Source, index_name: str, definition: str) -> str:
    """The migration (or, off Django, the SQL) that drops an index without blocking writes."""
    drop_sql = f"DROP INDEX CONCURRENTLY IF EXISTS {index_name};"
    if source.model is None:
        return f"-- not a Django model: run by hand (outside a transaction)\n{drop_sql}"
    app_label = source.model._meta.app_label
    model_name = source.model._meta.model_name
    bare = index_name.rsplit(".", 1)[-1].strip('"')
    if not is_project_app(app_label):
        return (
            f"-- {app_label} is not this project's app: its models and migrations are not\n"
            "-- yours to change. Django's own many-to-many tables index the first column\n"
            "-- twice; an explicit through model avoids it (see shop.User.groups). Or drop it\n"
            f"-- by hand, knowing a later migration of {app_label} may expect it:\n{drop_sql}"
        )
    if source.declared == "meta_index":
        operation = RemoveIndexConcurrently(model_name=model_name, name=bare)
        note = f"# and delete the Index named {bare!r} from {source.model.__name__}.Meta.indexes\n"
        return note + migration_text(
            app_label, [operation], name=f"remove_{bare}"[:60], atomic=False
        )
    if source.declared == "meta_constraint":
        constraint = schema.named[bare][2]
        note = (
            f"# {bare!r} is a constraint: delete it from {source.model.__name__}.Meta.constraints"
            "\n# (DROP CONSTRAINT takes a brief ACCESS EXCLUSIVE lock; there is no CONCURRENTLY)\n"
        )
        operation = migrations.RemoveConstraint(model_name=model_name, name=constraint.name)
        return note + migration_text(
            app_label, [operation], name=f"remove_{bare}"[:60], atomic=True
        )
    if source.declared == "field":
        field = copy.deepcopy(source.field)
        field.db_index = False
        field._unique = False
        state = migrations.AlterField(model_name=model_name, name=field.name, field=field)
        database = migrations.RunSQL(drop_sql, reverse_sql=concurrently(definition) + ";")
        operation = migrations.SeparateDatabaseAndState(
            database_operations=[database], state_operations=[state]
        )
        note = (
            f"# and set db_index=False (unique=False) on {source.model.__name__}."
            f"{source.field.name}\n"
        )
        return note + migration_text(app_label, [operation], name=f"drop_{bare}"[:60], atomic=False)
    database = migrations.RunSQL(drop_sql, reverse_sql=concurrently(definition) + ";")
    return migration_text(app_label, [database], name=f"drop_{bare}"[:60], atomic=False)


def add_fk_index_fix(schema: DjangoSchema, table: str, columns: list[str], relation: str) -> str:
    model, fields = schema.field_for(table, columns)
    if model is None or any(f is None for f in fields) or not is_project_app(model._meta.app_label):
        sql = f"CREATE INDEX CONCURRENTLY ON {relation} ({', '.join(columns)});"
        return f"-- not a model of this project: run by hand (outside a transaction)\n{sql}"
    index = models.Index(fields=[f.name for f in fields], name="")
    index.set_name_with_model(model)
    operation = AddIndexConcurrently(model_name=model._meta.model_name, index=index)
    note = (
        f"# and add {index!r} to {model.__name__}.Meta.indexes,\n"
        "# with a one-line reason, so the model state matches\n"
    )
    return note + migration_text(
        model._meta.app_label, [operation], name=f"add_{index.name}"[:60], atomic=False
    )


# --------------------------------------------------------------------------- the panel


def collect(cursor, config: dict) -> dict:
    schema = DjangoSchema()
    unused = rows(cursor, UNUSED_SQL, [config["UNUSED_INDEX_MIN_BYTES"]])
    for finding in unused:
        source = schema.source(finding["index_name"], finding["table_name"], finding["columns"])
        finding["source"] = source.text
        finding["fix"] = drop_fix(schema, source, finding["index_name"], finding["definition"])

    redundant = redundant_index_rows(cursor, ["%"])
    columns = {
        r["index_name"]: r["columns"]
        for r in rows(
            cursor,
            COLUMNS_OF_SQL,
            [[f["redundant_index"] for f in redundant] + [f["covered_by"] for f in redundant]],
        )
    }
    for finding in redundant:
        table = finding["table_name"].rsplit(".", 1)[-1]
        source = schema.source(
            finding["redundant_index"], table, columns[finding["redundant_index"]]
        )
        finding["source"] = source.text
        finding["covered_by_source"] = schema.source(
            finding["covered_by"], table, columns[finding["covered_by"]]
        ).text
        finding["fix"] = drop_fix(schema, source, finding["redundant_index"], finding["definition"])

    invalid = rows(cursor, INVALID_SQL)
    for finding in invalid:
        finding["source"] = schema.source(
            finding["index_name"], finding["table_name"], finding["columns"]
        ).text
        finding["fix"] = (
            "-- a failed CREATE INDEX CONCURRENTLY (or REINDEX) left it behind: rebuild it\n"
            f"REINDEX INDEX CONCURRENTLY {finding['index_name']};\n"
            "-- or drop it and run the migration that creates it again\n"
            f"DROP INDEX CONCURRENTLY IF EXISTS {finding['index_name']};"
        )

    missing = rows(cursor, FK_WITHOUT_INDEX_SQL)
    for finding in missing:
        model, fields = schema.field_for(finding["table_name"], finding["columns"])
        finding["source"] = (
            ", ".join(f"{schema.label(model)}.{f.name}" for f in fields)
            if model and all(fields)
            else f"table {finding['table_name']} is not a Django model's table"
        )
        finding["fix"] = add_fk_index_fix(
            schema, finding["table_name"], finding["columns"], finding["relation"]
        )

    seq_scans = rows(
        cursor, SEQ_SCANS_SQL, [config["SEQ_SCAN_MIN_ROWS"], config["SEQ_SCAN_INDEX_SHARE"]]
    )
    for finding in seq_scans:
        model = schema.tables.get(finding["table_name"])
        finding["source"] = schema.label(model) if model else "not a Django model"

    since = row(cursor, STATS_SINCE_SQL)["since"]
    checks = [
        Check("indexes", "Unused indexes", WARNING if unused else OK,
              f"{len(unused)} never scanned since {since:%Y-%m-%d %H:%M} UTC"),
        Check("indexes", "Redundant indexes", WARNING if redundant else OK,
              f"{len(redundant)} covered by another index"),
        Check("indexes", "Invalid indexes", CRITICAL if invalid else OK,
              f"{len(invalid)} invalid (left by a failed concurrent build)"),
        Check("indexes", "Foreign keys without an index", WARNING if missing else OK,
              f"{len(missing)} foreign key(s) with no index leading with their columns"),
        Check("indexes", "Sequential scans", WARNING if seq_scans else OK,
              f"{len(seq_scans)} table(s) of {config['SEQ_SCAN_MIN_ROWS']:,}+ rows mostly read by "
              "sequential scans"),
    ]  # fmt: skip
    return {
        "unused": unused,
        "redundant": redundant,
        "invalid": invalid,
        "fk_without_index": missing,
        "seq_scans": seq_scans,
        "stats_since": since,
        "checks": checks,
    }
