"""Indexes: unused, redundant, invalid, missing behind a foreign key, and tables read by
sequential scans (rows: dbhealth/stats/indexes.py). Each finding names the Django model and
field or Meta entry behind the index (core/model_map.py), and shows the migration that would fix
it, as makemigrations would write it.

Scan counts are this server's since its statistics were last reset: an index used only on a
replica, or only by a monthly report, looks unused here. Read the date before dropping.
"""

from __future__ import annotations

import copy
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from core.model_map import FIELD, META_CONSTRAINT, META_INDEX, Declaration, ModelMap
from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check

TITLE = "Indexes"

# --------------------------------------------------------------------------- the fixes


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


def drop_fix(source: Declaration, index_name: str, definition: str) -> str:
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
    if source.kind == META_INDEX:
        operation = RemoveIndexConcurrently(model_name=model_name, name=bare)
        note = f"# and delete the Index named {bare!r} from {source.model.__name__}.Meta.indexes\n"
        return note + migration_text(
            app_label, [operation], name=f"remove_{bare}"[:60], atomic=False
        )
    if source.kind == META_CONSTRAINT:
        constraint = source.declared
        note = (
            f"# {bare!r} is a constraint: delete it from {source.model.__name__}.Meta.constraints"
            "\n# (DROP CONSTRAINT takes a brief ACCESS EXCLUSIVE lock; there is no CONCURRENTLY)\n"
        )
        operation = migrations.RemoveConstraint(model_name=model_name, name=constraint.name)
        return note + migration_text(
            app_label, [operation], name=f"remove_{bare}"[:60], atomic=True
        )
    if source.kind == FIELD:
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


def add_fk_index_fix(catalog: ModelMap, table: str, columns: list[str], relation: str) -> str:
    model, fields = catalog.fields(table, columns)
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
    catalog = ModelMap()
    unused = stats.indexes.unused(cursor, config["UNUSED_INDEX_MIN_BYTES"])
    for finding in unused:
        source = catalog.declaration(
            finding["index_name"], finding["table_name"], finding["columns"]
        )
        finding["source"] = source.text
        finding["fix"] = drop_fix(source, finding["index_name"], finding["definition"])

    redundant = stats.indexes.redundant(cursor, ["%"])
    columns = stats.indexes.key_columns(
        cursor, [f["redundant_index"] for f in redundant] + [f["covered_by"] for f in redundant]
    )
    for finding in redundant:
        table = finding["table_name"].rsplit(".", 1)[-1]
        source = catalog.declaration(
            finding["redundant_index"], table, columns[finding["redundant_index"]]
        )
        finding["source"] = source.text
        finding["covered_by_source"] = catalog.declaration(
            finding["covered_by"], table, columns[finding["covered_by"]]
        ).text
        finding["fix"] = drop_fix(source, finding["redundant_index"], finding["definition"])

    invalid = stats.indexes.invalid(cursor)
    for finding in invalid:
        finding["source"] = catalog.declaration(
            finding["index_name"], finding["table_name"], finding["columns"]
        ).text
        finding["fix"] = (
            "-- a failed CREATE INDEX CONCURRENTLY (or REINDEX) left it behind: rebuild it\n"
            f"REINDEX INDEX CONCURRENTLY {finding['index_name']};\n"
            "-- or drop it and run the migration that creates it again\n"
            f"DROP INDEX CONCURRENTLY IF EXISTS {finding['index_name']};"
        )

    missing = stats.indexes.foreign_keys_without_index(cursor)
    for finding in missing:
        model, fields = catalog.fields(finding["table_name"], finding["columns"])
        finding["source"] = (
            ", ".join(f"{catalog.label(model)}.{f.name}" for f in fields)
            if model and all(fields)
            else f"table {finding['table_name']} is not a Django model's table"
        )
        finding["fix"] = add_fk_index_fix(
            catalog, finding["table_name"], finding["columns"], finding["relation"]
        )

    seq_scans = stats.indexes.seq_scan_tables(
        cursor, config["SEQ_SCAN_MIN_ROWS"], config["SEQ_SCAN_INDEX_SHARE"]
    )
    for finding in seq_scans:
        model = catalog.model(finding["table_name"])
        finding["source"] = catalog.label(model) if model else "not a Django model"

    since = stats.server.stats_since(cursor)
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
