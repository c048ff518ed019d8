"""Statistics history: snapshots store counters and exact deltas, also across a full
pg_stat_statements_reset(), a reset of one statement, and a reset of a table's counters;
retention deletes old snapshots with their samples; the pages draw the charts."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from dbhealth.models import IndexSample, QuerySample, Snapshot, TableSample
from dbhealth.snapshots import snapshot_take, snapshots_prune
from tests.dbhealth.conftest import flush_statistics

pytestmark = pytest.mark.django_db


def sample(snapshot, queryid):
    return QuerySample.objects.filter(snapshot=snapshot, queryid=queryid).first()


def test_statement_deltas_are_exact_across_resets(connect):
    probe = f"probe_{uuid.uuid4().hex}"
    conn = connect()
    # Column aliases are not part of a query id: start afresh so the sample text is the probe's.
    conn.execute("SELECT pg_stat_statements_reset()")

    def run(times):
        for _ in range(times):
            conn.execute(f"SELECT 1 AS {probe}")

    def queryid():
        with connection.cursor() as cursor:
            cursor.execute("SELECT queryid FROM pg_stat_statements WHERE query LIKE %s",
                           [f"%{probe}%"])  # fmt: skip
            return cursor.fetchone()[0]

    first = snapshot_take()
    run(3)
    qid = queryid()
    second = snapshot_take()
    run(2)
    third = snapshot_take()
    conn.execute("SELECT pg_stat_statements_reset()")  # everything starts again from 0
    run(1)
    fourth = snapshot_take()
    run(2)
    fifth = snapshot_take()
    conn.execute("SELECT pg_stat_statements_reset(0, 0, %s)", [qid])  # this statement only
    run(1)
    sixth = snapshot_take()
    conn.close()

    assert sample(first, qid) is None
    rows = [sample(s, qid) for s in (second, third, fourth, fifth, sixth)]
    assert [(r.calls, r.calls_delta, r.rows, r.rows_delta) for r in rows] == [
        (3, 3, 3, 3),  # new since the previous snapshot: all of it
        (5, 2, 5, 2),
        (1, 1, 1, 1),  # after the reset: the counter itself
        (3, 2, 3, 2),
        (1, 1, 1, 1),  # its own counter went down: the counter itself
    ]
    assert rows[0].exec_time_delta == rows[0].total_exec_time
    assert rows[1].exec_time_delta == rows[1].total_exec_time - rows[0].total_exec_time
    assert rows[2].exec_time_delta == rows[2].total_exec_time
    assert rows[4].exec_time_delta == rows[4].total_exec_time
    assert [s.statements_reset for s in (first, second, third, fourth, fifth, sixth)] == [
        False, False, False, True, False, False,
    ]  # fmt: skip
    assert fourth.statements_reset_at > third.statements_reset_at
    assert sixth.statements_reset_at == fifth.statements_reset_at  # a one-statement reset


def test_table_and_index_deltas_are_exact_across_a_counter_reset(scratch):
    conn, schema = scratch
    conn.execute(f"CREATE TABLE {schema}.t (id int PRIMARY KEY)")
    conn.execute(f"INSERT INTO {schema}.t SELECT generate_series(1, 10)")
    conn.execute("SET enable_seqscan = off")  # the lookups below use the primary key

    def scans(seq, idx):
        for _ in range(seq):
            conn.execute(f"SELECT count(*) FROM {schema}.t /* seq */").fetchone()
        for _ in range(idx):
            conn.execute(f"SELECT id FROM {schema}.t WHERE id = 3").fetchone()
        flush_statistics(conn)

    def of(snapshot):
        t = TableSample.objects.get(snapshot=snapshot, table=f"{schema}.t")
        i = IndexSample.objects.get(snapshot=snapshot, index=f"{schema}.t_pkey")
        return (t.seq_scan_delta, t.idx_scan_delta, i.idx_scan, i.idx_scan_delta)

    conn.execute("SET enable_seqscan = on")
    scans(0, 0)
    first = snapshot_take()
    conn.execute("SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off")
    scans(4, 0)
    conn.execute("SET enable_seqscan = off; SET enable_indexscan = on")
    scans(0, 3)
    second = snapshot_take()
    conn.execute("SELECT pg_stat_reset_single_table_counters(%s::regclass)", [f"{schema}.t"])
    conn.execute("SELECT pg_stat_reset_single_table_counters(%s::regclass)",
                 [f"{schema}.t_pkey"])  # fmt: skip
    scans(0, 2)
    third = snapshot_take()

    base = of(first)
    assert of(second) == (4, 3, base[2] + 3, 3)
    assert of(third) == (0, 2, 2, 2)  # the counters went down: the counters themselves


def test_retention_deletes_old_snapshots_with_their_samples(dbhealth_settings):
    dbhealth_settings(HISTORY_RETENTION_DAYS=8)
    now = timezone.now()
    old = Snapshot.objects.create(captured_at=now - dt.timedelta(days=8, seconds=1),
                                  database_bytes=1)  # fmt: skip
    kept = Snapshot.objects.create(captured_at=now - dt.timedelta(days=7), database_bytes=1)
    for s in (old, kept):
        QuerySample.objects.create(snapshot=s, queryid=1, calls=1, total_exec_time=1, rows=1,
                                   shared_blks_hit=0, shared_blks_read=0, calls_delta=1,
                                   exec_time_delta=1, rows_delta=1)  # fmt: skip

    assert snapshots_prune(now=now) == 1
    assert list(Snapshot.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(QuerySample.objects.values_list("snapshot_id", flat=True)) == [kept.pk]


def test_the_history_page_and_the_statement_chart(viewer_client, connect):
    probe = f"probe_{uuid.uuid4().hex}"
    with connect() as conn:
        conn.execute("SELECT pg_stat_statements_reset()")  # the probe's text is the sample
        snapshot_take()
        conn.execute(f"SELECT 1 AS {probe}")
        snapshot_take()
    with connection.cursor() as cursor:
        cursor.execute("SELECT queryid FROM pg_stat_statements WHERE query LIKE %s",
                       [f"%{probe}%"])  # fmt: skip
        qid = cursor.fetchone()[0]

    page = viewer_client.get("/admin/dbhealth/history/", {"range": "7d"})
    detail = viewer_client.get(f"/admin/dbhealth/queries/{qid}/", {"range": "nonsense"})

    data = page.context["data"]
    assert (data["range"], data["snapshots"]) == ("7d", 2)
    assert data["charts"]["database_size"]["series"]["database"] == list(
        Snapshot.objects.order_by("captured_at", "pk").values_list("database_bytes", flat=True)
    )
    assert len(data["charts"]["table_size"]["series"]) == 5
    assert b'id="chart-table-size"' in page.content
    assert page.content.count(b"<svg viewBox=") == 3
    assert detail.context["range"] == "24h"
    assert detail.context["chart"]["calls"]["series"]["calls"] == [1]
