"""growth: each admin changelist (each filter) and API list, latency at LARGE orders
against SMALL orders, in-process through Django's test client."""

import datetime
import statistics
import time

import django.utils.timezone
import psycopg
from django.db import connection
from django.test import Client

from bench.harness import (
    LARGE,
    LARGE_DB,
    REQUESTS,
    ROUNDS,
    SMALL,
    db_url,
    fresh_db,
    manage,
    record,
    seed,
    use_db,
)

# A page whose result grows with the data (a customer's orders, "today") measures the bigger
# result, not the bigger tables: the growth pages read the same rows from both databases.
SHOPPER = "bench-shopper"  # the customer searched for, and whose orders "my orders" lists
SHOPPER_ORDERS = 5


def growth_pages(db: str) -> dict[str, str]:
    """Every admin changelist unfiltered and with each filter, and the API's lists."""
    use_db(db)
    from shop.models import Category, User

    category = Category.objects.filter(parent__isnull=False).order_by("pk").first().pk
    # "Past 7 days", not "Today": just after midnight, today holds a handful of the small
    # database's orders (a 5-row page against a 100-row one); a week holds 700 and 70,000.
    week = (django.utils.timezone.now() - datetime.timedelta(days=7)).date()
    staff_user = User.objects.filter(is_superuser=True).values_list("pk", flat=True).first()
    connection.close()
    return {
        "admin orders": "/admin/shop/order/",
        "admin orders ?status=pending": "/admin/shop/order/?status__exact=pending",
        "admin orders ?status=cancelled": "/admin/shop/order/?status__exact=cancelled",
        "admin orders ?created_at=past 7 days": (
            f"/admin/shop/order/?created_at__gte={week}T00:00:00%2B00:00"
        ),
        "admin orders search customer": f"/admin/shop/order/?q={SHOPPER}",
        "admin order items": "/admin/shop/orderitem/",
        "admin order items ?order status=pending": (
            "/admin/shop/orderitem/?order__status__exact=pending"
        ),
        "admin products": "/admin/shop/product/",
        "admin products ?is_active=0": "/admin/shop/product/?is_active__exact=0",
        "admin products ?category": f"/admin/shop/product/?category__id__exact={category}",
        "admin products search": "/admin/shop/product/?q=walnut+desk",
        "admin users": "/admin/shop/user/",
        "admin users ?is_staff=1": "/admin/shop/user/?is_staff__exact=1",
        "admin users ?status=active": "/admin/shop/user/?status__exact=active",
        "admin users search": "/admin/shop/user/?q=user1%40example.com",
        "admin audit log": "/admin/audit/auditlog/",
        "admin audit log ?user": f"/admin/audit/auditlog/?user={staff_user}",
        "API products": "/api/v1/products/",
        "API products ?ordering=price": "/api/v1/products/?ordering=price",
        "API products search": "/api/v1/products/?q=walnut+desk",
        "API my orders": "/api/v1/orders/",
    }


def logged_in_client(db: str) -> tuple[Client, Client]:
    use_db(db)
    from rest_framework.authtoken.models import Token

    from shop.factories import OrderFactory
    from shop.models import Product, User

    admin, _ = User.objects.get_or_create(
        username="bench-admin",
        defaults={"email": "bench-admin@example.com", "is_staff": True, "is_superuser": True},
    )
    staff = Client()
    staff.force_login(admin)
    # The same customer with the same few orders in both databases: "my orders" and the
    # customer search list the same rows, only the tables around them differ in size.
    shopper, created = User.objects.get_or_create(
        username=SHOPPER, defaults={"email": f"{SHOPPER}@example.com"}
    )
    if created:
        products = list(Product.objects.order_by("pk")[:3])
        for _ in range(SHOPPER_ORDERS):
            OrderFactory(user=shopper, lines=[(product, 1) for product in products])
    api = Client(headers={"Authorization": f"Token {Token.objects.get_or_create(user=shopper)[0]}"})
    connection.close()
    return staff, api


def median_latency(client: Client, path: str) -> float:
    times = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    return statistics.median(times)


def run() -> None:
    # Growth is in orders: both databases have the users and products of the large
    # one, so only the orders (and their items) differ.
    users, products = max(10, LARGE // 10), max(30, LARGE // 20)
    fresh_db("bench_small")
    seed("bench_small", orders=SMALL, users=users, products=products)
    with psycopg.connect(db_url("postgres")) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [LARGE_DB]).fetchone()
    large_orders = -1
    if found:
        with psycopg.connect(db_url(LARGE_DB)) as conn:
            large_orders = conn.execute(
                "SELECT count(*) FROM shop_order WHERE user_id NOT IN "
                "(SELECT id FROM shop_user WHERE username = %s)",  # the seeded orders only
                [SHOPPER],
            ).fetchone()[0]
    if large_orders != LARGE:
        print(f"  loading {LARGE_DB}: {LARGE} orders")
        fresh_db(LARGE_DB)
        seconds = seed(LARGE_DB, orders=LARGE, users=users, products=products)
        print(f"  {LARGE_DB} loaded in {seconds:.1f} s")
    else:
        manage(LARGE_DB, "migrate", "--no-input", "-v", "0")  # indexes added since
        print(f"  {LARGE_DB}: {LARGE} orders, kept from an earlier run")
    clients = {db: logged_in_client(db) for db in ("bench_small", LARGE_DB)}
    pages = growth_pages(LARGE_DB)
    for name, path in pages.items():
        ratios = []
        for _ in range(ROUNDS):
            seconds = {}
            for db in ("bench_small", LARGE_DB):
                use_db(db)
                staff, api = clients[db]
                client = api if path.startswith("/api/") else staff
                median_latency(client, path)  # warm-up: this page's plans and cache pages
                seconds[db] = median_latency(client, path)
            ratios.append(seconds[LARGE_DB] / seconds["bench_small"])
        record("growth", f"{name} ({LARGE}/{SMALL})", ratios, "<= 1.5",
               f"({seconds[LARGE_DB] * 1000:.1f} ms at {LARGE})")  # fmt: skip
    connection.close()
