"""Order-creation throughput with audit history on vs off, measured side by side in one run.

    make bench-audit                       # or: ROUNDS=5 ORDERS=300 make bench-audit

An order is what the API will do (shop/services.py does not exist yet): in one transaction,
lock the order's 3 products (in pk order), insert the order and its 3 items, decrement each
product's stock with a conditional UPDATE. That is 1 + 3 + 3 = 7 row events when history is
on, each written by a trigger with the request's context (audit_context, as the middleware
does).

"Off" disables only the audit triggers (ALTER TABLE ... DISABLE TRIGGER on the pghistory
triggers, via pgtrigger.disable) and opens no context; the shop's own triggers stay on.
Rounds alternate on/off so drift (autovacuum, caches, a neighbour's load) hits both alike.
Runs in its own throwaway database (bench_audit), created, migrated and dropped here.
"""

import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ["DB_POOL"] = "false"  # one connection, reused: no pool between us and PostgreSQL
os.environ["DEBUG"] = "false"  # as in production: no per-query logging in Python
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import pgtrigger  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402

from audit.context import audit_context  # noqa: E402
from audit.models import EVENT_MODELS  # noqa: E402
from shop.factories import shipping_address_for  # noqa: E402
from shop.models import Category, Order, OrderItem, Product, User  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
ORDERS = int(os.environ.get("ORDERS", "300"))  # per round and mode
PRODUCTS = 50
LINES = 3

AUDIT_TRIGGERS = [
    f"{m.pgh_tracked_model._meta.label}:{name}"
    for m in EVENT_MODELS
    for name in ("audit_insert", "audit_update", "audit_delete")
]


def create_order(user: User, products: list[Product]) -> Order:
    with transaction.atomic():
        locked = list(
            Product.objects.select_for_update()
            .filter(pk__in=[p.pk for p in products])
            .order_by("pk")
        )
        order = Order.objects.create(
            user=user,
            shipping_address=shipping_address_for(user.username),
            total_amount=sum((p.price for p in locked), Decimal("0.00")),
        )
        OrderItem.objects.bulk_create(
            OrderItem(order=order, product=p, quantity=1, unit_price=p.price) for p in locked
        )
        for product in locked:
            updated = Product.objects.filter(pk=product.pk, stock_quantity__gte=1).update(
                stock_quantity=F("stock_quantity") - 1
            )
            assert updated == 1
        return order


def run(mode: str, user: User, products: list[Product], rng: random.Random) -> float:
    """Seconds to create ORDERS orders."""
    picks = [rng.sample(products, LINES) for _ in range(ORDERS)]
    started = time.perf_counter()
    for chosen in picks:
        if mode == "on":
            with audit_context(
                via="api",
                user=user.pk,
                method="POST",
                path="/api/orders/",
                request_id=str(uuid.uuid4()),
            ):
                create_order(user, chosen)
        else:
            create_order(user, chosen)
    return time.perf_counter() - started


def main() -> None:
    connection.settings_dict["TEST"]["NAME"] = "bench_audit"
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        category = Category.objects.create(name="Bench", slug="bench")
        products = [
            Product.objects.create(
                name=f"Product {n}",
                price=Decimal("9.99") + n,
                stock_quantity=10**9,
                category=category,
            )
            for n in range(PRODUCTS)
        ]
        user = User.objects.create_user("bench", "bench@example.com")
        drop = [name for name in os.environ.get("DROP_INDEXES", "").split(",") if name]
        if drop:  # experiments only: what one kind of event index costs (docs/audit.md)
            with connection.cursor() as cursor:
                for model in EVENT_MODELS:
                    short = model._meta.indexes[0].name.removesuffix("_obj_idx")
                    for kind in drop:
                        cursor.execute(f"DROP INDEX {short}_{kind}_idx")
            print(f"without the event tables' {', '.join(drop)} indexes")
        rng = random.Random(42)  # noqa: S311
        run("on", user, products, rng)  # warm-up: plans, caches, the first sequence values
        totals = {"on": 0.0, "off": 0.0}
        for _ in range(ROUNDS):
            seconds = {}
            for mode in ("on", "off"):
                if mode == "off":
                    pgtrigger.disable(*AUDIT_TRIGGERS)
                seconds[mode] = run(mode, user, products, rng)
                totals[mode] += seconds[mode]
                if mode == "off":
                    pgtrigger.enable(*AUDIT_TRIGGERS)
            # Per round, for bench/run.py's median and spread.
            print(f"round ratio on/off: {seconds['off'] / seconds['on']:.3f}")
        events = sum(m.objects.count() for m in EVENT_MODELS)
        orders = ROUNDS * ORDERS
        rate = {mode: orders / seconds for mode, seconds in totals.items()}
        print(f"PostgreSQL {connection.pg_version // 10000}, {ROUNDS} rounds x {ORDERS} orders")
        print(f"history off: {rate['off']:8.1f} orders/s")
        print(f"history on:  {rate['on']:8.1f} orders/s  ({events} events written)")
        print(f"ratio on/off: {rate['on'] / rate['off']:.2f}  (target >= 0.75)")
    finally:
        creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
