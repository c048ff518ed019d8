"""Least-privilege database roles: the owner migrates, the application only reads and writes.

Two roles (docs/security.md):

- the owner: owns the schema, runs migrations and this module (DATABASE_URL of `migrate`);
- the application role (web and worker): SELECT, INSERT, UPDATE, DELETE on the application's
  tables, INSERT and SELECT only on audit event tables (history cannot be rewritten or
  erased from the application, whatever it runs), USAGE on sequences, no DDL (no CREATE on
  the schema, owns nothing), no TRUNCATE, no REFERENCES or TRIGGER, and pg_monitor (the
  read-only statistics the dbhealth dashboard shows, other sessions' queries included).

Audit retention deletes events, so it runs as the owner (`manage.py prune_audit` with the
owner's DATABASE_URL), never as the application role.

apply() is idempotent: it creates the role when missing and re-grants everything, so it runs
after every `migrate` (shop/apps.py, when DB_APP_ROLE is set) and picks up new tables. Default
privileges cover tables a migration creates before then.
"""

from django.db import connection, transaction
from psycopg import sql


def event_tables() -> list[str]:
    from audit.models import EVENT_MODELS

    return [model._meta.db_table for model in EVENT_MODELS]


def apply(*, role: str, password: str | None = None) -> None:
    """Create (if missing) and grant the application role, as the owner, in one transaction."""
    name = sql.Identifier(role)
    database = sql.Identifier(connection.settings_dict["NAME"])
    statements = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {role}) THEN "
            "CREATE ROLE {name} LOGIN; END IF; END $$"
        ).format(role=sql.Literal(role), name=name),
        # Nothing beyond logging in: a compromised app cannot make roles, databases or bypass
        # row-level security.
        sql.SQL(
            "ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        ).format(name),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(name),  # no DDL
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(name),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            name
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
        # Tables and sequences the owner creates later (the next migration) start the same.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(name),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(name),
        sql.SQL("GRANT pg_monitor TO {}").format(name),
    ]
    statements += [
        # History is append-only for the application: the audit triggers INSERT, the admin
        # reads; UPDATE and DELETE are the owner's (retention).
        sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), name)
        for table in event_tables()
    ]
    if password is not None:
        statements.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string(cursor.connection))
