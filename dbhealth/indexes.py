"""Index findings read from pg_catalog: the redundant-index query, shared by the dashboard's
indexes panel (dbhealth/panels/indexes.py) and tests/shop/test_indexes.py."""

from django.db import connection

# Index A is redundant when another index B on the same table, with the same access method,
# the same expressions and the same predicate, starts with all of A's key columns in the same
# order with the same operator classes and sort options. A unique A is kept (it enforces
# something) unless B is unique on exactly the same columns; of two exact duplicates only the
# newer one (higher oid) is reported, so each pair appears once. Primary keys are never
# redundant. Tables of the current schema whose names match LIKE patterns.
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
       AND i.indisvalid
)
SELECT a.indexrelid::regclass::text AS redundant_index,
       b.indexrelid::regclass::text AS covered_by,
       a.indrelid::regclass::text AS table_name,
       pg_relation_size(a.indexrelid) AS bytes,
       pg_get_indexdef(a.indexrelid) AS definition,
       pg_get_indexdef(b.indexrelid) AS covered_by_definition
  FROM idx a
  JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
 WHERE a.amname = b.amname
   AND a.exprs = b.exprs
   AND a.pred = b.pred
   AND NOT a.indisprimary
   AND cardinality(a.keys) <= cardinality(b.keys)
   AND a.keys = b.keys[1:cardinality(a.keys)]
   AND a.classes = b.classes[1:cardinality(a.classes)]
   AND a.options = b.options[1:cardinality(a.options)]
   AND CASE
         -- a unique index is redundant only beside a unique twin on the same columns
         WHEN a.indisunique THEN b.indisunique AND cardinality(a.keys) = cardinality(b.keys)
                                 AND a.indexrelid > b.indexrelid
         -- a plain index is redundant when it is a strict prefix of B ...
         WHEN cardinality(a.keys) < cardinality(b.keys) THEN true
         -- ... or the same columns as B, when B is unique or B is the older of two twins
         ELSE b.indisunique OR a.indexrelid > b.indexrelid
       END
 ORDER BY 3, 1, 2
"""


def redundant_index_rows(cursor, table_patterns: list[str]) -> list[dict]:
    """Every redundant index with its size and both definitions, on any DB-API cursor."""
    cursor.execute(REDUNDANT_INDEXES_SQL, [table_patterns])
    names = [column.name for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def redundant_indexes(table_patterns: list[str]) -> list[tuple[str, str, str]]:
    """(redundant index, the index that covers it, table) for tables matching LIKE patterns."""
    with connection.cursor() as cursor:
        found = redundant_index_rows(cursor, table_patterns)
    return [(f["redundant_index"], f["covered_by"], f["table_name"]) for f in found]
