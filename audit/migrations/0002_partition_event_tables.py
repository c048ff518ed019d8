"""Every event table becomes range-partitioned by month on pgh_created_at, with no long lock.

Per table T, each step its own transaction (the migration is not atomic):

1. CREATE UNIQUE INDEX CONCURRENTLY on T (pgh_id, pgh_created_at): the partitioned table's
   primary key must contain the partition key. Reads and writes go on during the build.
2. CHECK (pgh_created_at < bound) NOT VALID, then VALIDATE (a scan under SHARE UPDATE
   EXCLUSIVE: reads and writes go on). bound is the first day of the month after tomorrow's,
   UTC, so no event written meanwhile can fall outside it.
3. One short transaction under lock_timeout (retried): rename T to T__legacy, make a new
   partitioned T like it (defaults, generated column, CHECKs, comments), give it T's indexes,
   triggers, row-level security policies and grants as they are in the catalogue, point the
   audit_log view at it, and ATTACH T__legacy FOR VALUES FROM (MINVALUE) TO (bound). The
   validated CHECK proves the range, so ATTACH does not scan; the unique index of step 1 backs
   the partition's primary key and the other indexes are attached, not rebuilt. Catalogue
   changes only: milliseconds whatever T's size (docs/scaling.md has the figures).
4. The next months' partitions, made as audit_partition_make() makes them (below).

A run stopped by a lock timeout (each short step is tried ATTEMPTS times) leaves each table
partitioned or plain (a plain one keeps the unique index of step 1, not the CHECK); the next run
carries on with the tables not done yet.

Nothing is dropped with CASCADE: every object is copied by name, and a test compares the
policies, triggers, grants and indexes before and after (tests/audit/test_partitions.py).

Reversed: per table, the monthly partitions' rows are copied into T__legacy under the table's
lock (only the events written since the migration), the partitioned table is dropped and
T__legacy becomes T again with its pgh_id primary key (built CONCURRENTLY first) and the same
indexes, triggers, policies and grants.
"""

import importlib
import time

from django.db import connection, migrations, transaction
from django.db.utils import OperationalError

TABLES = [
    "audit_userevent",
    "audit_usergroupevent",
    "audit_userpermissionevent",
    "audit_userprofileevent",
    "audit_categoryevent",
    "audit_productevent",
    "audit_orderevent",
    "audit_orderitemevent",
]
LEGACY = "__legacy"  # T__legacy: the events written before the migration's bound
MONTHS_AHEAD = 2  # partitions made at once after the bound's month (the beat task keeps it so)
LOCK_TIMEOUT = "2s"  # the short steps give up rather than queue readers behind them
ATTEMPTS = 5  # tries of each short step (a lock timeout), a second apart

# What a new partition copies from its parent; indexes and row triggers come with ATTACH.
LIKE = (
    "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE "
    "INCLUDING COMMENTS INCLUDING COMPRESSION INCLUDING STATISTICS"
)

# Makes the partition of `parent` for the month of `month` if it is missing, as the owner:
# CREATE TABLE (LIKE parent) + ATTACH PARTITION, which waits for no reader (CREATE TABLE ...
# PARTITION OF does: it takes ACCESS EXCLUSIVE on the parent), under lock_timeout. The new
# partition keeps no grant: it is read through its parent only, where row-level security
# applies. There is no DEFAULT partition: it would make every ATTACH scan it.
MAKE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_partition_make(parent regclass, month date)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp SET lock_timeout = '{LOCK_TIMEOUT}' AS $fn$
DECLARE
    first date := date_trunc('month', month)::date;
    name text := parent::text || '__' || to_char(first, 'YYYY_MM');
    grantee oid;
BEGIN
    IF parent::text <> ALL (ARRAY{TABLES!r}::text[]) THEN
        RAISE EXCEPTION '% is not an audit event table', parent
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF to_regclass(name) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %s {LIKE})', name, parent);
    FOR grantee IN SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = name::regclass AND a.grantee <> c.relowner LOOP
        EXECUTE format('REVOKE ALL ON %I FROM %s', name,
                       CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END);
    END LOOP;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, name, first::timestamp AT TIME ZONE 'UTC',
                   (first + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    RETURN name;
END
$fn$;
REVOKE ALL ON FUNCTION audit_partition_make(regclass, date) FROM PUBLIC;
"""

VIEW = importlib.import_module("audit.migrations.0001_event_tables").AUDIT_LOG_VIEW.replace(
    "CREATE VIEW", "CREATE OR REPLACE VIEW"
)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _fetch(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _short(step) -> None:
    """`step(cursor)` in one transaction under lock_timeout, tried ATTEMPTS times."""
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                step(cursor)
            return
        except OperationalError as error:
            if "lock timeout" not in str(error) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(1)


def _attributes(cursor, table: str) -> dict:
    """What the copy keeps: indexes but the primary key, triggers, policies, grants, RLS."""
    oid = _fetch(cursor, "SELECT %s::regclass::oid", [table])[0][0]
    return {
        "indexes": _fetch(
            cursor,
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s "
            "AND NOT i.indisprimary ORDER BY c.relname",
            [oid],
        ),
        "pkey": _fetch(
            cursor, "SELECT conname FROM pg_constraint WHERE conrelid = %s AND contype = 'p'", [oid]
        )[0][0],
        "triggers": _fetch(
            cursor,
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = %s AND NOT tgisinternal ORDER BY tgname",
            [oid],
        ),
        "policies": _fetch(
            cursor,
            "SELECT p.polname, CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,"
            " CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
            " WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
            " CASE WHEN p.polroles = '{0}' THEN 'PUBLIC' ELSE"
            " (SELECT string_agg(quote_ident(rolname), ', ') FROM pg_roles"
            "   WHERE oid = ANY (p.polroles)) END,"
            " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
            " FROM pg_policy p WHERE p.polrelid = %s ORDER BY p.polname",
            [oid],
        ),
        "grants": _fetch(
            cursor,
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,"
            " a.privilege_type FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = %s AND a.grantee <> c.relowner ORDER BY 1, 2",
            [oid],
        ),
        "rls": _fetch(
            cursor, "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s", [oid]
        )[0],
        "comment": _fetch(cursor, "SELECT obj_description(%s, 'pg_class')", [oid])[0][0],
    }


def _give(cursor, table: str, attributes: dict, *, triggers: bool = True) -> None:
    """Policies, RLS, grants, comment (and triggers) of `attributes`, on `table`."""
    t = _q(table)
    for name, permissive, command, roles, using, check in attributes["policies"]:
        cursor.execute(
            f"CREATE POLICY {_q(name)} ON {t} AS {permissive} FOR {command} TO {roles}"
            + (f" USING ({using})" if using else "")
            + (f" WITH CHECK ({check})" if check else "")
        )
    rls, force = attributes["rls"]
    if rls:
        cursor.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    if force:
        cursor.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    # A table made here starts with the schema's default privileges: exactly the copied ones.
    for (grantee,) in _fetch(
        cursor,
        "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END"
        " FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s::regclass"
        " AND a.grantee <> c.relowner",
        [table],
    ):
        cursor.execute(f"REVOKE ALL ON {t} FROM {grantee}")
    for grantee, privilege in attributes["grants"]:
        cursor.execute(f"GRANT {privilege} ON {t} TO {grantee}")
    if attributes["comment"]:
        cursor.execute(f"COMMENT ON TABLE {t} IS %s", [attributes["comment"]])
    if triggers:
        for _name, definition in attributes["triggers"]:
            cursor.execute(definition)


def _strip(cursor, table: str, attributes: dict) -> None:
    """The grants, policies and triggers of `attributes` off `table` (a partition-to-be)."""
    t = _q(table)
    for grantee, _privilege in attributes["grants"]:
        cursor.execute(f"REVOKE ALL ON {t} FROM {grantee}")
    for name, *_ in attributes["policies"]:
        cursor.execute(f"DROP POLICY {_q(name)} ON {t}")
    for name, _definition in attributes["triggers"]:
        cursor.execute(f"DROP TRIGGER {_q(name)} ON {t}")


def _replace_view(cursor) -> None:
    """audit_log over the tables now named T (OR REPLACE keeps its grants; options kept)."""
    options = _fetch(cursor, "SELECT reloptions FROM pg_class WHERE oid = 'audit_log'::regclass")
    cursor.execute(VIEW)
    if options[0][0]:
        cursor.execute(f"ALTER VIEW audit_log SET ({', '.join(options[0][0])})")


def _kind(table: str) -> str:
    """'p' partitioned, 'r' plain."""
    with connection.cursor() as cursor:
        return _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])[0][
            0
        ]


def _bound() -> str:
    with connection.cursor() as cursor:
        return _fetch(
            cursor,
            "SELECT ((date_trunc('month', (now() + interval '1 day') AT TIME ZONE 'UTC')"
            " + interval '1 month') AT TIME ZONE 'UTC')::text",
        )[0][0]


def forward(apps, schema_editor):
    bound = _bound()
    with connection.cursor() as cursor:
        cursor.execute(MAKE_FUNCTION)
    for table in TABLES:
        legacy = f"{table}{LEGACY}"
        t, lq = _q(table), _q(legacy)
        if _kind(table) == "p":
            continue  # done by a run that stopped at a later table: this one starts again there
        with connection.cursor() as cursor:  # autocommit: each statement its own transaction
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_q(legacy + '_pkey')}")
            cursor.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY {_q(legacy + '_pkey')} "
                f"ON {t} (pgh_id, pgh_created_at)"
            )

        def check(cursor, t=t, legacy=legacy):
            # IF EXISTS: a run stopped after this step starts it again.
            cursor.execute(f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {_q(legacy + '_range')}")
            cursor.execute(
                f"ALTER TABLE {t} ADD CONSTRAINT {_q(legacy + '_range')} "
                "CHECK (pgh_created_at < %s) NOT VALID",
                [bound],
            )

        _short(check)
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {t} VALIDATE CONSTRAINT {_q(legacy + '_range')}")

        def swap(cursor, table=table, legacy=legacy, t=t, lq=lq):
            cursor.execute(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
            attributes = _attributes(cursor, table)
            cursor.execute(f"ALTER TABLE {t} RENAME TO {lq}")
            for name, _definition in attributes["indexes"]:
                if name != legacy + "_pkey":
                    cursor.execute(f"ALTER INDEX {_q(name)} RENAME TO {_q(name + LEGACY)}")
            cursor.execute(f"ALTER TABLE {lq} DROP CONSTRAINT {_q(attributes['pkey'])}")
            cursor.execute(
                f"ALTER TABLE {lq} ADD CONSTRAINT {_q(legacy + '_pkey')} "
                f"PRIMARY KEY USING INDEX {_q(legacy + '_pkey')}"
            )
            _strip(cursor, legacy, attributes)
            cursor.execute(
                f"CREATE TABLE {t} (LIKE {lq} {LIKE}) PARTITION BY RANGE (pgh_created_at)"
            )
            cursor.execute(f"ALTER TABLE {t} DROP CONSTRAINT {_q(legacy + '_range')}")
            cursor.execute(
                f"ALTER TABLE {t} ADD CONSTRAINT {_q(attributes['pkey'])} "
                "PRIMARY KEY (pgh_id, pgh_created_at)"
            )
            for name, definition in attributes["indexes"]:
                if name != legacy + "_pkey":
                    cursor.execute(definition)
            _give(cursor, table, attributes)
            _replace_view(cursor)
            cursor.execute(
                f"ALTER TABLE {t} ATTACH PARTITION {lq} FOR VALUES FROM (MINVALUE) TO (%s)",
                [bound],
            )
            cursor.execute(f"ALTER TABLE {lq} DROP CONSTRAINT {_q(legacy + '_range')}")
            for ahead in range(MONTHS_AHEAD):
                cursor.execute(
                    "SELECT audit_partition_make(%s::regclass,"
                    " ((%s::timestamptz AT TIME ZONE 'UTC') + make_interval(months => %s))::date)",
                    [table, bound, ahead],
                )

        try:
            _short(swap)
        except Exception:
            # The CHECK would refuse events past the bound on the still plain table: off with it
            # (the unique index stays, harmless, and is rebuilt by the next run).
            _short(
                lambda cursor, t=t, legacy=legacy: cursor.execute(
                    f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {_q(legacy + '_range')}"
                )
            )
            raise


def backward(apps, schema_editor):
    for table in TABLES:
        legacy = f"{table}{LEGACY}"
        t, lq = _q(table), _q(legacy)
        if _kind(table) == "r":
            continue  # already plain again (a stopped run)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_q(legacy + '_id')}")
            cursor.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY {_q(legacy + '_id')} ON {lq} (pgh_id)"
            )

        def unswap(cursor, table=table, legacy=legacy, t=t, lq=lq):
            cursor.execute(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
            attributes = _attributes(cursor, table)
            monthly = [
                name
                for (name,) in _fetch(
                    cursor,
                    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass"
                    " ORDER BY 1",
                    [table],
                )
                if name != legacy
            ]
            columns = ", ".join(
                _q(name)
                for (name,) in _fetch(
                    cursor,
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                    " AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                    [table],
                )
            )
            for name in [*monthly, legacy]:
                cursor.execute(f"ALTER TABLE {t} DETACH PARTITION {_q(name)}")
            # Triggers cloned from the parent go with DETACH; what the partitions kept is not
            # the parent's.
            for name in monthly:
                cursor.execute(
                    f"INSERT INTO {lq} ({columns}) SELECT {columns} FROM {_q(name)}"  # noqa: S608
                )
                cursor.execute(f"DROP TABLE {_q(name)}")
            cursor.execute(f"ALTER TABLE {t} RENAME TO {_q(table + '__partitioned')}")
            cursor.execute(f"ALTER TABLE {lq} RENAME TO {t}")
            _replace_view(cursor)
            cursor.execute(f"DROP TABLE {_q(table + '__partitioned')}")
            cursor.execute(f"ALTER TABLE {t} DROP CONSTRAINT {_q(legacy + '_pkey')}")
            cursor.execute(
                f"ALTER TABLE {t} ADD CONSTRAINT {_q(attributes['pkey'])} "
                f"PRIMARY KEY USING INDEX {_q(legacy + '_id')}"
            )
            for name, _definition in attributes["indexes"]:
                cursor.execute(f"ALTER INDEX {_q(name + LEGACY)} RENAME TO {_q(name)}")
            _give(cursor, table, attributes)

        _short(unswap)
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION audit_partition_make(regclass, date)")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY, and one short transaction per step

    dependencies = [
        ("audit", "0001_event_tables"),
        ("shop", "0016_order_status_transition_from_data"),  # the event tables' RLS policies
    ]

    operations = [migrations.RunPython(forward, backward)]
