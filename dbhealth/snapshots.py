"""Statistics history without resetting pg_stat_statements: snapshots, deltas, retention, and
the series the charts draw.

snapshot_take() copies the cumulative counters of pg_stat_statements (per query id, all roles
added up), pg_stat_user_tables and pg_stat_user_indexes (read through dbhealth/stats/) into
this app's tables, each with its delta since the previous snapshot:

- the counter went up: the difference;
- the counter went down, or the row was not in the previous snapshot, or pg_stat_statements
  was reset in between (pg_stat_statements_info.stats_reset moved): the counter itself, since
  whatever it counts began after the previous snapshot (from 0).

An entry evicted (pg_stat_statements.max) and recreated between two snapshots that has already
grown past its old value cannot be told apart from one that kept growing; the snapshot records
pg_stat_statements_info.dealloc so that such a window is visible (Snapshot.statements_evicted).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from dbhealth import charts, stats
from dbhealth.conf import config
from dbhealth.models import IndexSample, QuerySample, Snapshot, TableSample
from dbhealth.stats.cursor import fresh_statistics


def delta(current, previous, *, restarted: bool = False):
    """Growth since the previous snapshot (see the module's docstring)."""
    if restarted or previous is None or current < previous:
        return current
    return current - previous


def snapshot_take() -> Snapshot:
    """Capture one snapshot, then delete those older than HISTORY_RETENTION_DAYS. Runs in one
    transaction: a snapshot is complete or absent."""
    with transaction.atomic(), connection.cursor() as cursor:
        # One snapshot at a time: the previous one must be committed before the next reads it.
        # (A lock on this app's own table, not a statistics read: the one statement here.)
        cursor.execute("LOCK TABLE dbhealth_snapshot IN SHARE ROW EXCLUSIVE MODE")
        fresh_statistics(cursor)
        previous = Snapshot.objects.order_by("-captured_at", "-pk").first()
        schema = stats.statements.readable_schema(stats.statements.extension(cursor))
        info = stats.statements.info(cursor, schema) if schema else {}
        restarted = bool(
            previous
            and info.get("stats_reset")
            and (
                previous.statements_reset_at is None
                or info["stats_reset"] > previous.statements_reset_at
            )
        )
        snapshot = Snapshot.objects.create(
            statements_reset_at=info.get("stats_reset"),
            statements_evicted=info.get("dealloc"),
            statements_reset=restarted,
            **stats.server.snapshot_counters(cursor),
        )
        before = {}
        if previous:
            before = {
                q.queryid: q
                for q in QuerySample.objects.filter(snapshot=previous).only(
                    "queryid", "calls", "total_exec_time", "rows"
                )
            }
        samples = []
        for s in stats.statements.totals(cursor, schema) if schema else []:
            old = before.get(s["queryid"])
            restart = restarted or old is None or s["calls"] < old.calls
            samples.append(
                QuerySample(
                    snapshot=snapshot,
                    **s,
                    calls_delta=delta(s["calls"], old and old.calls, restarted=restart),
                    exec_time_delta=delta(
                        s["total_exec_time"], old and old.total_exec_time, restarted=restart
                    ),
                    rows_delta=delta(s["rows"], old and old.rows, restarted=restart),
                )
            )
        QuerySample.objects.bulk_create(samples, batch_size=1000)
        old_tables = (
            {t.table: t for t in TableSample.objects.filter(snapshot=previous)} if previous else {}
        )
        TableSample.objects.bulk_create(
            [
                TableSample(
                    snapshot=snapshot,
                    **t,
                    seq_scan_delta=delta(
                        t["seq_scan"], getattr(old_tables.get(t["table"]), "seq_scan", None)
                    ),
                    idx_scan_delta=delta(
                        t["idx_scan"], getattr(old_tables.get(t["table"]), "idx_scan", None)
                    ),
                )
                for t in stats.space.table_counters(cursor)
            ],
            batch_size=1000,
        )
        old_indexes = (
            {i.index: i for i in IndexSample.objects.filter(snapshot=previous)} if previous else {}
        )
        IndexSample.objects.bulk_create(
            [
                IndexSample(
                    snapshot=snapshot,
                    **i,
                    idx_scan_delta=delta(
                        i["idx_scan"], getattr(old_indexes.get(i["index"]), "idx_scan", None)
                    ),
                )
                for i in stats.space.index_counters(cursor)
            ],
            batch_size=1000,
        )
        snapshots_prune()
    return snapshot


def snapshots_prune(*, now: dt.datetime | None = None) -> int:
    """Delete the snapshots (and their samples) older than HISTORY_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=config()["HISTORY_RETENTION_DAYS"])
    old = Snapshot.objects.filter(captured_at__lt=cutoff)
    for model in (QuerySample, TableSample, IndexSample):
        model.objects.filter(snapshot__in=old).delete()
    deleted, _ = old.delete()
    return deleted


def latest_capture() -> dt.datetime | None:
    """When the newest snapshot was taken: the last run of the beat-scheduled snapshot task."""
    return Snapshot.objects.order_by("-captured_at").values_list("captured_at", flat=True).first()


# ----------------------------------------------------------------------------- chart series

RANGES = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}


def since(range_name: str) -> dt.datetime:
    return timezone.now() - RANGES.get(range_name, RANGES["24h"])


def query_series(queryid: int, range_name: str) -> dict:
    """Per snapshot: calls and execution time since the previous one, as two charts."""
    found = (
        QuerySample.objects.filter(queryid=queryid, snapshot__captured_at__gte=since(range_name))
        .order_by("snapshot__captured_at")
        .values_list("snapshot__captured_at", "calls_delta", "exec_time_delta")
    )
    x = [at.timestamp() for at, _, _ in found]
    return {
        "calls": {"x": x, "series": {"calls": [c for _, c, _ in found]}, "unit": charts.COUNT},
        "time": {
            "x": x,
            "series": {"execution time": [round(t, 3) for _, _, t in found]},
            "unit": charts.MS,
        },
    }


def snapshot_times(range_name: str) -> list[tuple[int, dt.datetime]]:
    """(pk, captured_at) of the snapshots in the range, oldest first."""
    return list(
        Snapshot.objects.filter(captured_at__gte=since(range_name))
        .order_by("captured_at", "pk")
        .values_list("pk", "captured_at")
    )


def top_series(
    model, label: str, value: str, unit: str, snapshots: list[tuple[int, dt.datetime]], top: int = 5
) -> dict:
    """The `top` largest subjects by their latest `value`, one line each, per snapshot, in one
    query (the subjects are chosen by a subquery on the latest snapshot)."""
    if not snapshots:
        return {"x": [], "series": {}, "unit": unit}
    latest = snapshots[-1][0]
    names = (
        model.objects.filter(snapshot_id=latest)
        .order_by(f"-{value}", label)
        .values_list(label, flat=True)[:top]
    )
    found = model.objects.filter(
        snapshot__captured_at__gte=snapshots[0][1], **{f"{label}__in": names}
    ).values_list("snapshot_id", label, value)
    by = {(pk, name): v for pk, name, v in found}
    order = sorted(
        {name for _, name in by}, key=lambda name: (-(by.get((latest, name)) or 0), name)
    )
    return {
        "x": [at.timestamp() for _, at in snapshots],
        "series": {name: [by.get((pk, name)) for pk, _ in snapshots] for name in order},
        "unit": unit,
    }


def database_series(range_name: str) -> dict:
    found = (
        Snapshot.objects.filter(captured_at__gte=since(range_name))
        .order_by("captured_at", "pk")
        .values_list("captured_at", "database_bytes")
    )
    return {
        "x": [at.timestamp() for at, _ in found],
        "series": {"database": [b for _, b in found]},
        "unit": charts.BYTES,
    }


def growth(current, previous):
    """A cumulative counter's growth between two snapshots; None when either lacks it or it
    went down (a statistics reset in between: the growth is unknown, the chart shows a gap)."""
    if current is None or previous is None or current < previous:
        return None
    return current - previous


def server_series(range_name: str) -> dict:
    """The overview's small charts, in one query: transactions per second and the cache hit
    ratio between consecutive snapshots (from the second one on), and the client connections
    at each."""
    found = list(
        Snapshot.objects.filter(captured_at__gte=since(range_name))
        .order_by("captured_at", "pk")
        .values_list("captured_at", "transactions", "connections", "blocks_hit", "blocks_read")
    )
    x = [at.timestamp() for at, *_ in found]
    tps, hit = [None] * len(found), [None] * len(found)
    for i in range(1, len(found)):
        (before, tx0, _, hit0, read0), (after, tx1, _, hit1, read1) = found[i - 1], found[i]
        seconds = (after - before).total_seconds()
        done = growth(tx1, tx0)
        if done is not None and seconds > 0:
            tps[i] = round(done / seconds, 3)
        hits, reads = growth(hit1, hit0), growth(read1, read0)
        if hits is not None and reads is not None and hits + reads > 0:
            hit[i] = round(hits / (hits + reads), 6)
    return {
        "tps": {"x": x, "series": {"transactions/s": tps}, "unit": charts.PER_SECOND},
        "connections": {
            "x": x,
            "series": {"client connections": [c for _, _, c, _, _ in found]},
            "unit": charts.COUNT,
        },
        "cache": {"x": x, "series": {"cache hits": hit}, "unit": charts.RATIO},
    }
