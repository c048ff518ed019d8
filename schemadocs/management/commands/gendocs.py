"""Regenerate docs/erd.md, docs/schema.md and docs/schema.sql from the migrated database.

    manage.py gendocs                  # writes docs/ (make docs: servers up, migrate, this)
    manage.py gendocs --output DIR     # writes somewhere else

The generator is schemadocs/documents.py; tests/schemadocs/test_docs.py fails when the
committed files differ from what this writes.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from schemadocs import documents


class Command(BaseCommand):
    help = "Regenerate docs/erd.md, docs/schema.md and docs/schema.sql from the database."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=documents.DOCS_DIR, help="Directory.")

    def handle(self, *args, output: Path, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise CommandError(
                f"the database has {len(pending)} unapplied migration(s): "
                "run manage.py migrate first"
            )
        if not output.is_dir():
            raise CommandError(f"{output} is not a directory")
        with connection.cursor() as cursor:
            generated = documents.generate(connection.settings_dict, cursor)
        for name, text in generated.items():
            (output / name).write_text(text)
            self.stdout.write(f"wrote {output / name}")
