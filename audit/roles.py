"""Audit's share of the login roles (core/roles.py runs it for each role, registered in
audit/apps.py): history is read-only for every application role, and retention deletes old
events through one function.

History is written by the triggers alone (SECURITY DEFINER, as the owner), so no application
role needs, or has, INSERT, UPDATE or DELETE on an event table or on pghistory_context:
history holds only events that happened, and cannot be forged, rewritten or erased from the
application, whatever it runs.

Audit retention (a Celery beat task in the worker, which runs as the application role) deletes
events through one SECURITY DEFINER function, audit_prune_batch(table, cutoff, batch), owned by
the owner and executable by the login roles only. It deletes from event tables only, and only
events older than the retention period (AUDIT_RETENTION_DAYS, written into the function when
it is made): a compromised application can at most run retention early, never erase recent
history. (A separate login role for retention would need a second set of credentials in every
worker for the same effect.)

The event tables are partitioned by month (audit/partitions.py). The partitions are the
owner's alone: no application role holds any grant on one (read directly, a partition would
skip its parent's row-level security), and DETACH, DROP and DISABLE TRIGGER need ownership.
Months are made through audit_partition_make() (audit/migrations/0002) and dropped through
audit_partition_drop(), which refuses a month newer than the retention period; both SECURITY
DEFINER, executable by the login roles only (tests/audit/test_partitions.py attacks each).
"""

import pgtrigger
from django.conf import settings
from pghistory.models import Context
from pghistory.trigger import Event
from psycopg import sql

from audit.models import EVENT_ID_SEQUENCE, EVENT_MODELS, PRUNE_BEFORE_SETTING
from audit.partitions import DROP_FUNCTION, DROP_LOCK_TIMEOUT, LEGACY, MAKE_FUNCTION, partitions

PRUNE_FUNCTION = "audit_prune_batch"


def event_tables() -> list[str]:
    return [model._meta.db_table for model in EVENT_MODELS]


def history_tables() -> list[str]:
    """Tables only the audit triggers (and the owner) write: the event tables and the context."""
    return [*event_tables(), Context._meta.db_table]


def partition_tables() -> list[str]:
    """Every partition of the event tables: the owner's alone. Read through the parent, where
    row-level security applies (a partition has no policy of its own)."""
    return [p.name for found in partitions().values() for p in found]


def history_grants(roles: list[str]) -> list[sql.Composed]:
    """Read-only history for each of `roles`: SELECT (the admin, the audit log), nothing else."""
    statements = []
    for role in roles:
        name = sql.Identifier(role)
        for table in history_tables():
            statements += [
                sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), name),
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), name),
            ]
        # No grant at all on a partition (a table made later gets the schema's default
        # privileges, which audit_partition_make() revokes).
        for table in partition_tables():
            statements.append(
                sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), name)
            )
        # The events' ids are drawn by the triggers, as the owner.
        statements.append(
            sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {}").format(
                sql.Identifier(EVENT_ID_SEQUENCE), name
            )
        )
    return statements


def prune_function() -> sql.Composed:
    return sql.SQL(
        """
        CREATE OR REPLACE FUNCTION {function}(tbl regclass, cutoff timestamptz, batch int)
        RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
        DECLARE
            deleted int;
        BEGIN
            IF tbl::text <> ALL ({tables}::text[] || {legacy}::text[]) THEN
                RAISE EXCEPTION '% is not an audit event table', tbl
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF cutoff > now() - make_interval(days => {days}) THEN
                RAISE EXCEPTION 'events newer than % days are kept', {days}
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            PERFORM set_config({setting}, cutoff::text, true);
            EXECUTE format(
                'DELETE FROM %s WHERE pgh_id IN (SELECT pgh_id FROM %s '
                'WHERE pgh_created_at < $1 ORDER BY pgh_created_at, pgh_id LIMIT $2)', tbl, tbl
            ) USING cutoff, batch;
            GET DIAGNOSTICS deleted = ROW_COUNT;
            RETURN deleted;
        END
        $fn$
        """
    ).format(
        function=sql.Identifier(PRUNE_FUNCTION),
        tables=sql.Literal(event_tables()),
        legacy=sql.Literal([f"{table}{LEGACY}" for table in event_tables()]),
        days=sql.Literal(settings.AUDIT_RETENTION_DAYS),
        setting=sql.Literal(PRUNE_BEFORE_SETTING),
    )


def drop_function() -> sql.Composed:
    """audit_partition_drop(partition): DETACH and DROP one partition of an event table whose
    whole range is older than the retention period (the days written in when it is made)."""
    return sql.SQL(
        r"""
        CREATE OR REPLACE FUNCTION {function}(part regclass)
        RETURNS void LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = public, pg_temp SET lock_timeout = {timeout} AS $fn$
        DECLARE
            parent regclass;
            upper timestamptz;
        BEGIN
            SELECT i.inhparent, substring(pg_get_expr(c.relpartbound, c.oid)
                                          FROM 'TO \(''([^'']*)''\)')::timestamptz
              INTO parent, upper
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhrelid = part;
            IF parent IS NULL OR parent::text <> ALL ({tables}::text[]) THEN
                RAISE EXCEPTION '% is not a partition of an audit event table', part
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF upper > now() - make_interval(days => {days}) THEN
                RAISE EXCEPTION 'events newer than % days are kept', {days}
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, part);
            EXECUTE format('DROP TABLE %s', part);
        END
        $fn$
        """
    ).format(
        function=sql.Identifier(DROP_FUNCTION),
        timeout=sql.Literal(DROP_LOCK_TIMEOUT),
        tables=sql.Literal(event_tables()),
        days=sql.Literal(settings.AUDIT_RETENTION_DAYS),
    )


def role_grants(role: str) -> list[sql.Composed]:
    """What core.roles.apply() adds for a login role: read-only history, the prune and
    partition functions (retention, and the next months made ahead)."""
    statements = [*history_grants([role]), prune_function(), drop_function()]
    for function in (
        sql.SQL("{}(regclass, timestamptz, int)").format(sql.Identifier(PRUNE_FUNCTION)),
        sql.SQL("{}(regclass)").format(sql.Identifier(DROP_FUNCTION)),
        sql.SQL("{}(regclass, date)").format(sql.Identifier(MAKE_FUNCTION)),
    ):
        statements += [
            sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(function),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, sql.Identifier(role)),
        ]
    return statements


def history_trigger_functions() -> set[str]:
    """The functions of the audit triggers (pghistory's), by name: these write history, as the
    owner (core.roles.lock_triggers keeps them SECURITY DEFINER)."""
    return {
        trigger.get_pgid(model)
        for model, trigger in pgtrigger.registered()
        if isinstance(trigger, Event)
    }
