"""The dashboard's charts, drawn on the server as SVG: values with their units, axis ranges
and ticks, and the geometry of each line. No SQL and no JavaScript: a chart is a function of
its series ({"x": [unix seconds], "series": {label: [value or None]}, "unit": ...}, built by
dbhealth/snapshots.py), so every label and every range is tested in Python with exact values.

The SVG scales with its container (viewBox, width 100%), its left margin is as wide as its
longest y label (labels are never clipped), and its colours are CSS variables that follow the
admin's light and dark themes (dashboard.css).
"""

from __future__ import annotations

import datetime as dt
import math

from django.utils import timezone

BYTES, COUNT, PER_SECOND, RATIO, MS = "bytes", "count", "per_second", "ratio", "ms"
BYTE_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")  # powers of 1024, as pg_size_pretty

CHAR_WIDTH = 7.2  # px of one character of the 12 px axis font (digits are ~0.6 em)
ONE_POINT_SPAN = 3600  # s: the time axis around a single snapshot (half an hour each side)
TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
              604800)  # fmt: skip
MAX_TIME_TICKS = 7  # more labels than this along one axis read as a ruler, not as times
MAX_MARKERS = 60  # more points than this: lines only (a marker each would hide the line)


# ----------------------------------------------------------------------------- values


def decimals(step: float) -> int:
    """Digits after the point that tell ticks `step` apart (steps are 1, 2 or 5 times a power
    of ten): 0.05 -> 2, 5 -> 0."""
    return max(0, -math.floor(math.log10(step) + 1e-9))


def byte_scale(value: float) -> int:
    """The power of 1024 to show `value` bytes in: 1536 -> 1 (kB)."""
    value = abs(value)
    power = 0
    while value >= 1024 and power < len(BYTE_UNITS) - 1:
        value /= 1024
        power += 1
    return power


def format_value(value, unit: str) -> str:
    """One measured value, for a legend or a marker's title: 1536 bytes -> "1.5 kB"."""
    if value is None:
        return "–"
    if unit == BYTES:
        power = byte_scale(value)
        if power == 0:
            return f"{int(value):,} bytes"
        return f"{value / 1024**power:,.1f} {BYTE_UNITS[power]}"
    if unit == RATIO:
        return f"{value * 100:.2f}%"
    if unit == PER_SECOND:
        return f"{value:,.1f}/s" if value < 100 else f"{value:,.0f}/s"
    if unit == MS:
        return f"{value:,.2f} ms" if value < 1000 else f"{value / 1000:,.2f} s"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


# ----------------------------------------------------------------------------- y axis


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 times a power of ten at or above `raw`: 0.37 -> 0.5, 1200 -> 2000."""
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power  # pragma: no cover (the loop always returns)


def nice_ticks(low: float, high: float, target: int = 4, least: float = 0) -> list[float]:
    """Evenly spaced round ticks covering [low, high] in about `target` intervals, at least
    `least` apart (1 for counts: no tick at half a call)."""
    if high <= low:
        high = low + 1
    step = max(nice_step((high - low) / target), least)
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    digits = decimals(step) + 2
    return [round(first + i * step, digits) for i in range(round((last - first) / step) + 1)]


def y_axis(values: list, unit: str) -> tuple[list[float], list[str]]:
    """The ticks (in the values' own unit) and their labels.

    Sizes, counts, rates and durations start at 0; a ratio spans its values (a cache hit
    between 99.2% and 99.9% is drawn from 99.2% to 100%, not flattened at the top), within
    0-100%.
    """
    found = [v for v in values if v is not None]
    low, high = (min(found), max(found)) if found else (0, 0)
    if unit == RATIO:
        if high - low < 0.001:  # one level: a band of 1 point below it (above it at 0%)
            low, high = (high - 0.01, high) if high >= 0.01 else (0, 0.01)
        ticks = [t for t in nice_ticks(low, high) if -1e-9 <= t <= 1 + 1e-9]
        step = ticks[1] - ticks[0]
        digits = max(0, decimals(step * 100))
        return ticks, [f"{t * 100:.{digits}f}%" for t in ticks]
    low = min(0, low)
    if high <= low:
        high = low + 1
    if unit == BYTES:
        power = byte_scale(high)
        scale = 1024**power
        ticks = nice_ticks(low / scale, high / scale)
        digits = decimals(ticks[1] - ticks[0])
        return [t * scale for t in ticks], [f"{t:,.{digits}f} {BYTE_UNITS[power]}" for t in ticks]
    ticks = nice_ticks(low, high, least=1 if unit == COUNT else 0)
    digits = decimals(ticks[1] - ticks[0])
    suffix = {PER_SECOND: "/s", MS: " ms"}.get(unit, "")
    return ticks, [f"{t:,.{digits}f}{suffix}" for t in ticks]


# ----------------------------------------------------------------------------- time axis


def time_domain(xs: list[float]) -> tuple[float, float]:
    """The span the time axis shows: the snapshots' own, or an hour around a single one."""
    first, last = min(xs), max(xs)
    if last - first < 60:
        middle = (first + last) / 2
        return middle - ONE_POINT_SPAN / 2, middle + ONE_POINT_SPAN / 2
    return first, last


def time_label(at: dt.datetime, step: int, one_day: bool) -> str:
    if step >= 86400:
        return at.strftime("%b %d")
    return at.strftime("%H:%M") if one_day else at.strftime("%b %d %H:%M")


def time_ticks(start: float, end: float, width: float) -> list[tuple[float, str]]:
    """Ticks at round local times (every 5 min, 1 h, 1 day ...) whose labels fit in `width`."""
    local = [timezone.localtime(dt.datetime.fromtimestamp(t, dt.UTC)) for t in (start, end)]
    one_day = local[0].date() == local[1].date()
    offset = local[0].utcoffset().total_seconds()
    for step in TIME_STEPS:
        if (end - start) / step > MAX_TIME_TICKS + 1 and step != TIME_STEPS[-1]:
            continue  # more than MAX_TIME_TICKS ticks whatever their labels: not worth making
        first = math.ceil((start + offset) / step) * step - offset
        ticks = []
        t = first
        while t <= end + 1e-6:
            at = timezone.localtime(dt.datetime.fromtimestamp(t, dt.UTC))
            ticks.append((t, time_label(at, step, one_day)))
            t += step
        longest = max((len(label) for _, label in ticks), default=0)
        fits = len(ticks) * (longest * CHAR_WIDTH + 16) <= width
        if (fits and len(ticks) <= MAX_TIME_TICKS) or step == TIME_STEPS[-1]:
            return ticks
    return []  # pragma: no cover (the last step always returns)


def span_caption(start: float, end: float) -> str:
    """ "2026-12-08 01:00 – 02:00 UTC": the dates the axis leaves out."""
    first, last = (timezone.localtime(dt.datetime.fromtimestamp(t, dt.UTC)) for t in (start, end))
    zone = first.tzname()
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M} – {last:%H:%M} {zone}"
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} {zone}"


def one_caption(at: float) -> str:
    moment = timezone.localtime(dt.datetime.fromtimestamp(at, dt.UTC))
    return f"one snapshot, at {moment:%Y-%m-%d %H:%M} {moment.tzname()}"


# ----------------------------------------------------------------------------- the picture


def thinned(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A run of (x, y) pixels with only the lowest and highest point of each whole-pixel
    column (and the run's ends): the same line on screen, spikes kept, a fraction of the
    points when snapshots are closer than a pixel (a week of them on a 700-pixel plot)."""
    columns: dict[int, list[int]] = {}
    for i, (x, _) in enumerate(points):
        columns.setdefault(math.floor(x), []).append(i)
    kept = {0, len(points) - 1} if points else set()
    for found in columns.values():
        low = min(found, key=lambda i: points[i][1])
        high = max(found, key=lambda i: points[i][1])
        kept.update((low, high))
    return [points[i] for i in sorted(kept)]


def chart(data: dict, *, width: int = 900, height: int = 240) -> dict:
    """Everything the SVG template draws, in viewBox pixels; {"empty": why} when there is no
    line to draw."""
    xs, unit = data["x"], data.get("unit", COUNT)
    series = data["series"]
    if not xs or not series:
        return {
            "empty": "No snapshot in this range yet (the snapshot task runs every few minutes)."
        }
    every = [v for values in series.values() for v in values]
    if all(v is None for v in every):
        return {"empty": "Not measured yet: this figure is measured between two snapshots."}
    ticks, labels = y_axis(every, unit)
    low, high = ticks[0], ticks[-1]
    start, end = time_domain(xs)
    left = max(len(label) for label in labels) * CHAR_WIDTH + 10
    right, top, bottom = 12, 10, 24
    x_ticks = time_ticks(start, end, width - left - right)
    # A time label is centred on its tick: the margins leave room for half of the outer ones.
    if x_ticks:
        left = max(left, len(x_ticks[0][1]) * CHAR_WIDTH / 2 + 2)
        right = max(right, len(x_ticks[-1][1]) * CHAR_WIDTH / 2 + 2)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(t: float) -> float:
        return round(left + (t - start) / (end - start) * plot_w, 1)

    def py(v: float) -> float:
        return round(top + plot_h - (v - low) / (high - low) * plot_h, 1)

    lines = []
    for index, (name, values) in enumerate(series.items()):
        runs, run, markers = [], [], []
        for i, (t, v) in enumerate(zip(xs, values, strict=True)):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((px(t), py(v)))
            alone = (i == 0 or values[i - 1] is None) and (
                i == len(values) - 1 or values[i + 1] is None
            )
            if alone or len(xs) <= MAX_MARKERS:
                at = timezone.localtime(dt.datetime.fromtimestamp(t, dt.UTC))
                markers.append(
                    {
                        "x": px(t),
                        "y": py(v),
                        "title": f"{name}, {at:%Y-%m-%d %H:%M}: {format_value(v, unit)}",
                    }
                )
        if run:
            runs.append(run)
        path = [
            f"{'L' if k else 'M'}{x} {y}" for each in runs for k, (x, y) in enumerate(thinned(each))
        ]
        latest = next((v for v in reversed(values) if v is not None), None)
        measured = [v for v in values if v is not None]
        spread = (
            f"min {format_value(min(measured), unit)}, max {format_value(max(measured), unit)}"
            if measured and min(measured) != max(measured)
            else ""
        )
        lines.append(
            {
                "name": name,
                "colour": index % 6,
                "path": " ".join(path),
                "markers": markers,
                "latest": format_value(latest, unit),
                "spread": spread,  # the range a line without markers does not tell
            }
        )
    return {
        "width": width,
        "height": height,
        "plot": {
            "left": round(left, 1),
            "right": round(width - right, 1),
            "top": top,
            "bottom": top + plot_h,
            "y_label_x": round(left - 6, 1),  # y labels end 6 px left of the plot
            "x_tick_end": top + plot_h + 4,
            "x_label_y": top + plot_h + 16,
        },
        "y_ticks": [{"y": py(t), "label": label} for t, label in zip(ticks, labels, strict=True)],
        "x_ticks": [{"x": px(t), "label": label} for t, label in x_ticks],
        "lines": lines,
        "caption": span_caption(start, end) if len(xs) > 1 else one_caption(xs[0]),
        "points": len(xs),
    }
