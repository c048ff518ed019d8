"""The dashboard's charts (dbhealth/charts.py): units, y ranges and ticks, the time axis of one
snapshot and of a day, gaps, margins that fit their labels; the overview's series from the
snapshots' counters, and the pages that draw them, with their exact query counts."""

import datetime as dt

import pytest
from django.db import connection

from dbhealth import charts
from dbhealth.charts import BYTES, COUNT, MS, PER_SECOND, RATIO, chart, format_value, y_axis
from dbhealth.models import IndexSample, Snapshot, TableSample
from dbhealth.snapshots import server_series, snapshot_take
from dbhealth.templatetags.dbhealth import size
from tests.dbhealth.conftest import preloaded

AT = dt.datetime(2026, 12, 8, 1, 15, tzinfo=dt.UTC)  # TIME_ZONE is UTC
KIB, MIB, GIB = 1024, 1024**2, 1024**3


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0, BYTES, "0 bytes"),
        (1023, BYTES, "1,023 bytes"),
        (1536, BYTES, "1.5 kB"),
        (int(15.1 * MIB), BYTES, "15.1 MB"),
        (int(1.5 * GIB), BYTES, "1.5 GB"),
        (3 * 1024**4, BYTES, "3.0 TB"),
        (0.98851, RATIO, "98.85%"),
        (1.0, RATIO, "100.00%"),
        (46.7, PER_SECOND, "46.7/s"),
        (490.6, PER_SECOND, "491/s"),
        (12.345, MS, "12.35 ms"),
        (1500, MS, "1.50 s"),
        (1209000, COUNT, "1,209,000"),
        (None, BYTES, "–"),
    ],
)
def test_values_are_shown_in_their_unit(value, unit, shown):
    assert format_value(value, unit) == shown


def test_the_pages_show_sizes_as_the_charts_do():
    assert [size(v) for v in (None, 0, 8192, 15 * MIB, int(2.5 * GIB))] == [
        "–", "0 bytes", "8.0 kB", "15.0 MB", "2.5 GB"
    ]  # fmt: skip


# ----------------------------------------------------------------------------- y axis


@pytest.mark.parametrize(
    ("values", "unit", "labels"),
    [
        # Sizes in the largest unit their top reaches, from 0
        ([0, 1.5 * GIB], BYTES, ["0.0 GB", "0.5 GB", "1.0 GB", "1.5 GB"]),
        ([900 * MIB], BYTES, ["0 MB", "500 MB", "1,000 MB"]),
        ([12345], BYTES, ["0 kB", "5 kB", "10 kB", "15 kB"]),
        ([None, 300], BYTES, ["0 bytes", "100 bytes", "200 bytes", "300 bytes"]),
        # Rates and counts from 0; counts never step by less than 1
        ([12.34, 3], PER_SECOND, ["0/s", "5/s", "10/s", "15/s"]),
        ([0.3], PER_SECOND, ["0.0/s", "0.1/s", "0.2/s", "0.3/s"]),
        ([7], COUNT, ["0", "2", "4", "6", "8"]),
        ([0, 0], COUNT, ["0", "1"]),
        ([1_500_000], COUNT, ["0", "500,000", "1,000,000", "1,500,000"]),
        ([40], MS, ["0 ms", "10 ms", "20 ms", "30 ms", "40 ms"]),
        # A ratio spans its own values within 0-100%, a flat one a band of 1 point below it
        ([0.992, 0.999], RATIO, ["99.2%", "99.4%", "99.6%", "99.8%", "100.0%"]),
        ([0.973, 0.9995], RATIO, ["97%", "98%", "99%", "100%"]),
        ([1.0, 1.0], RATIO, ["99.0%", "99.5%", "100.0%"]),
        ([0.0], RATIO, ["0.0%", "0.5%", "1.0%"]),
        ([0.2, 0.9], RATIO, ["20%", "40%", "60%", "80%", "100%"]),
    ],
)
def test_y_axis_ticks_are_round_in_the_values_unit(values, unit, labels):
    ticks, shown = y_axis(values, unit)

    assert shown == labels
    assert len(ticks) == len(labels)
    found = [v for v in values if v is not None]
    assert ticks[0] <= min(found)  # every value is on the chart
    assert max(found) <= ticks[-1]


def test_the_left_margin_fits_the_longest_y_label():
    data = {"x": [AT.timestamp()], "series": {"scans": [1_500_000]}, "unit": COUNT}

    drawn = chart(data, width=800, height=240)

    assert [t["label"] for t in drawn["y_ticks"]] == ["0", "500,000", "1,000,000", "1,500,000"]
    # "1,500,000" is 9 characters of 7.2 px, and 10 px between it and the plot
    assert drawn["plot"]["left"] == 9 * 7.2 + 10
    assert drawn["plot"]["y_label_x"] == 9 * 7.2 + 4  # right-aligned 6 px left of the plot
    assert charts.CHAR_WIDTH == 7.2


# ----------------------------------------------------------------------------- time axis


def test_one_snapshot_is_a_point_on_the_hour_around_it():
    data = {"x": [AT.timestamp()], "series": {"database": [int(15.1 * MIB)]}, "unit": BYTES}

    drawn = chart(data, width=800, height=240)

    # The axis spans 00:45-01:45 of that day, not years: ticks every 10 minutes
    assert [t["label"] for t in drawn["x_ticks"]] == [
        "00:50", "01:00", "01:10", "01:20", "01:30", "01:40"
    ]  # fmt: skip
    assert drawn["caption"] == "one snapshot, at 2026-12-08 01:15 UTC"
    [line] = drawn["lines"]
    middle = (drawn["plot"]["left"] + drawn["plot"]["right"]) / 2
    assert [(m["x"], m["title"]) for m in line["markers"]] == [
        (round(middle, 1), "database, 2026-12-08 01:15: 15.1 MB")
    ]
    assert line["path"] == f"M{round(middle, 1)} {line['markers'][0]['y']}"
    assert (line["latest"], line["spread"]) == ("15.1 MB", "")  # one value: no range to tell
    assert [t["label"] for t in drawn["y_ticks"]] == ["0 MB", "5 MB", "10 MB", "15 MB", "20 MB"]


def test_a_day_of_snapshots_has_dated_ticks_every_few_hours():
    start = AT - dt.timedelta(hours=24)
    xs = [(start + dt.timedelta(minutes=5 * i)).timestamp() for i in range(289)]
    data = {"x": xs, "series": {"transactions/s": [10.0] * 289}, "unit": PER_SECOND}

    drawn = chart(data, width=800, height=240)

    # Every 6 hours (every 3 would be 8 labels, more than the 7 an axis keeps), with the date
    assert [t["label"] for t in drawn["x_ticks"]] == [
        "Dec 07 06:00", "Dec 07 12:00", "Dec 07 18:00", "Dec 08 00:00"
    ]  # fmt: skip
    assert drawn["caption"] == "2026-12-07 01:15 – 2026-12-08 01:15 UTC"
    assert drawn["lines"][0]["markers"] == []  # 289 points: a line, no marker each
    assert drawn["plot"]["left"] <= drawn["x_ticks"][0]["x"]
    assert drawn["x_ticks"][-1]["x"] <= drawn["plot"]["right"]


def test_a_small_chart_of_an_hour_has_quarter_hour_ticks():
    xs = [(AT + dt.timedelta(minutes=5 * i)).timestamp() for i in range(13)]  # one hour
    data = {"x": xs, "series": {"connections": [3] * 13}, "unit": COUNT}

    drawn = chart(data, width=300, height=170)

    assert [t["label"] for t in drawn["x_ticks"]] == ["01:15", "01:30", "01:45", "02:00", "02:15"]
    assert [t["label"] for t in drawn["y_ticks"]] == ["0", "1", "2", "3"]
    assert drawn["caption"] == "2026-12-08 01:15 – 02:15 UTC"


def test_a_gap_breaks_the_line_and_a_lone_point_keeps_its_marker():
    xs = [(AT + dt.timedelta(minutes=5 * i)).timestamp() for i in range(100)]
    values = [1.0] * 50 + [None] + [2.0] + [None] + [1.0] * 47  # a reset, one point, a reset
    data = {"x": xs, "series": {"transactions/s": values}, "unit": PER_SECOND}

    drawn = chart(data, width=800, height=240)

    [line] = drawn["lines"]
    assert line["path"].count("M") == 3  # three runs: before, the lone point, after
    assert [m["title"] for m in line["markers"]] == ["transactions/s, 2026-12-08 05:30: 2.0/s"]
    assert (line["latest"], line["spread"]) == ("1.0/s", "min 1.0/s, max 2.0/s")


def test_a_pixel_column_keeps_its_lowest_and_highest_point():
    points = [(0.1, 5.0), (0.5, 1.0), (0.9, 9.0), (0.95, 4.0), (1.2, 3.0), (1.7, 3.0)]

    assert charts.thinned(points) == [(0.1, 5.0), (0.5, 1.0), (0.9, 9.0), (1.2, 3.0), (1.7, 3.0)]
    assert charts.thinned([(0.5, 1.0), (1.5, 2.0)]) == [(0.5, 1.0), (1.5, 2.0)]  # one a column
    assert charts.thinned([]) == []


def test_a_week_of_snapshots_is_thinned_to_the_pixels_and_keeps_its_spike():
    xs = [(AT + dt.timedelta(minutes=5 * i)).timestamp() for i in range(2016)]
    values = [100.0] * 2016
    values[1000] = 900.0  # one spike among a week of snapshots

    drawn = chart({"x": xs, "series": {"scans": values}, "unit": COUNT}, width=800, height=240)

    [line] = drawn["lines"]
    points = line["path"].split(" L")
    columns = drawn["plot"]["right"] - drawn["plot"]["left"]
    assert len(points) <= 2 * (int(columns) + 1) + 2  # at most two a pixel column, and the ends
    assert len(points) < 2016
    top, bottom = drawn["plot"]["top"], drawn["plot"]["bottom"]
    spike = round(bottom - 0.9 * (bottom - top), 1)  # 900 on an axis of 0-1,000
    assert line["path"].count(f" {spike}") == 1  # the spike is kept, once
    assert [t["label"] for t in drawn["y_ticks"]][-1] == "1,000"


def test_nothing_to_draw_says_why():
    assert chart({"x": [], "series": {}, "unit": BYTES}) == {
        "empty": "No snapshot in this range yet (the snapshot task runs every few minutes)."
    }
    assert chart({"x": [AT.timestamp()], "series": {"cache hits": [None]}, "unit": RATIO}) == {
        "empty": "Not measured yet: this figure is measured between two snapshots."
    }


# ----------------------------------------------------------------------------- from snapshots


def snapshot(at, **counters):
    s = Snapshot.objects.create(database_bytes=1000, **counters)
    Snapshot.objects.filter(pk=s.pk).update(captured_at=at)
    return s


@pytest.mark.django_db
def test_server_series_are_rates_between_snapshots_with_a_gap_at_a_reset(
    django_assert_num_queries,
):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    counters = [
        # transactions, connections, blocks hit, blocks read
        (1000, 5, 9000, 1000),
        (4000, 7, 18500, 1500),  # 300 s later: 3000 transactions, 9500 hits of 10000 reads
        (700, 6, 100, 0),  # a statistics reset: the counters went down
        (3700, 6, 100, 0),  # 3000 more in 600 s; no block read: no ratio
    ]
    offsets = [-1500, -1200, -900, -300]
    for (tx, conns, hit, read), offset in zip(counters, offsets, strict=True):
        snapshot(now + dt.timedelta(seconds=offset), transactions=tx, connections=conns,
                 blocks_hit=hit, blocks_read=read)  # fmt: skip
    snapshot(
        now - dt.timedelta(days=2), transactions=1, connections=1, blocks_hit=1, blocks_read=1
    )  # fmt: skip  (outside the 24 h)

    with django_assert_num_queries(1):
        series = server_series("24h")

    xs = [(now + dt.timedelta(seconds=o)).timestamp() for o in offsets]
    assert series["tps"] == {
        "x": xs, "series": {"transactions/s": [None, 10.0, None, 5.0]}, "unit": "per_second"
    }  # fmt: skip
    assert series["connections"] == {
        "x": xs, "series": {"client connections": [5, 7, 6, 6]}, "unit": "count"
    }  # fmt: skip
    assert series["cache"] == {
        "x": xs, "series": {"cache hits": [None, 0.95, None, None]}, "unit": "ratio"
    }  # fmt: skip
    assert set(series) == {"tps", "connections", "cache"}


@pytest.mark.django_db
def test_snapshots_taken_before_the_counters_existed_draw_nothing():
    now = dt.datetime.now(dt.UTC)
    snapshot(now - dt.timedelta(minutes=10))
    snapshot(now - dt.timedelta(minutes=5))

    series = server_series("24h")

    assert series["tps"]["series"] == {"transactions/s": [None, None]}
    assert series["connections"]["series"] == {"client connections": [None, None]}
    assert chart(series["tps"])["empty"].startswith("Not measured yet")


@pytest.mark.django_db
def test_a_snapshot_keeps_the_servers_counters():
    taken = snapshot_take()

    # The same transaction still reads the statistics snapshot_take() read (their snapshot is
    # kept until the transaction ends or clears it), so the figures compare exactly.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        (transactions,) = cursor.fetchone()
        cursor.execute(
            "SELECT sum(heap_blks_hit + coalesce(idx_blks_hit, 0)),"
            " sum(heap_blks_read + coalesce(idx_blks_read, 0)) FROM pg_statio_user_tables"
        )
        hit, read = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        (connections,) = cursor.fetchone()
    taken.refresh_from_db()
    assert (taken.transactions, taken.blocks_hit, taken.blocks_read, taken.connections) == (
        transactions,
        hit,
        read,
        connections,
    )
    assert taken.connections >= 1  # this test's own connection at least


# ----------------------------------------------------------------------------- pages


@pytest.mark.django_db
def test_the_overview_draws_its_three_charts_in_one_more_query(
    viewer_client, django_assert_num_queries
):
    now = dt.datetime.now(dt.UTC)
    snapshot(now - dt.timedelta(minutes=10), transactions=0, connections=4, blocks_hit=0,
             blocks_read=0)  # fmt: skip
    snapshot(now - dt.timedelta(minutes=5), transactions=3000, connections=8, blocks_hit=99,
             blocks_read=1)  # fmt: skip

    # The same count as without snapshots (tests/dbhealth/test_overview.py): one query reads
    # the snapshots of the three charts however many there are.
    with django_assert_num_queries(44 if preloaded() else 42):
        response = viewer_client.get("/admin/dbhealth/")

    page = response.content.decode()
    assert page.count("<svg viewBox=") == 3
    assert 'id="chart-tps"' in page
    assert 'id="chart-connections"' in page
    assert "transactions/s: <strong>10.0/s</strong> latest</li>" in page  # one rate: no spread
    assert "client connections: <strong>8</strong> latest, min 4, max 8</li>" in page
    assert "cache hits: <strong>99.00%</strong>" in page
    assert 'class="dbh-cards six"' in page


@pytest.mark.django_db
def test_space_draws_the_growth_of_its_largest_tables_and_indexes(
    viewer_client, django_assert_num_queries
):
    now = dt.datetime.now(dt.UTC)
    for minutes, grown in ((10, 0), (5, MIB)):
        s = snapshot(now - dt.timedelta(minutes=minutes))
        TableSample.objects.create(snapshot=s, table="public.big", total_bytes=GIB + grown,
                                   live_rows=1, dead_rows=0, seq_scan=0, idx_scan=0,
                                   seq_scan_delta=0, idx_scan_delta=0)  # fmt: skip
        IndexSample.objects.create(snapshot=s, index="public.big_pkey", table="public.big",
                                   bytes=200 * MIB + grown, idx_scan=0,
                                   idx_scan_delta=0)  # fmt: skip

    # The page's own (tests/dbhealth/test_access.py), then the snapshots and one per chart
    with django_assert_num_queries(4 + 6 + 3 + 3):
        response = viewer_client.get("/admin/dbhealth/space/")

    page = response.content.decode()
    growth = response.context["data"]["growth"]
    assert growth["tables"]["series"] == {"public.big": [GIB, GIB + MIB]}
    assert growth["indexes"]["series"] == {"public.big_pkey": [200 * MIB, 201 * MIB]}
    assert "public.big: <strong>1.0 GB</strong>" in page
    assert "public.big_pkey: <strong>201.0 MB</strong>" in page
    assert ">1.0 GB</text>" in page  # the y axis is in GB


@pytest.mark.django_db
def test_the_history_of_one_snapshot_spans_its_hour(viewer_client):
    taken = snapshot_take()

    page = viewer_client.get("/admin/dbhealth/history/").content.decode()

    at = taken.captured_at.astimezone(dt.UTC)
    assert page.count(f"one snapshot, at {at:%Y-%m-%d %H:%M} UTC") == 3
    years = {str(year) for year in range(at.year + 1, at.year + 4)}
    assert not any(f">{year}" in page for year in years)  # no axis running off into years


@pytest.mark.django_db
def test_the_explain_form_is_an_admin_form(viewer_client):
    page = viewer_client.get("/admin/dbhealth/explain/").content.decode()

    assert "admin/css/forms.css" in page
    assert '<fieldset class="module aligned">' in page
    assert 'class="vLargeTextField dbh-sql-input"' in page
    assert '<div class="flex-container checkbox-row">' in page
