"""The catalog-to-model map: database names (tables, columns, index and constraint names) to
the installed model, field or Meta entry that declares them; and it stays the lowest layer."""

import ast
from pathlib import Path

from django.conf import settings

from core.model_map import FIELD, META_CONSTRAINT, META_INDEX, ModelMap
from shop.models import Category, Order, User


def test_tables_and_columns_map_to_models_and_fields():
    catalog = ModelMap()

    assert catalog.model("shop_order") is Order
    assert catalog.field("shop_order", "user_id") is Order._meta.get_field("user")
    assert catalog.model("pg_class") is None
    assert catalog.field("shop_order", "no_such_column") is None
    assert catalog.fields("shop_category", ["slug", "nope"]) == (
        Category,
        [Category._meta.get_field("slug"), None],
    )


def test_a_meta_index_is_declared_by_its_model():
    found = ModelMap().declaration(
        "public.shop_order_status_created_idx", "shop_order", ["status", "created_at DESC"]
    )

    assert found.text == (
        "shop.Order Meta.indexes: Index(status, -created_at) named 'shop_order_status_created_idx'"
    )
    assert (found.model, found.kind, found.declared.name) == (
        Order,
        META_INDEX,
        "shop_order_status_created_idx",
    )


def test_a_meta_constraint_a_field_and_a_raw_index_are_told_apart():
    catalog = ModelMap()

    constraint = catalog.declaration("shop_user_email_ci_uniq", "shop_user", ["lower(email)"])
    unique = catalog.declaration("shop_category_slug_key", "shop_category", ["slug"])
    raw = catalog.declaration("made_by_hand", "shop_order", ["status"])

    assert (constraint.model, constraint.kind) == (User, META_CONSTRAINT)
    assert (unique.text, unique.kind, unique.field) == (
        "shop.Category.slug (unique=True)",
        FIELD,
        Category._meta.get_field("slug"),
    )
    assert (raw.text, raw.kind) == (
        "on shop.Order.status; not declared in Django (made by raw SQL or RunSQL)",
        "",
    )


def test_an_auto_created_join_table_is_named_by_its_many_to_many_field():
    catalog = ModelMap()

    assert catalog.label(catalog.model("auth_group_permissions")) == (
        "auth.Group.permissions (its join table)"
    )
    assert catalog.label(catalog.model("shop_user_groups")) == "shop.UserGroup"  # explicit


def test_the_model_map_imports_no_app_above_it():
    tree = ast.parse((Path(settings.BASE_DIR) / "core" / "model_map.py").read_text())
    imported = {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }

    assert imported == {"__future__", "dataclasses", "django"}
