"""The event tables, range-partitioned by month: what the migration keeps, how months are made
ahead without waiting for readers, retention by whole months, and what a write past the last
partition does (audit/partitions.py, audit/retention.py, audit/migrations/0002)."""

import importlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import OperationalError

from audit.models import CategoryEvent
from audit.partitions import event_tables, month_start, partitions, partitions_ensure
from audit.retention import audit_prune
from audit.tasks import audit_partitions_task
from core.admin import CappedCountPaginator
from shop.factories import CategoryFactory
from tests.security.conftest import app_db  # noqa: F401

pytestmark = pytest.mark.django_db

TABLES = event_tables()


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def bound() -> datetime:
    """Where the legacy partition ends: the migration's bound."""
    return next(p.upper for p in partitions()["audit_categoryevent"] if p.lower is None)


def at(day) -> datetime:
    """Midnight UTC of `day`: where a month's partition starts."""
    return datetime.combine(day, datetime.min.time(), UTC)


def names(table: str) -> list[str]:
    return [p.name for p in partitions()[table]]


def insert_category_event(at: datetime, obj_id: int = 1) -> None:
    """An event dated `at`, written as the owner (the triggers date events by the clock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_categoryevent (pgh_created_at, pgh_label, pgh_obj_id, id, name,"
            " slug, created_at, updated_at) VALUES (%s, 'insert', %s, %s, 'x', 'x', %s, %s)",
            [at, obj_id, obj_id, at, at],
        )


def catalogue(table: str) -> dict:
    """What must survive partitioning: policies, triggers, grants, RLS, indexes, the view."""
    return {
        "policies": fetch(
            "SELECT policyname, permissive, roles::text[], cmd, qual, with_check FROM pg_policies"
            " WHERE tablename = %s ORDER BY policyname",
            [table],
        ),
        "triggers": fetch(
            "SELECT tgname, tgenabled, tgtype, tgfoid::regproc::text FROM pg_trigger"
            " WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY tgname",
            [table],
        ),
        "grants": fetch(
            "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
            " WHERE table_name = %s ORDER BY 1, 2",
            [table],
        ),
        "rls": fetch(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
            [table],
        ),
        # Every index but the primary key (which gains the partition key), by name and shape.
        "indexes": fetch(
            "SELECT c.relname,"
            " regexp_replace(pg_get_indexdef(i.indexrelid), ' ON (ONLY )?', ' ON ')"
            " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY 1",
            [table],
        ),
        "view": fetch(
            "SELECT reloptions, relacl::text FROM pg_class WHERE oid = 'audit_log'::regclass"
        ),
    }


def test_every_event_table_is_partitioned_by_month_with_no_default_partition():
    first = bound()
    after = datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=UTC)

    for table in TABLES:
        strategy, default = fetch(
            "SELECT partstrat, partdefid FROM pg_partitioned_table WHERE partrelid = %s::regclass",
            [table],
        )[0]
        assert (strategy, default) == ("r", 0), table
        assert [(p.name, p.lower, p.upper) for p in partitions()[table]] == [
            (f"{table}__legacy", None, first),
            (f"{table}__{first:%Y_%m}", first, after),
            (f"{table}__{after:%Y_%m}", after, at(month_start(after, 1))),
        ]


def test_the_legacy_bound_is_the_month_after_tomorrows():
    now = fetch("SELECT now()")[0][0]

    assert bound() == datetime.combine(
        month_start(now + timedelta(days=1), 1), datetime.min.time(), UTC
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_policy_trigger_grant_and_index_both_ways():
    CategoryFactory(name="Kept")
    partitioned = {table: catalogue(table) for table in TABLES}
    events = fetch("SELECT pgh_id, pgh_created_at FROM audit_log ORDER BY pgh_id")

    call_command("migrate", "audit", "0001", verbosity=0)
    plain = {table: catalogue(table) for table in TABLES}
    kinds = fetch(
        "SELECT relname, relkind FROM pg_class WHERE relname = ANY (%s) ORDER BY 1", [TABLES]
    )
    events_plain = fetch("SELECT pgh_id, pgh_created_at FROM audit_log ORDER BY pgh_id")
    call_command("migrate", "audit", verbosity=0)

    assert kinds == [(table, "r") for table in sorted(TABLES)]
    assert {table: catalogue(table) for table in TABLES} == partitioned == plain
    assert len(plain["audit_orderevent"]["policies"]) == 3  # shopper, record, staff
    assert len(plain["audit_categoryevent"]["triggers"]) == 1  # append_only
    assert events_plain == events
    assert fetch("SELECT pgh_id, pgh_created_at FROM audit_log ORDER BY pgh_id") == events
    assert fetch(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'audit\\_%%\\_\\_partitioned'"
    ) == [(0,)]


def partition_of_under_lock_timeout() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '200ms'")
        cursor.execute(
            "CREATE TABLE audit_categoryevent__probe PARTITION OF audit_categoryevent"
            " FOR VALUES FROM ('2100-01-01') TO ('2100-02-01')"
        )


def test_partitions_are_made_ahead_while_a_reader_holds_the_table():
    db = connection.settings_dict
    first = bound()
    later = month_start(first, 3)
    reader = psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"],
        password=db["PASSWORD"] or None,
    )  # fmt: skip
    try:
        reader.execute("SELECT count(*) FROM audit_categoryevent")  # its transaction stays open

        # The shortcut waits behind the reader (ACCESS EXCLUSIVE on the parent), here until its
        # lock_timeout ...
        with pytest.raises(OperationalError, match="lock timeout"):
            partition_of_under_lock_timeout()
        # ... CREATE TABLE (LIKE) + ATTACH does not.
        made = partitions_ensure(now=datetime.combine(later, datetime.min.time(), UTC))
    finally:
        reader.close()

    expected = [month_start(first, n) for n in (2, 3, 4, 5)]
    assert [name for name in made if name.startswith("audit_categoryevent__")] == [
        f"audit_categoryevent__{month:%Y_%m}" for month in expected
    ]
    assert len(made) == 4 * len(TABLES)
    assert names("audit_categoryevent")[-1] == f"audit_categoryevent__{expected[-1]:%Y_%m}"
    assert partitions_ensure(now=datetime.combine(later, datetime.min.time(), UTC)) == []


def test_an_event_past_the_last_partition_is_refused_and_so_is_the_write():
    last = partitions()["audit_categoryevent"][-1].upper

    with pytest.raises(Exception, match="no partition of relation") as error, transaction.atomic():
        insert_category_event(last + timedelta(seconds=1))

    assert error.type.__name__ == "IntegrityError"
    assert fetch("SELECT count(*) FROM audit_categoryevent WHERE pgh_created_at >= %s", [last]) == [
        (0,)
    ]


def test_an_insert_straight_into_a_partition_draws_its_id_from_the_shared_sequence():
    """On PostgreSQL 15 an identity column gives NULL ids there; the event ids are a plain
    sequence default, copied onto every partition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_categoryevent__legacy (pgh_created_at, pgh_label, pgh_obj_id, id,"
            " name, slug, created_at, updated_at)"
            " VALUES (now(), 'insert', 7, 7, 'x', 'x', now(), now()) RETURNING pgh_id"
        )
        pgh_id = cursor.fetchone()[0]
        cursor.execute("SELECT last_value FROM audit_event_pgh_id_seq")

        assert pgh_id == cursor.fetchone()[0]


def test_retention_drops_whole_months_and_keeps_the_month_the_cutoff_falls_in():
    first = bound()
    second = at(month_start(first, 1))
    partitions_ensure(now=second, months_ahead=1)
    old = first - timedelta(days=400)
    insert_category_event(old, 1)
    insert_category_event(first + timedelta(days=3), 2)
    in_cutoff_month = second + timedelta(days=2)
    insert_category_event(in_cutoff_month, 3)
    cutoff = in_cutoff_month + timedelta(days=10)

    result = audit_prune(cutoff=cutoff, batch_size=1)

    assert result.dropped["audit_categoryevent"] == [
        "audit_categoryevent__legacy",
        f"audit_categoryevent__{first:%Y_%m}",
    ]
    assert result.deleted == dict.fromkeys(TABLES, 0)  # nothing deleted row by row
    assert result.batches == 0
    assert names("audit_categoryevent") == [
        f"audit_categoryevent__{second:%Y_%m}",
        f"audit_categoryevent__{month_start(second, 1):%Y_%m}",
    ]
    # The month the cutoff falls in stays whole, its events older than the cutoff with it.
    assert list(CategoryEvent.objects.values_list("pgh_obj_id", flat=True)) == [3]
    assert fetch("SELECT count(*) FROM audit_log WHERE object_model = 'shop.category'") == [(1,)]


def test_retention_deletes_in_batches_inside_the_legacy_partition_until_it_can_drop_it():
    CategoryFactory()
    CategoryFactory()
    cutoff = fetch("SELECT clock_timestamp()")[0][0]

    result = audit_prune(cutoff=cutoff, batch_size=1)

    assert result.dropped == {table: [] for table in TABLES}
    assert result.deleted["audit_categoryevent"] == 2
    assert names("audit_categoryevent")[0] == "audit_categoryevent__legacy"
    assert CategoryEvent.objects.count() == 0


def test_partition_statements_take_the_documented_locks():
    """The parent's lock of each way to make or drop a partition (docs/scaling.md)."""

    def parent_locks(*statements) -> set[str]:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            cursor.execute(
                "SELECT mode FROM pg_locks WHERE locktype = 'relation' AND pid = pg_backend_pid()"
                " AND relation = 'audit_categoryevent'::regclass"
            )
            held = {mode for (mode,) in cursor.fetchall()}
            transaction.set_rollback(True)
        return held

    like = (
        "CREATE TABLE audit_categoryevent__probe"
        " (LIKE audit_categoryevent INCLUDING DEFAULTS INCLUDING GENERATED)"
    )
    attach = (
        "ALTER TABLE audit_categoryevent ATTACH PARTITION audit_categoryevent__probe"
        " FOR VALUES FROM ('2100-01-01') TO ('2100-02-01')"
    )
    assert parent_locks(like) == {"AccessShareLock"}
    assert parent_locks(like, attach) == {"AccessShareLock", "ShareUpdateExclusiveLock"}
    assert parent_locks(
        "CREATE TABLE audit_categoryevent__probe PARTITION OF audit_categoryevent"
        " FOR VALUES FROM ('2100-01-01') TO ('2100-02-01')"
    ) == {"AccessExclusiveLock"}
    assert parent_locks(
        "ALTER TABLE audit_categoryevent DETACH PARTITION audit_categoryevent__legacy"
    ) == {"AccessExclusiveLock"}


def test_month_start_counts_months_in_utc():
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert [month_start(moment, n).isoformat() for n in (0, 1, 2, 13)] == [
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
        "2028-01-01",
    ]


# What the application role tries, each refused with insufficient_privilege (42501).
FORBIDDEN = [
    "ALTER TABLE audit_orderevent DETACH PARTITION audit_orderevent__legacy",
    "DROP TABLE audit_orderevent__legacy",
    "ALTER TABLE audit_orderevent DISABLE TRIGGER ALL",
    "ALTER TABLE audit_orderevent__legacy DISABLE TRIGGER ALL",
    # Read straight from a partition, RLS would not apply: no grant at all.
    "SELECT count(*) FROM audit_orderevent__legacy",
    "INSERT INTO audit_categoryevent__legacy (pgh_created_at, pgh_label, pgh_obj_id, id, name,"
    " slug, created_at, updated_at) VALUES (now(), 'insert', 1, 1, 'x', 'x', now(), now())",
    # The functions: a month newer than the retention period, a table not an event table.
    "SELECT audit_partition_drop('audit_orderevent__legacy')",
    "SELECT audit_partition_make('shop_order', '2100-01-01')",
]


@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_detach_drop_read_or_switch_off_a_partition(
    app_db,  # noqa: F811
):
    refused = {}
    for statement in FORBIDDEN:
        try:
            app_db.execute(statement)
        except psycopg.Error as error:
            refused[statement] = error.sqlstate
        else:
            refused[statement] = "allowed"

    assert refused == dict.fromkeys(FORBIDDEN, "42501")
    assert names("audit_orderevent")[0] == "audit_orderevent__legacy"
    assert fetch(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_orderevent__legacy'::regclass"
        " AND tgenabled = 'O'"
    ) == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_a_migration_stopped_by_a_reader_leaves_tables_whole_and_the_next_run_finishes(
    monkeypatch,
):
    migration = importlib.import_module("audit.migrations.0002_partition_event_tables")
    partitioned = {table: catalogue(table) for table in TABLES}
    call_command("migrate", "audit", "0001", verbosity=0)
    monkeypatch.setattr(migration, "ATTEMPTS", 1)
    monkeypatch.setattr(migration, "LOCK_TIMEOUT", "100ms")
    db = connection.settings_dict
    reader = psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"],
        password=db["PASSWORD"] or None,
    )  # fmt: skip
    try:
        # Bounded: were the migration to wait for it, the reader goes after 20 s.
        reader.execute("SET idle_in_transaction_session_timeout = '20s'")
        reader.execute("SELECT count(*) FROM audit_orderevent")  # holds it until closed
        with pytest.raises(OperationalError, match="lock timeout"):
            call_command("migrate", "audit", verbosity=0)
        kinds = dict(
            fetch("SELECT relname, relkind FROM pg_class WHERE relname = ANY (%s)", [TABLES])
        )
        checks = fetch(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'audit_orderevent'::regclass"
            " AND contype = 'c' ORDER BY 1"
        )
    finally:
        reader.close()
    call_command("migrate", "audit", verbosity=0)

    stopped_at = TABLES.index("audit_orderevent")
    assert kinds == {
        table: "p" if index < stopped_at else "r" for index, table in enumerate(TABLES)
    }
    assert checks == [("audit_orderevent_version_check",)]  # no range CHECK left behind
    assert {table: catalogue(table) for table in TABLES} == partitioned
    assert [len(partitions()[table]) for table in TABLES] == [3] * len(TABLES)


@pytest.mark.django_db(transaction=True)
def test_a_month_the_application_role_makes_is_still_the_owners_alone(app_db):  # noqa: F811
    last = partitions()["audit_categoryevent"][-1].upper

    (made,) = app_db.execute(
        "SELECT audit_partition_make('audit_categoryevent', %s)", [last.date()]
    ).fetchone()
    try:
        with pytest.raises(psycopg.Error) as failure:
            app_db.execute(f"SELECT count(*) FROM {made}")  # noqa: S608
        grantees = fetch(
            "SELECT DISTINCT a.grantee::regrole::text, c.relowner::regrole::text FROM pg_class c,"
            " aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE c.relname = %s",
            [made],
        )
        triggers = fetch(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [made],
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE audit_categoryevent DETACH PARTITION {made}")
            cursor.execute(f"DROP TABLE {made}")

    assert made == f"audit_categoryevent__{last:%Y_%m}"
    assert failure.value.sqlstate == "42501"
    user = connection.settings_dict["USER"]
    assert grantees == [(user, user)]  # the owner's rights only
    assert triggers == [(1,)]  # append_only, cloned from the event table


def test_the_beat_makes_the_months_ahead_daily(settings):
    assert settings.CELERY_BEAT_SCHEDULE["audit-partitions"] == {
        "task": "audit.tasks.audit_partitions_task",
        "schedule": 86400,
    }
    assert audit_partitions_task.apply().get() == []  # the migration made them already


def test_the_admins_count_is_exact_across_partitions():
    """core.admin counts, never estimates: on a partitioned table it reads every month."""
    first = bound()
    insert_category_event(first - timedelta(days=1), 1)
    insert_category_event(first + timedelta(days=1), 2)
    insert_category_event(first + timedelta(days=40), 3)
    paginator = CappedCountPaginator(CategoryEvent.objects.order_by("-pgh_id"), 2)

    assert (paginator.count, paginator.is_exact, paginator.num_pages) == (3, True, 2)
    assert fetch(
        "SELECT tableoid::regclass::text, count(*) FROM audit_categoryevent GROUP BY 1 ORDER BY 1"
    ) == [
        (f"audit_categoryevent__{first:%Y_%m}", 1),
        (f"audit_categoryevent__{month_start(first, 1):%Y_%m}", 1),
        ("audit_categoryevent__legacy", 1),
    ]
