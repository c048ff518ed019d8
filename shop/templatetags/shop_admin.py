"""The admin home page's sales summary: the report selectors, shown to staff who may see
orders (the revenue, the open orders) and products (the low-stock list)."""

from datetime import UTC, datetime, timedelta

from django import template

from shop import selectors

register = template.Library()

SUMMARY_DAYS = 7  # the summary's revenue table: today and the six days before it (UTC)


@register.inclusion_tag("admin/shop/sales_summary.html", takes_context=True)
def sales_summary(context):
    """Three queries: the week's daily revenue, the open orders' count, the low-stock list."""
    user = context["request"].user
    summary = {"orders": None, "low_stock": None}
    if user.has_perm("shop.view_order"):
        today = datetime.now(UTC).date()
        days = selectors.daily_revenue(first=today - timedelta(days=SUMMARY_DAYS - 1), last=today)
        summary["orders"] = {
            "today": days[-1],
            "days": days[::-1],  # newest first, as the table reads
            "open": selectors.orders_open().count(),  # the partial index of open orders
        }
    if user.has_perm("shop.view_product"):
        summary["low_stock"] = list(selectors.products_low_stock())
        summary["low_stock_level"] = selectors.LOW_STOCK
    return summary
