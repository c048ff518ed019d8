# The admin's prefix search of users: a text_pattern_ops index on lower(username), and the
# lower(email) UNIQUE index rebuilt as text_pattern_ops, both CONCURRENTLY (the users table is
# big and written to: no write lock while they build, hence atomic = False); and
# shop_natural_key(), by which category names sort as people read numbers.

import django.db.models.functions.text
from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# Each statement on its own (CONCURRENTLY runs outside a transaction block).
SWAP_EMAIL_INDEX = [
    "CREATE UNIQUE INDEX CONCURRENTLY shop_user_email_ci_uniq_new ON shop_user (lower(email) {new})",
    "DROP INDEX CONCURRENTLY shop_user_email_ci_uniq",
    "ALTER INDEX shop_user_email_ci_uniq_new RENAME TO shop_user_email_ci_uniq",
]


def swap_email_index(opclass: str) -> list[str]:
    return [statement.format(new=opclass) for statement in SWAP_EMAIL_INDEX]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("shop", "0016_order_status_transition_from_data"),
    ]

    operations = [
        # Every run of digits zero-padded to 20: "Fiction 9" < "Fiction 10" as text. Not an ICU
        # collation with numeric ordering: PostgreSQL builds without ICU exist (the embedded one).
        migrations.RunSQL(
            sql=r"""
            CREATE FUNCTION shop_natural_key(value text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
                SELECT coalesce(string_agg(
                    CASE WHEN part[1] ~ '^[0-9]' THEN lpad(part[1], 20, '0') ELSE part[1] END,
                    '' ORDER BY n), '')
                  FROM regexp_matches(value, '([0-9]+|[^0-9]+)', 'g') WITH ORDINALITY AS t(part, n)
            $$;
            COMMENT ON FUNCTION shop_natural_key(text) IS
                'Sort key of a name, numbers compared as numbers: every digit run zero-padded.';
            """,
            reverse_sql="DROP FUNCTION shop_natural_key(text)",
        ),
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                OpClass(django.db.models.functions.text.Lower("username"), name="text_pattern_ops"),
                name="shop_user_username_prefix_idx",
            ),
        ),
        # The e-mail's UNIQUE index rebuilt with text_pattern_ops, so that it serves the prefix
        # search as well as equality: built CONCURRENTLY beside the old one, which is then
        # dropped CONCURRENTLY and its name given to the new one. One index, as before.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=swap_email_index("text_pattern_ops"),
                    reverse_sql=swap_email_index("text_ops"),
                ),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="user", name="shop_user_email_ci_uniq"),
                migrations.AddConstraint(
                    model_name="user",
                    constraint=models.UniqueConstraint(
                        OpClass(
                            django.db.models.functions.text.Lower("email"),
                            name="text_pattern_ops",
                        ),
                        name="shop_user_email_ci_uniq",
                        violation_error_message="A user with that email already exists.",
                    ),
                ),
            ],
        ),
    ]
