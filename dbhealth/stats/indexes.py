"""Indexes from pg_catalog and the statistics: unused, redundant, invalid, missing behind a
foreign key, tables read mostly by sequential scans, and the key columns of named indexes.

Scan counts are this server's since its statistics were last reset (stats.server.stats_since).
"""

from __future__ import annotations

from .cursor import rows

USER_SCHEMAS = """
n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
"""

# The key columns (or expressions) of an index, in order, as pg_get_indexdef prints them.
INDEX_COLUMNS = """
ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
        FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k)
"""

# A partition's index is counted under its partitioned index (one row: scans and bytes summed).
UNUSED_SQL = f"""
WITH s AS (
    SELECT coalesce(pg_partition_root(indexrelid), indexrelid) AS indexrelid,
           sum(idx_scan)::bigint AS idx_scan, sum(pg_relation_size(indexrelid))::bigint AS bytes
      FROM pg_stat_user_indexes
     GROUP BY 1
)
SELECT s.indexrelid::regclass::text AS index_name, t.relname AS table_name,
       i.indrelid::regclass::text AS relation, n.nspname AS schema,
       s.idx_scan, s.bytes,
       pg_get_indexdef(s.indexrelid) AS definition, {INDEX_COLUMNS} AS columns
  FROM s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE s.idx_scan = 0
   AND NOT i.indisunique
   AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
   AND s.bytes >= %s
 ORDER BY bytes DESC, index_name
"""  # noqa: S608 - module constants only

INVALID_SQL = f"""
SELECT i.indexrelid::regclass::text AS index_name, t.relname AS table_name,
       i.indrelid::regclass::text AS relation, n.nspname AS schema,
       pg_relation_size(i.indexrelid) AS bytes,
       pg_get_indexdef(i.indexrelid) AS definition, {INDEX_COLUMNS} AS columns
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE NOT i.indisvalid AND {USER_SCHEMAS}
 ORDER BY index_name
"""  # noqa: S608 - module constants only

# A foreign key is supported when a valid, non-partial index leads with exactly its columns
# (in any order): that index serves the ON DELETE / ON UPDATE check on the referenced table
# and the join back from it.
FK_WITHOUT_INDEX_SQL = f"""
SELECT c.conname AS constraint_name, t.relname AS table_name,
       c.conrelid::regclass::text AS relation, n.nspname AS schema,
       c.confrelid::regclass::text AS referenced,
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       greatest(t.reltuples, 0)::bigint AS estimated_rows
  FROM pg_constraint c
  JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE c.contype = 'f' AND {USER_SCHEMAS}
   AND NOT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = c.conrelid AND i.indisvalid AND i.indpred IS NULL
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
 ORDER BY relation, constraint_name
"""  # noqa: S608 - module constants only

# Tables of at least MIN rows whose scans mostly are sequential (PgHero's "missing indexes").
# A partition's scans are counted under its partitioned table (one row, summed).
SEQ_SCANS_SQL = """
WITH s AS (
    SELECT coalesce(pg_partition_root(relid), relid) AS relid, schemaname,
           sum(seq_scan)::bigint AS seq_scan, sum(seq_tup_read)::bigint AS seq_tup_read,
           sum(coalesce(idx_scan, 0))::bigint AS idx_scan, sum(n_live_tup)::bigint AS n_live_tup
      FROM pg_stat_user_tables
     GROUP BY 1, 2
)
SELECT c.relname AS table_name, s.relid::regclass::text AS relation, s.schemaname AS schema,
       s.seq_scan, s.seq_tup_read, s.idx_scan, s.n_live_tup,
       s.seq_tup_read / NULLIF(s.seq_scan, 0) AS rows_per_seq_scan,
       s.idx_scan::float8 / NULLIF(s.seq_scan + s.idx_scan, 0) AS index_share
  FROM s
  JOIN pg_class c ON c.oid = s.relid
 WHERE s.seq_scan > 0
   AND s.n_live_tup >= %s
   AND s.idx_scan::float8 / NULLIF(s.seq_scan + s.idx_scan, 0) < %s
 ORDER BY seq_tup_read DESC, relation
"""

COLUMNS_OF_SQL = f"""
SELECT i.indexrelid::regclass::text AS index_name, {INDEX_COLUMNS} AS columns
  FROM pg_index i WHERE i.indexrelid::regclass::text = ANY(%s)
"""  # noqa: S608 - module constants only

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
       AND NOT t.relispartition  -- a partition's indexes are its partitioned table's
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


def unused(cursor, min_bytes: int) -> list[dict]:
    """Valid, non-unique indexes backing no constraint, never scanned, of at least min_bytes."""
    return rows(cursor, UNUSED_SQL, [min_bytes])


def invalid(cursor) -> list[dict]:
    """Indexes marked invalid (left behind by a failed CREATE INDEX CONCURRENTLY or REINDEX)."""
    return rows(cursor, INVALID_SQL)


def redundant(cursor, table_patterns: list[str]) -> list[dict]:
    """Every redundant index of the tables matching the LIKE patterns, with its size and both
    definitions (the rule above REDUNDANT_INDEXES_SQL)."""
    return rows(cursor, REDUNDANT_INDEXES_SQL, [table_patterns])


def foreign_keys_without_index(cursor) -> list[dict]:
    """Foreign keys that no valid, non-partial index leads with."""
    return rows(cursor, FK_WITHOUT_INDEX_SQL)


def seq_scan_tables(cursor, min_rows: int, max_index_share: float) -> list[dict]:
    """Tables of at least min_rows whose share of index scans is below max_index_share."""
    return rows(cursor, SEQ_SCANS_SQL, [min_rows, max_index_share])


def key_columns(cursor, index_names: list[str]) -> dict[str, list[str]]:
    """index name (as regclass prints it) -> its key columns or expressions, in order."""
    return {r["index_name"]: r["columns"] for r in rows(cursor, COLUMNS_OF_SQL, [index_names])}
