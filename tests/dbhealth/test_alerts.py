"""Alert rules: each fires when its condition is made real, mails ADMINS once per incident,
and resolves when the condition goes away; two evaluations at once open one alert."""

import threading
import uuid

import psycopg
import pytest
from django.db import connection, transaction

from dbhealth.alerts import RULES, alerts_evaluate
from dbhealth.models import Alert, QuerySample
from dbhealth.snapshots import snapshot_take
from tests.conftest import wait_until

ADMINS = [("ops", "ops@example.com")]
# Thresholds no condition reaches: each test lowers only its own rule's.
QUIET = {
    "CACHE_HIT_RATIO_CRITICAL": 0.0,
    "CONNECTIONS_CRITICAL": 10.0,
    "LONG_RUNNING_SEC": 1e9,
    "IDLE_IN_TRANSACTION_SEC": 1e9,
    "REPLICATION_LAG_CRITICAL_SEC": 1e9,
    "INACTIVE_SLOT_CRITICAL_BYTES": 2**62,
    "XID_AGE_CRITICAL": 2**40,
    "SEQUENCE_CRITICAL": 2.0,
    "PARTITION_RUNWAY_DAYS_CRITICAL": -1e9,
    "REGRESSION_MIN_CALLS": 10**12,
}


@pytest.fixture
def rules(settings, dbhealth_settings, mailoutbox):
    settings.ADMINS = ADMINS
    dbhealth_settings(**QUIET)
    return dbhealth_settings


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks):
    """alerts_evaluate(), with its on-commit mail sent (the test's transaction never commits)."""

    def run():
        if not connection.in_atomic_block:  # a transaction=True test: it commits itself
            return alerts_evaluate()
        with django_capture_on_commit_callbacks(execute=True):
            return alerts_evaluate()

    return run


def open_subjects(rule):
    return sorted(
        Alert.objects.filter(rule=rule, resolved_at__isnull=True).values_list("subject", flat=True)
    )


def assert_incident(rule, subject, evaluate, mailoutbox, make_real, make_gone):
    """The shared script: nothing, then a breach (one mail), the same breach again (no new
    mail), then resolved; then a new breach is a new incident with its own mail."""
    first = evaluate()
    assert (rule, subject) not in first["opened"]
    make_real()
    opened = evaluate()
    assert (rule, subject) in opened["opened"]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ops@example.com"]
    assert f"{rule}: {subject}: " in mailoutbox[0].body
    again = evaluate()
    assert (rule, subject) not in again["opened"]
    assert len(mailoutbox) == 1  # not again while it lasts
    alert = Alert.objects.get(rule=rule, subject=subject, resolved_at__isnull=True)
    assert alert.last_seen > alert.first_seen
    make_gone()
    gone = evaluate()
    assert (rule, subject) in gone["resolved"]
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert alert.resolved_at >= alert.last_seen
    assert subject not in open_subjects(rule)
    assert len(mailoutbox) == 1
    return alert


pytestmark = pytest.mark.django_db


def test_sequence_near_overflow(rules, evaluate, mailoutbox, scratch):
    rules(SEQUENCE_CRITICAL=0.9)
    conn, schema = scratch
    conn.execute(f"CREATE SEQUENCE {schema}.s MAXVALUE 100")
    conn.execute(f"SELECT setval('{schema}.s', 50)")
    assert_incident(
        "sequence_overflow", f"{schema}.s", evaluate, mailoutbox,
        make_real=lambda: conn.execute(f"SELECT setval('{schema}.s', 95)"),
        # (not ALTER SEQUENCE: the test's transaction has read the sequence and holds a lock)
        make_gone=lambda: conn.execute(f"SELECT setval('{schema}.s', 10)"),
    )  # fmt: skip
    conn.execute(f"SELECT setval('{schema}.s', 99)")  # a new incident: mailed again
    assert ("sequence_overflow", f"{schema}.s") in evaluate()["opened"]
    assert len(mailoutbox) == 2
    assert Alert.objects.filter(rule="sequence_overflow", subject=f"{schema}.s").count() == 2


def test_partition_runway(rules, evaluate, mailoutbox, scratch):
    """A table partitioned by time whose last partition ends within the threshold: inserts
    past it will fail. Another month attached resolves it."""
    rules(PARTITION_RUNWAY_DAYS_CRITICAL=14)
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.t (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
    conn.execute(f"CREATE TABLE {schema}.t_old PARTITION OF {schema}.t FOR VALUES FROM "
                 "(MINVALUE) TO (now() + interval '30 days')")  # fmt: skip

    def make_real():
        conn.execute(f"DROP TABLE {schema}.t_old")
        conn.execute(f"CREATE TABLE {schema}.t_now PARTITION OF {schema}.t FOR VALUES FROM "
                     "(MINVALUE) TO (now() + interval '3 days')")  # fmt: skip

    def make_gone():
        conn.execute(f"CREATE TABLE {schema}.t_next PARTITION OF {schema}.t FOR VALUES FROM "
                     "(now() + interval '3 days') TO (now() + interval '40 days')")  # fmt: skip

    alert = assert_incident(
        "partition_runway", f"{schema}.t", evaluate, mailoutbox,
        make_real=make_real, make_gone=make_gone,
    )  # fmt: skip
    assert 2.9 < alert.value < 3.1  # now() of the two transactions differ by milliseconds
    assert "later rows cannot be inserted" in alert.message
    # Unbounded tables (a DEFAULT or a MAXVALUE partition) never breach: nothing is refused.
    conn.execute(f"CREATE TABLE {schema}.u (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute(f"CREATE TABLE {schema}.u_all PARTITION OF {schema}.u DEFAULT")
    conn.execute(f"CREATE TABLE {schema}.v (at date NOT NULL) PARTITION BY RANGE (at)")
    conn.execute(f"CREATE TABLE {schema}.v_all PARTITION OF {schema}.v FOR VALUES FROM "
                 "(MINVALUE) TO (MAXVALUE)")  # fmt: skip
    assert evaluate()["opened"] == []
    assert open_subjects("partition_runway") == []


def test_the_audit_tables_partitions_are_made_ahead_far_enough(rules, evaluate):
    """Migrated as shipped, every event table has its months made ahead: no alert."""
    from audit.partitions import event_tables
    from dbhealth import stats

    with connection.cursor() as cursor:
        runway = stats.space.partition_runway(cursor)
    audit = [t for t in runway if t["relation"].startswith("audit_")]
    assert sorted(t["relation"] for t in audit) == sorted(event_tables())
    assert min(t["days_left"] for t in audit) > 31  # the current month and the next, at least
    rules(PARTITION_RUNWAY_DAYS_CRITICAL=14)
    assert [o for o in evaluate()["opened"] if o[0] == "partition_runway"] == []


def test_invalid_index(rules, evaluate, mailoutbox, scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.t (v int)")
    conn.execute(f"INSERT INTO {schema}.t VALUES (1), (1)")

    def make_real():
        with pytest.raises(psycopg.errors.UniqueViolation):  # leaves the index INVALID
            conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY t_v ON {schema}.t (v)")

    assert_incident(
        "invalid_index", f"{schema}.t_v", evaluate, mailoutbox,
        make_real=make_real, make_gone=lambda: conn.execute(f"DROP INDEX {schema}.t_v"),
    )  # fmt: skip


def test_idle_in_transaction(rules, evaluate, mailoutbox, connect):
    rules(IDLE_IN_TRANSACTION_SEC=0.0)
    conn = connect(autocommit=False)
    pid = conn.info.backend_pid
    try:
        assert_incident(
            "idle_in_transaction", f"pid {pid}", evaluate, mailoutbox,
            make_real=lambda: conn.execute("SELECT 1"),  # opens a transaction, then idles
            make_gone=conn.rollback,
        )  # fmt: skip
    finally:
        conn.close()


def test_long_running_statement(rules, evaluate, mailoutbox, connect):
    rules(LONG_RUNNING_SEC=0.2)
    conn = connect()
    pid = conn.info.backend_pid
    sleeper = threading.Thread(
        target=lambda: pytest.raises(
            psycopg.errors.QueryCanceled, conn.execute, "SELECT pg_sleep(60)"
        )  # fmt: skip
    )

    def running_long():
        """the sleeper has run for 0.2 s"""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # not this transaction's copy
            cursor.execute(
                "SELECT clock_timestamp() - query_start >= interval '0.2 s' FROM pg_stat_activity"
                " WHERE pid = %s AND state = 'active'",
                [pid],
            )
            found = cursor.fetchone()
            return found and found[0]

    def make_real():
        sleeper.start()
        wait_until(running_long, timeout=10)

    def make_gone():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_cancel_backend(%s)", [pid])
        sleeper.join(timeout=10)
        wait_until(lambda: not running_long(), timeout=10)

    try:
        assert_incident("long_running", f"pid {pid}", evaluate, mailoutbox,
                        make_real=make_real, make_gone=make_gone)  # fmt: skip
    finally:
        conn.close()


def test_connections_near_max(rules, evaluate, mailoutbox, connect):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        in_use, usable = cursor.fetchone()
    rules(CONNECTIONS_CRITICAL=(in_use + 2) / usable)  # two more connections reach it
    extra = []
    assert_incident(
        "connections", "server", evaluate, mailoutbox,
        make_real=lambda: extra.extend([connect(), connect()]),
        make_gone=lambda: [c.close() for c in extra],
    )  # fmt: skip


def test_inactive_replication_slot(rules, evaluate, mailoutbox, connect):
    rules(INACTIVE_SLOT_CRITICAL_BYTES=0)
    slot = f"dbhealth_{uuid.uuid4().hex[:12]}"
    conn = connect()
    try:
        assert_incident(
            "replication_lag",
            f"slot {slot}",
            evaluate,
            mailoutbox,
            # immediately_reserve: the slot holds WAL from now on, with no one reading it
            make_real=lambda: conn.execute(
                "SELECT pg_create_physical_replication_slot(%s, true)", [slot]
            ),
            make_gone=lambda: conn.execute("SELECT pg_drop_replication_slot(%s)", [slot]),
        )
    finally:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s",
            [slot],
        )
        conn.close()


@pytest.mark.django_db(transaction=True)  # age() is fixed within one transaction
def test_wraparound_age(rules, evaluate, mailoutbox, connect):
    # The age grows by one with every transaction id consumed: consume five.
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT age(datfrozenxid) FROM pg_database WHERE datname = %s", [name])
        (age,) = cursor.fetchone()
    rules(XID_AGE_CRITICAL=age + 3)
    conn = connect()

    def make_real():
        for _ in range(5):
            conn.execute("SELECT pg_current_xact_id()")  # one new transaction id each

    try:
        # No freeze here (it would vacuum the whole test database): the incident ends when
        # the threshold is raised above the age, as it would after VACUUM FREEZE.
        assert_incident(
            "wraparound", name, evaluate, mailoutbox,
            make_real=make_real, make_gone=lambda: rules(XID_AGE_CRITICAL=age + 10**6),
        )  # fmt: skip
    finally:
        conn.close()


def test_cache_hit_ratio(rules, evaluate, mailoutbox):
    # Reads from disk cannot be forced here (the table would have to leave shared buffers and
    # the OS cache): the threshold is put above the real ratio instead.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(heap_blks_hit)::float8 / NULLIF(sum(heap_blks_hit + heap_blks_read), 0)"
            " FROM pg_statio_user_tables"
        )
        (ratio,) = cursor.fetchone()
    assert_incident(
        "cache_hit_ratio", "tables", evaluate, mailoutbox,
        make_real=lambda: rules(CACHE_HIT_RATIO_CRITICAL=min(ratio + 0.5, 1.5)),
        make_gone=lambda: rules(CACHE_HIT_RATIO_CRITICAL=0.0),
    )  # fmt: skip


def test_slow_query_regression(rules, evaluate, mailoutbox, connect):
    rules(REGRESSION_MIN_CALLS=10, REGRESSION_MIN_MS=5.0, REGRESSION_FACTOR=3.0)
    conn = connect()
    conn.execute("SELECT pg_stat_statements_reset()")

    def calls(seconds):
        for _ in range(10):
            conn.execute("SELECT pg_sleep(%s::float8) AS dbhealth_regression_probe", [seconds])

    snapshot_take()
    calls(0.0)
    snapshot_take()  # the baseline: ten calls of ~0 ms
    [queryid] = {
        q.queryid for q in QuerySample.objects.filter(calls_delta=10) if q.exec_time_delta < 50
    } & set(_probe_ids())

    def make_real():
        calls(0.01)  # ten calls of 10 ms: far above 3 x the baseline
        snapshot_take()

    def make_gone():
        calls(0.0)
        calls(0.0)
        snapshot_take()  # back to ~0 ms since the previous snapshot

    try:
        assert_incident(
            "slow_query_regression", str(queryid), evaluate, mailoutbox,
            make_real=make_real, make_gone=make_gone,
        )  # fmt: skip
    finally:
        conn.close()


def _probe_ids():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT queryid FROM pg_stat_statements WHERE query LIKE %s",
            ["%dbhealth_regression_probe%"],
        )
        return [r[0] for r in cursor.fetchall()]


def test_every_rule_is_tested():
    tested = {
        "sequence_overflow", "invalid_index", "idle_in_transaction", "long_running",
        "connections", "replication_lag", "wraparound", "cache_hit_ratio",
        "slow_query_regression", "partition_runway",
    }  # fmt: skip
    assert set(RULES) == tested


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_open_one_alert_and_send_one_mail(
    settings, dbhealth_settings, mailoutbox, connect
):
    """A holds its evaluation's transaction open; B evaluates meanwhile and must wait on A's
    row in the partial unique index, then finds the incident open: one row, one mail."""
    settings.ADMINS = ADMINS
    dbhealth_settings(**{**QUIET, "SEQUENCE_CRITICAL": 0.9})
    schema = f"dbhealth_race_{uuid.uuid4().hex[:8]}"
    admin = connect()
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.execute(f"CREATE SEQUENCE {schema}.s MAXVALUE 100")
    admin.execute(f"SELECT setval('{schema}.s', 95)")
    a_evaluated = threading.Event()
    results, pids = {}, {}

    def evaluator_a():
        try:
            with transaction.atomic():
                results["a"] = alerts_evaluate()
                a_evaluated.set()
                wait_until(b_waits_for_a, timeout=10)  # B is now blocked behind this row
        finally:
            connection.close()

    def evaluator_b():
        try:
            a_evaluated.wait(10)
            connection.ensure_connection()
            pids["b"] = connection.connection.info.backend_pid
            results["b"] = alerts_evaluate()
        finally:
            connection.close()

    def b_waits_for_a():
        """B waits for a lock on dbhealth_alert"""
        if "b" not in pids:
            return False
        row = admin.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pids["b"]]
        ).fetchone()
        return row and row[0] == "Lock"

    threads = [threading.Thread(target=evaluator_a), threading.Thread(target=evaluator_b)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        subject = f"{schema}.s"
        assert ("sequence_overflow", subject) in results["a"]["opened"]
        assert ("sequence_overflow", subject) not in results["b"]["opened"]
        assert Alert.objects.filter(rule="sequence_overflow", subject=subject).count() == 1
        assert len(mailoutbox) == 1
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
