"""Formatting for the dashboard: percentages, durations, sizes, counts, and the charts."""

from django import template

from dbhealth import charts

register = template.Library()


@register.filter
def percent(ratio, digits=1):
    """0.9876 -> "98.8%"; None -> "–" (nothing measured yet)."""
    if ratio is None:
        return "–"
    return f"{float(ratio) * 100:.{int(digits)}f}%"


@register.filter
def seconds(value):
    """A duration in seconds, in the largest unit that keeps it readable."""
    if value is None:
        return "–"
    value = float(value)
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} days"


@register.filter
def ms(value):
    if value is None:
        return "–"
    value = float(value)
    return f"{value:,.2f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


@register.filter
def size(value):
    """Bytes in kB/MB/GB (powers of 1024, as pg_size_pretty and the charts): 8192 -> "8.0 kB"."""
    return charts.format_value(value, charts.BYTES)


@register.filter
def count(value):
    return "–" if value is None else f"{int(value):,}"


@register.filter
def interval(value):
    """A timedelta as days, hours and minutes."""
    if value is None:
        return "–"
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (f"{days} d " if days else "") + f"{hours} h {minutes} min"


@register.inclusion_tag("dbhealth/status.html")
def status(value):
    labels = {"ok": "OK", "warning": "Warning", "critical": "Critical"}
    return {"status": value, "label": labels.get(value, value)}


@register.inclusion_tag("dbhealth/chart.html")
def chart(series, id, title="", small=False):
    """One time series as an SVG chart (dbhealth/charts.py); small: two or three to a row."""
    size = {"width": 300, "height": 170} if small else {"width": 800, "height": 240}
    return {"c": charts.chart(series, **size), "id": id, "title": title, "small": small}
