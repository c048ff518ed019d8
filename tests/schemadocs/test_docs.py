"""The generated reference in docs/ matches the database the migrations build, and the code.

erd.md, schema.md and the index table in indexing.md come from pg_catalog through functions
whose output is the same on PostgreSQL 15 and 18, sorted, and from the models' source: they are
compared byte for byte on every server the suite runs against (18 embedded, 15 in CI).

schema.sql is pg_dump output, and pg_dump writes different DDL for different server versions
(PostgreSQL 18 adds, among others, NOT NULL constraints of its own). Keeping one copy per
version would double what a reader has to trust, so the committed file is the one made on the
version `make run` uses, and its header records that major version. Then:

- on that version, the regenerated dump must equal the committed one, text for text;
- on every version, the committed DDL is applied to an empty scratch database, and so is the
  dump of the test database this server's migrations built; the catalog-derived documents read
  back from the two must be equal. So on PostgreSQL 15 the committed DDL is still proven to
  parse and to build exactly the schema the migrations build. (Both sides go through one
  dump-and-apply round because a dump does not keep an expression's parse tree: a CHECK
  written as `status IN (...)` comes back as an equal but differently spelled ANY(ARRAY[...]).)
"""

import contextlib
import io
import re

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from schemadocs import catalog, documents, markdown
from schemadocs import dump as pg_dump

pytestmark = pytest.mark.django_db

FIX = f"The committed docs are stale. Regenerate them with: {markdown.REGENERATE}\n"


def committed(name: str) -> str:
    return (documents.DOCS_DIR / name).read_text()


@contextlib.contextmanager
def scratch_database():
    """An empty database beside the test database (template0: no extensions, no objects)."""
    params = connection.settings_dict
    name = f"{params['NAME']}_docs_scratch"
    kwargs = {
        "host": params["HOST"],
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"] or None,
        "autocommit": True,
        "cursor_factory": psycopg.ClientCursor,  # client-side binding, as Django's cursors
    }
    with psycopg.connect(dbname=params["NAME"], **kwargs) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            with psycopg.connect(dbname=name, **kwargs) as scratch:
                yield scratch
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def docs_built_by(ddl: str) -> dict[str, str]:
    """The catalog-derived documents read from a scratch database the DDL was applied to."""
    with scratch_database() as scratch:
        scratch.execute(ddl)
        with scratch.cursor() as cursor:
            return documents.catalog_docs(cursor)


def test_erd_and_schema_reference_are_up_to_date():
    with connection.cursor() as cursor:
        generated = documents.catalog_docs(cursor)

    diff = documents.stale(generated)

    assert diff == "", FIX + diff


def test_schema_sql_is_up_to_date_and_builds_the_schema_the_migrations_build():
    committed_sql = committed("schema.sql")
    with connection.cursor() as cursor:
        dumped = pg_dump.schema_sql(connection.settings_dict, cursor)
        major = pg_dump.server_major(cursor)

    # On the version it was made on, the dump is compared as text.
    if major == pg_dump.recorded_major(committed_sql):
        diff = documents.stale({"schema.sql": dumped})
        assert diff == "", FIX + diff
    # On every version, the committed DDL must build what this server's migrations built. A
    # dump does not keep an expression's parse tree (`status IN (...)` comes back as another
    # but equal ANY(ARRAY[...]) form), so both sides go through one dump-and-apply round.
    from_committed = docs_built_by(committed_sql)
    from_migrations = docs_built_by(dumped)
    assert from_committed == from_migrations, FIX + documents.diff(
        from_migrations, from_committed, labels=("built by the migrations", "built by schema.sql")
    )


def test_staleness_is_reported_as_a_diff_naming_the_file(tmp_path):
    (tmp_path / "erd.md").write_text("old\n")

    diff = documents.stale({"erd.md": "new\n"}, tmp_path)

    assert diff == (
        "--- docs/erd.md (committed)\n+++ docs/erd.md (regenerated)\n@@ -1 +1 @@\n-old\n+new\n"
    )


def test_normalised_dump_drops_what_varies_between_runs_and_records_the_major():
    dump = (
        "--\n-- PostgreSQL database dump\n--\n\n"
        "\\restrict AbC123\n\n"
        "-- Dumped from database version 18.1\n-- Dumped by pg_dump version 18.1\n\n"
        "SET statement_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        "CREATE TABLE public.t (id integer);\n\n"
        "\\unrestrict AbC123\n"
    )

    text = pg_dump.normalise_dump(dump, 18)

    assert text == pg_dump.SQL_HEADER.format(major=18) + (
        "\n--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.t (id integer);\n"
    )
    assert pg_dump.recorded_major(text) == 18


def test_a_new_index_shows_up_in_the_docs_with_the_reason_beside_it():
    # Given an index that is in the database but not in the committed docs
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX shop_order_docs_probe_idx ON shop_order (updated_at)")
        generated = documents.catalog_docs(cursor)

    # Then the staleness check names it (it has no declaration, hence no reason)
    assert (
        "+- **`shop_order_docs_probe_idx`**\n"
        "+  `CREATE INDEX shop_order_docs_probe_idx ON public.shop_order "
        "USING btree (updated_at)`\n"
    ) in documents.stale(generated)


def test_reasons_come_from_the_comment_beside_each_declaration():
    # The comment above a Meta entry, the comment on a field keyword's line, a helper's
    # comment block, the violation message when there is no comment, and Django's own objects.
    schema = committed("schema.md")
    expected = [
        "- **`shop_product_cat_price_idx`**: Browse a category by price; also the index behind "
        "category_id (FK lookups and the PROTECT check when a category is deleted).",
        "- **`shop_user_username_key`** (UNIQUE): the UNIQUE constraint is the login lookup's "
        "index: no second one",
        "- **`shop_order_user_id_00aba627_fk_shop_user_id`** (FOREIGN KEY): on_delete=PROTECT: "
        "orders are financial records: deactivate users instead",
        "- **`shop_user_groups_group_id_bf3fb67c_fk_auth_group_id`** (FOREIGN KEY): "
        "on_delete=CASCADE\n",
        "- **`shop_orderitem_product_id_48153f22`**: indexed (Django's default): \"who bought "
        'this product", and the PROTECT check',
        "- **`shop_product_price_non_negative`** (CHECK): Free is allowed, a negative price "
        "is not.",
        "- **`shop_userprofile_pkey`** (PRIMARY KEY): The user's id is the profile's primary "
        "key: the 1-to-1 needs no extra column or index.",
        "- **`shop_order_version_check`** (CHECK): Added by Django for the "
        "PositiveIntegerField `version`.",
        "- **`pgtrigger_touch_updated_at_2b342`**: BEFORE UPDATE triggers keep updated_at (and "
        "version, where there is one) true for every writer",
        "- **`shop_user_email_ci_uniq`**: One account per mailbox, whatever the case",
    ]
    assert [line for line in expected if line not in schema] == []


def test_every_constraint_index_and_trigger_has_a_reason():
    # The house rule: a reason beside every declaration. Django's own objects (primary keys,
    # foreign keys, field indexes) get theirs from the field; the rest need a comment.
    objects = [line for line in committed("schema.md").splitlines() if line.startswith("- **`")]

    explained = re.compile(r"^- \*\*`[^`]+`\*\*( \([A-Z ]+\))?: \S")

    assert objects
    assert [line for line in objects if not explained.match(line)] == []


def test_erd_draws_every_foreign_key_with_its_cardinality():
    erd = committed("erd.md")

    assert '    shop_user ||..o{ shop_order : "user_id"' in erd
    assert '    shop_category |o..o{ shop_category : "parent_id"' in erd  # nullable parent
    assert '    shop_user ||--o| shop_userprofile : "user_id"' in erd  # FK is the PK
    assert '    auth_group ||..o{ shop_user_groups : "group_id"' in erd
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid::regclass::text LIKE ANY (%s)",
            [catalog.TABLE_PATTERNS],
        )
        (foreign_keys,) = cursor.fetchone()
    assert erd.count(' : "') == foreign_keys


def test_gendocs_writes_the_four_documents(tmp_path):
    out = io.StringIO()

    call_command("gendocs", output=tmp_path, stdout=out)

    names = ["erd.md", "schema.md", "indexing.md", "schema.sql"]
    assert out.getvalue() == "".join(f"wrote {tmp_path / name}\n" for name in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert (tmp_path / "erd.md").read_text() == committed("erd.md")


def test_gendocs_refuses_a_missing_directory_in_one_line(tmp_path):
    missing = tmp_path / "nowhere"

    with pytest.raises(CommandError) as error:
        call_command("gendocs", output=missing)

    assert str(error.value) == f"{missing} is not a directory"
    assert not missing.exists()


def test_schema_sql_leaves_out_schemas_other_than_the_applications():
    params = connection.settings_dict
    other = psycopg.connect(
        host=params["HOST"],
        port=params["PORT"] or 5432,
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname=params["NAME"],
        autocommit=True,
    )
    other.execute('CREATE SCHEMA "Scratch*"')  # committed, so that pg_dump sees it
    other.execute('CREATE TABLE "Scratch*".kept_apart (id int)')
    try:
        with connection.cursor() as cursor:
            dumped = pg_dump.schema_sql(params, cursor)
    finally:
        other.execute('DROP SCHEMA "Scratch*" CASCADE')
        other.close()

    assert "Scratch" not in dumped
    assert "kept_apart" not in dumped
    assert "CREATE TABLE public.shop_order (" in dumped
