"""Least-privilege database roles: the owner migrates, the application only reads and writes.

Two roles (docs/security.md):

- the owner: owns the schema, runs migrations and this module (DATABASE_URL of `migrate`);
- the application role (web and worker): SELECT, INSERT, UPDATE, DELETE on the application's
  tables, SELECT only on audit event tables and pghistory_context (history is written by the
  triggers alone, and cannot be forged, rewritten or erased from the application, whatever it
  runs: audit/roles.py), USAGE on sequences, no DDL (no CREATE on the schema, owns nothing),
  no TRUNCATE, no REFERENCES or TRIGGER, and pg_monitor (the read-only statistics the dbhealth
  dashboard shows, other sessions' queries included) and pg_signal_backend (its
  cancel/terminate actions).

What an app adds to every login role's grants it registers here (register(), from its
AppConfig.ready): audit's read-only history and its retention function (audit/roles.py), and
the functions that must run as their owner. This module knows no app's tables.

Two login roles get these grants (docs/security.md, row-level security): the application role
pgshop_app (shopper-facing, bound by the fail-closed policies of shop/migrations/0015) and the
staff role pgshop_staff (the admin, the staff API, Celery, commands), which those policies let
see every row. The staff role's grants are the same, SELECT on event tables included (the
admin's history) and no UPDATE/DELETE on them; only the audit triggers INSERT events. The
application role must never be a member of the staff role (separate() makes sure), or any
statement of a shopper's session could `SET ROLE pgshop_staff`.

apply() is idempotent: it creates the role when missing and re-grants everything, so it runs
after every `migrate` (core/apps.py, when DB_APP_ROLE is set) and picks up new tables. Default
privileges cover tables a migration creates before then.
"""

from collections.abc import Callable

from django.db import connection, transaction
from psycopg import sql

# role -> statements run after the common grants, by the apps that registered them.
_role_grants: list[Callable[[str], list[sql.Composable]]] = []
# () -> names of functions that must stay SECURITY DEFINER (triggers writing as the owner).
_definer_functions: list[Callable[[], set[str]]] = []


def register(
    *,
    grants: Callable[[str], list[sql.Composable]] | None = None,
    definer_functions: Callable[[], set[str]] | None = None,
) -> None:
    """An app's share of the roles: extra statements per login role, and trigger functions
    lock_triggers() keeps SECURITY DEFINER. Called from the app's AppConfig.ready."""
    if grants is not None and grants not in _role_grants:
        _role_grants.append(grants)
    if definer_functions is not None and definer_functions not in _definer_functions:
        _definer_functions.append(definer_functions)


def definer_functions() -> set[str]:
    """Every registered function that a trigger runs as its owner (audit's history triggers)."""
    return set().union(*(found() for found in _definer_functions))


def apply(*, role: str, password: str | None = None) -> None:
    """Create (if missing) and grant the application role, as the owner, in one transaction."""
    name = sql.Identifier(role)
    database = sql.Identifier(connection.settings_dict["NAME"])
    statements = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {role}) THEN "
            "CREATE ROLE {name} LOGIN; END IF; END $$"
        ).format(role=sql.Literal(role), name=name),
        # LOGIN: the staff role may exist already, without it (made by shop/migrations/0015).
        # Nothing beyond logging in: a compromised app cannot make roles, databases or bypass
        # row-level security.
        sql.SQL(
            "ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
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
        # The dashboard's cancel/terminate actions (superusers of the app only, dbhealth/views.py)
        # on backends of non-superuser roles.
        sql.SQL("GRANT pg_signal_backend TO {}").format(name),
    ]
    for grants in _role_grants:
        statements += grants(role)
    if password is not None:
        statements.append(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string(cursor.connection))
    lock_triggers()


# --- Triggers: what no application role switches off ------------------------------------------
#
# Trigger functions that write as the owner (SECURITY DEFINER: audit's history triggers, which
# an app registers) need no grant on the tables they write. And pgtrigger's runtime switch (SET
# pgtrigger.ignore, which any role may set) is honoured for the owner only, so the status,
# total and audit triggers hold for the application whatever it runs. pgtrigger re-creates its
# functions with CREATE OR REPLACE on every trigger install (a migration's AddTrigger), which
# undoes both: lock_triggers() re-applies them after every migrate (core/apps.py) and
# tests/security/test_history_lockdown.py fails if any trigger function in the schema is left
# open.

IGNORE_FUNCTION = "_pgtrigger_should_ignore"  # pgtrigger's, called by each of its trigger functions

# Functions the owner's triggers run are fixed to the schema's tables: with the default path an
# application session's temporary table (pg_temp, searched first) would stand in for a real one.
SEARCH_PATH = "public, pg_temp"


def _ignore_function() -> sql.Composed:
    """pgtrigger's _pgtrigger_should_ignore, honouring pgtrigger.ignore for the owner only.

    session_user, not current_user: inside a SECURITY DEFINER trigger current_user is the owner
    whoever writes, and session_user can only be changed by a superuser. The function's own
    owner is the role that migrates (CREATE OR REPLACE keeps it), so pg_has_role covers its
    members and superusers. Unset (the common case) returns at once, with no subtransaction.
    """
    return sql.SQL(
        """
        CREATE OR REPLACE FUNCTION public.{function}(trigger_name name)
        RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
            _setting text := NULLIF(current_setting('pgtrigger.ignore', true), '');
            _ignore text[];
        BEGIN
            IF _setting IS NULL THEN
                RETURN FALSE;
            END IF;
            IF NOT pg_has_role(
                session_user,
                (SELECT proowner FROM pg_proc WHERE oid = 'public.{function}(name)'::regprocedure),
                'USAGE'
            ) THEN
                RETURN FALSE;  -- not the owner: every trigger runs
            END IF;
            BEGIN
                _ignore := _setting::text[];
            EXCEPTION WHEN OTHERS THEN
                RETURN FALSE;  -- as pgtrigger's own: a malformed list ignores nothing
            END;
            RETURN trigger_name = ANY(_ignore);
        END
        $fn$
        """
    ).format(function=sql.SQL(IGNORE_FUNCTION))


# Every function of the schema's own (not an extension's) that a trigger may run, with its
# SECURITY DEFINER and search_path as they are now.
_FUNCTIONS_SQL = """
SELECT p.proname, p.oid::regprocedure::text, p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace
   AND p.prokind = 'f'
   AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
   AND NOT EXISTS (SELECT FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
"""


def lock_triggers() -> None:
    """Owner-only trigger ignoring, history triggers as the owner: re-applied where undone.

    Cheap when nothing changed (two catalogue reads), as it runs after every migrate and flush.
    """
    history = definer_functions()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(%s)",
            [f"public.{IGNORE_FUNCTION}(name)"],
        )
        current = cursor.fetchone()
        wanted = _ignore_function().as_string(cursor.connection)
        # pgtrigger's own body (or none): ours again. Like pgtrigger's, callable by every role.
        if current is None or current[0].strip() != wanted.split("$fn$")[1].strip():
            cursor.execute(wanted)
        cursor.execute(_FUNCTIONS_SQL)
        for proname, signature, secdef, config in cursor.fetchall():
            if proname == IGNORE_FUNCTION:
                continue
            definer = secdef or proname in history  # a SECURITY DEFINER one stays one
            path_set = f"search_path={SEARCH_PATH}" in (config or [])
            if path_set and secdef == definer:
                continue
            security = " SECURITY DEFINER" if definer else ""
            cursor.execute(f"ALTER FUNCTION {signature}{security} SET search_path = {SEARCH_PATH}")


def separate(*, app_role: str, staff_role: str) -> None:
    """The application login cannot become staff: no membership, so no SET ROLE to it.

    A direct membership made by hand (GRANT pgshop_staff TO pgshop_app) is revoked; one
    through a third role cannot be revoked from here, so it stops the command instead.
    """
    check = sql.SQL(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = {granted}::regrole "
        "AND m.member = {member}::regrole) THEN "
        "EXECUTE 'REVOKE ' || quote_ident({granted}) || ' FROM ' || quote_ident({member}); "
        "END IF; "
        "IF pg_has_role({member}, {granted}, 'MEMBER') THEN "
        "RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', "
        "MESSAGE = {member} || ' is a member of ' || {granted} || ' through another role'; "
        "END IF; END $$"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for granted, member in ((staff_role, app_role), (app_role, staff_role)):
            statement = check.format(granted=sql.Literal(granted), member=sql.Literal(member))
            cursor.execute(statement.as_string(cursor.connection))


def apply_both(
    *, app_role: str, staff_role: str, app_password: str | None, staff_password: str | None
) -> None:
    """Both login roles, granted alike, and kept apart (what migrate and `db_roles` run)."""
    apply(role=app_role, password=app_password)
    apply(role=staff_role, password=staff_password)
    separate(app_role=app_role, staff_role=staff_role)
