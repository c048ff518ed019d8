"""Migrations run backwards to zero and forwards again, and the schema comes back the same."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shop.factories import UserFactory

SCHEMA_SQL = """
SELECT table_name, column_name, data_type, is_nullable, column_default
  FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name LIKE 'shop\\_%%'
 ORDER BY 1, 2
"""
CONSTRAINTS_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE conrelid::regclass::text LIKE 'shop\\_%%' ORDER BY 1, 2
"""
INDEXES_SQL = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'shop\\_%%' ORDER BY 1"
)
TRIGGERS_SQL = """
SELECT tgrelid::regclass::text, tgname FROM pg_trigger
 WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'shop\\_%%' ORDER BY 1, 2
"""


def snapshot() -> dict[str, list[tuple]]:
    with connection.cursor() as cursor:
        result = {}
        for name, sql in [
            ("columns", SCHEMA_SQL),
            ("constraints", CONSTRAINTS_SQL),
            ("indexes", INDEXES_SQL),
            ("triggers", TRIGGERS_SQL),
        ]:
            cursor.execute(sql)
            result[name] = cursor.fetchall()
        return result


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_all_migrations_reverse_to_zero_and_reapply():
    before = snapshot()
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = sorted({app for app, _ in leaves})

    migrate([(app, None) for app in apps])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'shop\\_%%'")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'shop_check_order_total'")
        assert cursor.fetchone() == (0,)

    migrate(leaves)

    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_user_status_migrations_backfill_existing_users_in_batches(monkeypatch):
    # Given users created before the status column existed
    migrate([("shop", "0001_initial")])
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO shop_user (username, email, password, is_superuser, is_staff, is_active)"
            " VALUES (%s, %s, '!', false, false, true)",
            [(f"old{n}", f"old{n}@example.com") for n in range(25)],
        )
    backfill = importlib.import_module("shop.migrations.0003_user_status_backfill")
    monkeypatch.setattr(backfill, "BATCH_SIZE", 10)  # three batches: 10, 10, 5

    # When the five status migrations run
    migrate([("shop", "0006_user_status_not_null")])

    # Then every old user is active, the column is NOT NULL with a default, the value CHECK
    # is validated and the helper NOT NULL CHECK is gone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM shop_user GROUP BY status")
        assert cursor.fetchall() == [("active", 25)]
        # Each batch committed on its own: the rows carry three different writing xids.
        cursor.execute("SELECT count(DISTINCT xmin::text) FROM shop_user")
        assert cursor.fetchone() == (3,)
        cursor.execute(
            "SELECT is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = 'shop_user' AND column_name = 'status'"
        )
        assert cursor.fetchone() == ("NO", "'active'::character varying")
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint "
            "WHERE conrelid = 'shop_user'::regclass AND contype = 'c' "
            "AND conname LIKE 'shop_user_status%%'"
        )
        assert cursor.fetchall() == [("shop_user_status_valid", True)]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert UserFactory().status == "active"
