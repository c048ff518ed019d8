# The admin's prefix search of users (two text_pattern_ops indexes, built CONCURRENTLY: the
# users table is big and written to, so no write lock while they build, hence atomic = False),
# and shop_natural_key(), by which category names sort as people read numbers.

import django.db.models.functions.text
from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


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
        AddIndexConcurrently(
            model_name="user",
            index=models.Index(
                OpClass(django.db.models.functions.text.Lower("email"), name="text_pattern_ops"),
                name="shop_user_email_prefix_idx",
            ),
        ),
    ]
