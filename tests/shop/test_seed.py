"""manage.py seed: sizes by flag, deterministic by --seed, one-line errors for bad flags."""

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from pghistory.models import Context
from rest_framework.test import APIClient

from audit.models import EVENT_MODELS, ProductEvent
from shop.factories import OrderFactory, ProductFactory, UserFactory, shipping_address_for
from shop.models import Category, Order, OrderItem, Product, User, UserProfile
from shop.seeding import bulk, vocabulary
from shop.seeding.bulk import BulkSeeder, UnbalancedOrder
from tests.conftest import child_process_env
from tests.shop.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def statistics_of_empty_tables_afterwards(django_db_setup, django_db_blocker):
    """The fast path's ANALYZE and index builds write pg_class in place, so a test's rollback
    leaves its statistics behind, and only for the indexes that were not rebuilt. Analyse
    the empty tables once this module is done, so later tests' plans see consistent ones."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for model in (User, UserProfile, Category, Product, Order, OrderItem):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


SIZES = ["--users", "7", "--categories", "10", "--products", "15", "--orders", "30"]


def seed(*args: str) -> None:
    call_command("seed", *SIZES, *args, "--batch-size", "4", verbosity=0)


def fingerprint() -> dict:
    return {
        "users": list(User.objects.order_by("username").values_list("username", "email")),
        "profiles": list(
            UserProfile.objects.order_by("user__username").values_list(
                "first_name", "last_name", "phone"
            )
        ),
        "categories": list(
            Category.objects.order_by("slug").values_list("name", "slug", "parent__slug")
        ),
        "products": list(
            Product.objects.order_by("name", "price").values_list(
                "name", "price", "stock_quantity", "category__slug", "tags"
            )
        ),
        "orders": list(
            Order.objects.order_by("created_at").values_list(
                "user__username", "status", "total_amount"
            )
        ),
        "items": list(
            OrderItem.objects.order_by("order__created_at", "product__name").values_list(
                "product__name", "quantity", "unit_price"
            )
        ),
    }


def wipe_shop() -> None:
    for model in (OrderItem, Order, UserProfile, Product, User):
        model.objects.all().delete()
    Category.objects.exclude(parent=None).delete()  # children first: parent is PROTECT
    Category.objects.all().delete()
    # Run the deletes' deferred checks now: the fast path's ALTER TABLE refuses a table with
    # trigger events still pending (a real load starts in a transaction of its own).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_sizes_follow_the_flags_and_totals_balance(immediate_constraints):
    seed("--seed", "1")
    immediate_constraints()  # the deferred total checks pass

    assert (
        User.objects.count(),
        UserProfile.objects.count(),
        Category.objects.count(),
        Product.objects.count(),
        Order.objects.count(),
    ) == (7, 7, 10, 15, 30)
    assert Category.objects.filter(parent=None).count() == 8
    orders = Order.objects.annotate(items_total=Sum("items__subtotal"), lines=Count("items"))
    assert orders.exclude(total_amount=F("items_total")).count() == 0
    assert orders.filter(lines__gte=1, lines__lte=vocabulary.MAX_LINES).count() == 30
    assert OrderItem.objects.filter(quantity__lte=0).count() == 0


def test_same_seed_same_data():
    seed("--seed", "5")
    first = fingerprint()
    wipe_shop()

    seed("--seed", "5")

    assert fingerprint() == first
    assert first["orders"][0][2] > Decimal("0")


def test_different_seed_different_data():
    seed("--seed", "5")
    first = fingerprint()
    wipe_shop()

    seed("--seed", "6")

    assert fingerprint()["products"] != first["products"]


def test_if_empty_does_nothing_when_products_exist():
    seed()

    call_command("seed", "--if-empty", verbosity=0)

    assert Product.objects.count() == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "-1"], "argument --users: must be a whole number >= 0, got '-1'"),
        (["--orders", "many"], "argument --orders: must be a whole number >= 0, got 'many'"),
        (["--batch-size", "0"], "argument --batch-size: must be a whole number >= 1, got '0'"),
        (["--users", "0", "--orders", "5"], "--orders needs users: pass --users > 0"),
        (["--categories", "0", "--products", "5"], "--products needs categories"),
    ],
)
def test_bad_flags_get_one_line_and_write_nothing(args, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "seed", *args],
        capture_output=True,
        text=True,
        check=False,
        env=child_process_env(),  # the test database, not the dev one
    )

    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert User.objects.count() == 0


# --------------------------------------------------------------------------- the fast path

FAST = ["--users", "9", "--categories", "10", "--products", "20", "--orders", "40", "--fast"]


def fast_seed(*args: str) -> None:
    call_command("seed", *FAST, *args, "--batch-size", "7", verbosity=0)


def test_fast_path_writes_exact_counts_in_balance(immediate_constraints):
    fast_seed("--seed", "1")
    immediate_constraints()  # the real deferred total checks pass too

    assert (
        User.objects.count(),
        UserProfile.objects.count(),
        Category.objects.count(),
        Product.objects.count(),
        Order.objects.count(),
    ) == (9, 9, 10, 20, 40)
    orders = Order.objects.annotate(items_total=Sum("items__subtotal"), lines=Count("items"))
    assert orders.exclude(total_amount=F("items_total")).count() == 0
    assert orders.filter(lines__gte=1, lines__lte=vocabulary.MAX_LINES).count() == 40
    assert OrderItem.objects.filter(order__in=Order.objects.all()).count() == (
        OrderItem.objects.count()
    )
    # Ids follow time: the order with the higher id was placed later.
    created = list(Order.objects.order_by("pk").values_list("created_at", flat=True))
    assert created == sorted(created)


def test_fast_path_numbers_orders_and_items_densely_across_batches():
    # 40 orders in batches of 7: the second session draws each batch's items ahead of the
    # load, numbered from where the previous batch's lines ended.
    fast_seed("--seed", "7")

    orders = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    items = list(OrderItem.objects.order_by("pk").values_list("pk", "order_id"))
    assert orders == list(range(orders[0], orders[0] + 40))
    assert [pk for pk, _ in items] == list(range(items[0][0], items[0][0] + len(items)))
    assert [order for _, order in items] == sorted(order for _, order in items)
    with connection.cursor() as cursor:  # the ids reserved and not used went back
        cursor.execute("SELECT nextval(pg_get_serial_sequence('shop_orderitem', 'id'))")
        assert cursor.fetchone()[0] == items[-1][0] + 1


def test_fast_path_same_seed_same_data():
    fast_seed("--seed", "5")
    first = fingerprint()
    wipe_shop()

    fast_seed("--seed", "5")

    assert fingerprint() == first
    wipe_shop()
    fast_seed("--seed", "6")
    assert fingerprint()["products"] != first["products"]


def test_fast_path_records_no_history_but_one_marker():
    contexts = Context.objects.count()

    fast_seed("--seed", "2")

    assert [model.objects.count() for model in EVENT_MODELS] == [0] * len(EVENT_MODELS)
    marker = Context.objects.order_by("-created_at").first()
    assert Context.objects.count() == contexts + 1
    assert marker.metadata == {
        "via": "command",
        "command": "seed",
        "bulk": True,
        "counts": {
            "users": 9,
            "categories": 10,
            "products": 20,
            "orders": 40,
            "items": OrderItem.objects.count(),
        },
    }


def test_history_is_recorded_again_after_the_fast_path():
    fast_seed("--seed", "3")

    Product.objects.filter(pk=Product.objects.order_by("pk").first().pk).update(price=1)

    assert ProductEvent.objects.count() == 1
    assert ProductEvent.objects.get().pgh_label == "update"


def test_the_fast_paths_total_check_names_an_order_out_of_balance():
    # The check the load runs before its COMMIT, over the orders from a given id on, here on
    # orders of this uncommitted transaction (the deferred trigger has not judged them yet).
    product = ProductFactory(price=Decimal("10.00"))
    balanced = OrderFactory(lines=[(product, 2)])
    seeder = BulkSeeder(seed=1, batch=10, progress=False)
    seeder.verify(balanced.pk)  # in balance: nothing raised

    with transaction.atomic():  # rolled back below, with the total check it queued
        unbalanced = Order.objects.create(
            user=balanced.user,
            total_amount=Decimal("0.01"),
            shipping_address=shipping_address_for("E"),
        )
        with pytest.raises(UnbalancedOrder) as found:
            seeder.verify(balanced.pk)
        transaction.set_rollback(True)

    assert str(found.value) == f"order {unbalanced.pk}: total_amount is not the sum of its items"
    assert list(Order.objects.values_list("pk", flat=True)) == [balanced.pk]


def test_a_fast_load_that_breaks_a_rule_writes_nothing_and_puts_the_catalogue_back():
    # BulkSeeder on its own has no refusal (load() refuses this before it starts): new users
    # are numbered from the count, 1, so its "user1" collides with this one, and the unique
    # username key the load re-creates at the end fails, after every row was written.
    UserFactory(username="user1")
    catalogue = shop_catalogue()

    with pytest.raises(IntegrityError, match="shop_user_username_key"):
        BulkSeeder(seed=4, batch=7, progress=False).run(
            users=3, categories=10, products=20, orders=40
        )

    # One transaction: the users, products and the orders went with it.
    assert [m.objects.count() for m in (User, UserProfile, Category, Product, Order)] == [
        1,
        0,
        0,
        0,
        0,
    ]
    assert OrderItem.objects.count() == 0
    assert shop_catalogue() == catalogue  # indexes, constraints and triggers all back


def shop_catalogue() -> dict:
    """Every index, constraint and trigger (with its enabled state) of the shop's tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT 'index', tablename, indexname, indexdef
              FROM pg_indexes WHERE tablename LIKE 'shop\\_%%'
            UNION ALL
            SELECT 'constraint', conrelid::regclass::text, conname,
                   pg_get_constraintdef(oid) || ' valid: ' || convalidated
              FROM pg_constraint WHERE conrelid::regclass::text LIKE 'shop\\_%%'
            UNION ALL
            SELECT 'trigger', tgrelid::regclass::text, tgname, tgenabled::text
              FROM pg_trigger  -- not the foreign keys' own triggers: named by their oids
             WHERE tgrelid::regclass::text LIKE 'shop\\_%%' AND NOT tgisinternal
            """
        )
        rows = cursor.fetchall()
    catalogue = {(kind, table, name): definition for kind, table, name, definition in rows}
    assert len(catalogue) == len(rows) > 100  # names are unique; the schema is all there
    return catalogue


def test_fast_path_leaves_every_index_constraint_and_trigger_as_it_found_them():
    before = shop_catalogue()

    fast_seed("--seed", "8")

    assert shop_catalogue() == before


def test_fast_path_as_a_role_that_does_not_own_the_tables_is_one_line_and_writes_nothing():
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE seed_not_owner")  # rolled back with the test
        cursor.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO seed_not_owner")
        cursor.execute("SET ROLE seed_not_owner")
    try:
        with pytest.raises(CommandError, match=r"^the fast path alters the shop's tables: run it"):
            fast_seed("--seed", "9")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")

    assert User.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_fast_path_on_its_own_leaves_every_table_vacuumed_and_analysed(capsys):
    # Outside a caller's transaction, the load commits and then runs VACUUM (ANALYZE) over
    # its own connection and the second session's, behind a bar of its own.
    call_command("seed", *FAST, "--seed", "3", "--batch-size", "7")
    assert final_bars(capsys.readouterr().err)["VACUUM (ANALYZE)"] == "6/6 tables"
    items = OrderItem.objects.count()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::int, relallvisible > 0 FROM pg_class "
            "WHERE relname = ANY(%s) ORDER BY relname",
            [[model._meta.db_table for model in bulk.LOADED]],
        )
        tables = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' "
            "AND tablename = 'shop_orderitem'"
        )
        item_columns = cursor.fetchone()[0]

    # reltuples is the rows counted, relallvisible the pages VACUUM marked all-visible
    assert tables == [
        ("shop_category", 10, True),
        ("shop_order", 40, True),
        ("shop_orderitem", items, True),
        ("shop_product", 20, True),
        ("shop_user", 9, True),
        ("shop_userprofile", 9, True),
    ]
    assert item_columns == 6  # id, quantity, unit_price, subtotal, order_id, product_id


# --------------------------------------------------------------------------- on existing data


def shop_counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (User, UserProfile, Category, Product, Order, OrderItem)
    )


REFUSED = (
    "the database already has shop data (10 categories, 15 products, 30 orders); pass "
    "--if-empty to do nothing when it has, or --users 0 --categories 0 --products 0 to add "
    "only orders to it"
)


@pytest.mark.parametrize(
    "args",
    [
        [],  # the small path, demo sizes
        ["--orders", "100000", "--fast"],  # the fast path
        ["--orders", "60000"],  # the fast path by size
        ["--users", "3", "--categories", "0", "--products", "0", "--orders", "5"],
        ["--users", "0", "--categories", "2", "--products", "0", "--orders", "0"],
    ],
)
def test_on_a_database_with_shop_data_a_seed_that_would_duplicate_it_is_refused_at_once(args):
    seed()
    before = shop_counts()

    with pytest.raises(CommandError) as refused:
        call_command("seed", *args, verbosity=0)

    assert str(refused.value) == REFUSED
    assert shop_counts() == before


def test_on_a_database_with_shop_data_the_small_path_adds_orders(immediate_constraints):
    seed()
    before = shop_counts()

    call_command(
        "seed", "--users", "0", "--categories", "0", "--products", "0", "--orders", "12",
        "--seed", "9", "--batch-size", "5", verbosity=0,
    )  # fmt: skip
    immediate_constraints()

    assert shop_counts()[:4] == before[:4]
    assert Order.objects.count() == 30 + 12
    orders = Order.objects.annotate(items_total=Sum("items__subtotal"))
    assert orders.exclude(total_amount=F("items_total")).count() == 0


def test_on_a_database_with_shop_data_the_fast_path_adds_orders(immediate_constraints):
    seed()
    with connection.cursor() as cursor:  # the small seed's deferred checks, as its COMMIT
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # would (see wipe_shop)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    before = shop_counts()

    call_command(
        "seed", "--users", "0", "--categories", "0", "--products", "0", "--orders", "25",
        "--fast", "--seed", "9", "--batch-size", "7", verbosity=0,
    )  # fmt: skip
    immediate_constraints()

    assert shop_counts()[:4] == before[:4]
    assert Order.objects.count() == 30 + 25
    orders = Order.objects.annotate(items_total=Sum("items__subtotal"))
    assert orders.exclude(total_amount=F("items_total")).count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_refusal_is_one_line_on_stderr_not_a_traceback():
    seed()  # committed, so the manage.py process sees it
    before = shop_counts()

    result = subprocess.run(
        [sys.executable, "manage.py", "seed", "--orders", "100000", "--fast"],
        capture_output=True,
        text=True,
        check=False,
        env=child_process_env(),
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr == f"CommandError: {REFUSED}\n"
    assert result.stdout == ""
    assert shop_counts() == before


# --------------------------------------------------------------------------- the cache afterwards


def run_deferred_checks() -> None:
    """The deferred checks of what this test wrote, as its COMMIT would run them: the fast
    path's ALTER TABLE refuses a table with trigger events still pending."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


@pytest.mark.parametrize("path", [[], ["--fast"]], ids=["small path", "fast path"])
def test_no_seed_path_leaves_a_cached_page_stale(path, django_capture_on_commit_callbacks):
    # Pages cached before each seed (the empty catalogue; a shopper's orders), read after it
    # through the API against the real Redis: the seed's rows are there, not hidden behind
    # what was cached. The second seed adds orders only, the other list family.
    catalogue = APIClient().get("/api/v1/products/?page_size=100")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed", *SIZES, *path, "--seed", "2", "--batch-size", "4", verbosity=0)
    active = Product.objects.filter(is_active=True).values_list("pk", flat=True)

    assert ids(catalogue) == []
    assert ids(APIClient().get("/api/v1/products/?page_size=100")) == sorted(active)

    shopper = User.objects.get(username="user0")
    orders = client_for(shopper).get("/api/v1/orders/?page_size=100")
    before = sorted(shopper.orders.values_list("pk", flat=True))
    run_deferred_checks()

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "seed", "--users", "0", "--categories", "0", "--products", "0", "--orders", "60",
            *path, "--seed", "3", "--batch-size", "25", verbosity=0,
        )  # fmt: skip
    after = sorted(shopper.orders.values_list("pk", flat=True))

    assert ids(orders) == before
    assert set(before) < set(after)  # the 7 users share 90 orders: user0 got some of the 60
    assert ids(client_for(shopper).get("/api/v1/orders/?page_size=100")) == after


# --------------------------------------------------------------------------- one vocabulary


def test_the_status_mix_gives_every_order_status_a_share_of_a_hundred():
    assert list(vocabulary.STATUS_MIX) == [
        "delivered", "shipped", "processing", "pending", "cancelled",
    ]  # fmt: skip
    assert set(vocabulary.STATUS_MIX) == set(Order.Status)
    assert sum(vocabulary.STATUS_MIX.values()) == 100
    assert bulk.STATUS_BOUNDS == [0.70, 0.80, 0.88, 0.95]


@pytest.mark.parametrize("path", [[], ["--fast"]], ids=["small path", "fast path"])
def test_both_paths_draw_from_the_one_vocabulary(path):
    call_command(
        "seed", "--users", "9", "--categories", "10", "--products", "40", "--orders", "400",
        *path, "--seed", "11", "--batch-size", "50", verbosity=0,
    )  # fmt: skip
    orders = Order.objects.annotate(lines=Count("items"))
    oldest = timezone.now() - dt.timedelta(days=vocabulary.HISTORY_DAYS, minutes=2)
    products = Product.objects.all()

    assert set(orders.values_list("lines", flat=True)) == set(range(1, vocabulary.MAX_LINES + 1))
    assert set(OrderItem.objects.values_list("quantity", flat=True)) == set(
        range(1, vocabulary.MAX_QUANTITY + 1)
    )
    assert set(orders.values_list("status", flat=True)) == set(Order.Status)
    assert orders.filter(created_at__lt=oldest).count() == 0
    assert {name.split()[0].lower() for name in products.values_list("name", flat=True)} <= set(
        vocabulary.ADJECTIVES
    )
    assert {tag for tags in products.values_list("tags", flat=True) for tag in tags} <= set(
        vocabulary.TAGS
    )
    assert set(UserProfile.objects.values_list("first_name", flat=True)) <= set(
        vocabulary.FIRST_NAMES
    )
    assert {address["name"] for address in orders.values_list("shipping_address", flat=True)} <= (
        set(vocabulary.ADDRESS_NAMES)
    )
    assert products.filter(price__lt=vocabulary.MIN_PRICE).count() == 0
    assert products.filter(price__gt=vocabulary.MAX_PRICE).count() == 0
    assert (
        list(Category.objects.filter(parent=None).order_by("pk").values_list("name", flat=True))
        == vocabulary.TOP_CATEGORIES
    )


# --------------------------------------------------------------------------- progress


def final_bars(err: str) -> dict[str, str]:
    """Each progress bar's last state on stderr: {"users": "7/7 rows", ...}. tqdm redraws a
    bar after a carriage return; the last drawing of each label is the one kept."""
    bars = {}
    for drawing in re.split(r"[\r\n]", err):
        found = re.match(r"(.+?):\s+\d+%\|.*\| (\d+/\d+) \[.*?(rows|tables)/s\]", drawing)
        if found:
            bars[found.group(1)] = f"{found.group(2)} {found.group(3)}"
    return bars


def phases(err: str) -> list[str]:
    return re.findall(r"^(.+?) \.\.\. \d+\.\d s$", err, re.M)


def test_the_small_path_shows_a_bar_per_table_it_writes_and_none_for_empty_ones(capsys):
    call_command("seed", "--users", "7", "--categories", "10", "--products", "15", "--orders", "0")

    err = capsys.readouterr().err
    assert final_bars(err) == {"users": "7/7 rows", "products": "15/15 rows"}
    assert "0/0" not in err


def test_the_fast_path_shows_every_phase(capsys):
    """Inside a caller's transaction (this test's), ANALYZE stands in for VACUUM (ANALYZE):
    the bar of the latter is shown by the test above."""
    call_command("seed", *FAST, "--seed", "2", "--batch-size", "7")

    err = capsys.readouterr().err
    assert final_bars(err) == {
        "users": "9/9 rows",
        "products": "20/20 rows",
        "orders": "40/40 rows",
    }
    assert phases(err) == [
        "dropping keys and indexes, triggers off",
        "rebuilding keys and indexes, triggers on",
        "checking every order's total",
        "ANALYZE",
    ]


def test_a_quiet_seed_shows_nothing(capsys):
    call_command("seed", *FAST, "--seed", "2", "--batch-size", "7", verbosity=0)

    assert capsys.readouterr().err == ""
