"""Create the pg_stat_statements extension where this role may, for the queries panel.

Only when the server has it (pg_available_extensions) and this role may create it (a
superuser; pg_stat_statements is not a trusted extension, so CREATE on the database is not
enough). Elsewhere nothing happens, and the queries panel explains how to enable it. The
extension also needs shared_preload_libraries = 'pg_stat_statements' to record anything
(the embedded server and docker-compose's postgres set it).

Reverse: nothing. The extension is server state that other tools (and docker/postgres/initdb)
rely on too, and dropping it discards the statistics collected; unapplying the dashboard does
not remove it. Drop it by hand if you mean to: DROP EXTENSION pg_stat_statements;
"""

from django.db import migrations

MAY_CREATE_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
   AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
"""


def create_extension(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(MAY_CREATE_SQL)
        if cursor.fetchone()[0]:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


class Migration(migrations.Migration):
    dependencies = [("dbhealth", "0001_dashboard_permission")]

    operations = [
        migrations.RunPython(create_extension, migrations.RunPython.noop, elidable=False),
    ]
