"""Sizes: the database, its tables (heap, TOAST, indexes, total) and its indexes, largest
first; and the per-table and per-index counters a history snapshot copies.

Sizes come from pg_*_size() functions, which any role may call; no statistics needed.
"""

from __future__ import annotations

from .cursor import row, rows

DATABASE_SQL = """
SELECT current_database() AS name, pg_database_size(current_database()) AS bytes
"""

# Tables, partitioned tables and materialized views of every user schema, largest first.
# heap = the main fork; toast = the TOAST table with its index; indexes = all the table's
# indexes; total = all three (pg_total_relation_size).
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.oid::regclass::text AS relation,
       c.relkind AS kind,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       pg_relation_size(c.oid) AS heap_bytes,
       coalesce(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       pg_total_relation_size(c.oid) AS total_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%'
   AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
 ORDER BY total_bytes DESC, relation
 LIMIT %s
"""

INDEXES_SQL = """
SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS table_name,
       pg_relation_size(i.indexrelid) AS bytes
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%'
 ORDER BY bytes DESC, name
 LIMIT %s
"""


# Per table and per index: size and the cumulative scan counters (dbhealth/snapshots.py
# stores them with their growth since the previous snapshot).
TABLE_COUNTERS_SQL = """
SELECT schemaname || '.' || relname AS table, pg_total_relation_size(relid) AS total_bytes,
       n_live_tup AS live_rows, n_dead_tup AS dead_rows, seq_scan,
       coalesce(idx_scan, 0) AS idx_scan
  FROM pg_stat_user_tables
"""
INDEX_COUNTERS_SQL = """
SELECT schemaname || '.' || indexrelname AS index, schemaname || '.' || relname AS table,
       pg_relation_size(indexrelid) AS bytes, idx_scan
  FROM pg_stat_user_indexes
"""


def database(cursor) -> dict:
    """{"name": ..., "bytes": ...} of this database."""
    return row(cursor, DATABASE_SQL)


def tables(cursor, limit: int) -> list[dict]:
    """The `limit` largest tables, partitioned tables and materialized views."""
    return rows(cursor, TABLES_SQL, [limit])


def indexes(cursor, limit: int) -> list[dict]:
    """The `limit` largest indexes."""
    return rows(cursor, INDEXES_SQL, [limit])


def table_counters(cursor) -> list[dict]:
    return rows(cursor, TABLE_COUNTERS_SQL)


def index_counters(cursor) -> list[dict]:
    return rows(cursor, INDEX_COUNTERS_SQL)
