"""The hot queries as Django emits them, and their EXPLAIN (ANALYZE, BUFFERS) plans.

    make query-plans                  # against bench_large (left by `make bench`)
    PLANS_DB=shop make query-plans    # or any other database of the stack

Each pattern runs its selector once (captured: the exact SQL sent, parameters bound by
psycopg), then EXPLAIN (ANALYZE, BUFFERS) of that SQL, after one warm-up run. Prints Markdown.
"""

import datetime as dt
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DB_POOL"] = "false"
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from shop import selectors  # noqa: E402
from shop.models import Order  # noqa: E402


def patterns() -> dict:
    latest = Order.objects.order_by("-pk").values_list("user_id", "created_at")[:1].get()
    today = latest[1].date()
    return {
        "product browse, newest first": lambda: selectors.product_list()[:20],
        "product browse, by price": lambda: selectors.product_list(ordering="price")[:20],
        "product search": lambda: selectors.product_list(q="walnut desk")[:20],
        "my orders": lambda: selectors.order_list_for_user(user_id=latest[0])[:20],
        "open orders for staff": lambda: selectors.orders_open()[:50],
        "top spenders, last 30 days, more than 5 orders": lambda: selectors.top_spenders(
            since=timezone.now() - dt.timedelta(days=30)
        ),
        "daily revenue, last 30 days": lambda: selectors.daily_revenue_rows(
            first=today - dt.timedelta(days=29), last=today
        ),
    }


def main() -> None:
    connection.settings_dict["NAME"] = os.environ.get("PLANS_DB", "bench_large")
    orders = Order.objects.count()
    print(f"<!-- {orders} orders; PostgreSQL {connection.pg_version} -->\n")
    for title, build in patterns().items():
        with CaptureQueriesContext(connection) as captured:
            list(build())
        sql = captured.captured_queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        print(f"### {title}\n\n```sql\n{sql};\n```\n\n```text plan\n{plan}\n```\n")


if __name__ == "__main__":
    main()
