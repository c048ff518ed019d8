"""Index findings read from pg_catalog."""

from django.db import connection

# Index A is redundant when another index B on the same table, with the same access method,
# the same expressions and the same predicate, starts with all of A's key columns in the same
# order with the same operator classes and sort options. A unique A is kept (it enforces
# something) unless B is unique on exactly the same columns.
REDUNDANT_INDEXES_SQL = """
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, i.indisunique, i.indisprimary,
           am.amname,
           (i.indkey::int2[])[0:i.indnkeyatts - 1] AS keys,
           (i.indclass::oid[])[0:i.indnkeyatts - 1] AS classes,
           (i.indoption::int2[])[0:i.indnkeyatts - 1] AS options,
           COALESCE(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
           COALESCE(pg_get_expr(i.indpred, i.indrelid), '') AS pred
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_am am ON am.oid = c.relam
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = current_schema()
       AND t.relname LIKE ANY (%s)
)
SELECT a.indexrelid::regclass::text AS redundant_index,
       b.indexrelid::regclass::text AS covered_by,
       a.indrelid::regclass::text AS table_name
  FROM idx a
  JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
 WHERE a.amname = b.amname
   AND a.exprs = b.exprs
   AND a.pred = b.pred
   AND cardinality(a.keys) <= cardinality(b.keys)
   AND a.keys = b.keys[1:cardinality(a.keys)]
   AND a.classes = b.classes[1:cardinality(a.classes)]
   AND a.options = b.options[1:cardinality(a.options)]
   AND (NOT a.indisunique
        OR (b.indisunique AND cardinality(a.keys) = cardinality(b.keys)
            AND a.indexrelid > b.indexrelid))
 ORDER BY 3, 1, 2
"""


def redundant_indexes(table_patterns: list[str]) -> list[tuple[str, str, str]]:
    """(redundant index, the index that covers it, table) for tables matching LIKE patterns."""
    with connection.cursor() as cursor:
        cursor.execute(REDUNDANT_INDEXES_SQL, [table_patterns])
        return cursor.fetchall()
