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
# indexes; total = all three (pg_total_relation_size). A partitioned table is one row, the sum
# of its partitions (pg_partition_tree); the partitions are not listed.
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.oid::regclass::text AS relation,
       c.relkind AS kind,
       sum(greatest(p.reltuples, 0))::bigint AS estimated_rows,
       sum(pg_relation_size(p.oid))::bigint AS heap_bytes,
       sum(coalesce(pg_total_relation_size(NULLIF(p.reltoastrelid, 0)), 0))::bigint
         AS toast_bytes,
       sum(pg_indexes_size(p.oid))::bigint AS index_bytes,
       sum(pg_total_relation_size(p.oid))::bigint AS total_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL pg_partition_tree(c.oid) tree ON true  -- no rows: not partitioned
  JOIN pg_class p ON p.oid = coalesce(tree.relid, c.oid)
 WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%'
   AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
 GROUP BY n.nspname, c.relname, c.oid, c.relkind
 ORDER BY total_bytes DESC, relation
 LIMIT %s
"""

# Range-partitioned tables keyed by one date or time column, with no DEFAULT partition and no
# partition up to MAXVALUE: where their last partition ends. A row dated past it cannot be
# inserted, nor the write that made it (the audit triggers' events: audit/partitions.py).
PARTITION_RUNWAY_SQL = """
SELECT relation, last_bound, extract(epoch FROM last_bound - now()) / 86400 AS days_left
  FROM (
SELECT c.oid::regclass::text AS relation,
       max(substring(pg_get_expr(p.relpartbound, p.oid) FROM 'TO \\(''([^'']*)''\\)')
           ::timestamptz) AS last_bound
  FROM pg_partitioned_table pt
  JOIN pg_class c ON c.oid = pt.partrelid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
  JOIN pg_inherits i ON i.inhparent = c.oid
  JOIN pg_class p ON p.oid = i.inhrelid
 WHERE pt.partstrat = 'r' AND pt.partnatts = 1 AND pt.partdefid = 0
   AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
 GROUP BY c.oid
HAVING NOT bool_or(pg_get_expr(p.relpartbound, p.oid) LIKE '%% TO (MAXVALUE)')
       ) tables
 ORDER BY last_bound, relation
"""

# A partitioned index is one row, the sum of its partitions' indexes, which are not listed.
INDEXES_SQL = """
SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS table_name,
       coalesce((SELECT sum(pg_relation_size(t.relid)) FROM pg_partition_tree(i.indexrelid) t),
                pg_relation_size(i.indexrelid))::bigint AS bytes
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%'
 ORDER BY bytes DESC, name
 LIMIT %s
"""


# Per table and per index: size and the cumulative scan counters (dbhealth/snapshots.py
# stores them with their growth since the previous snapshot). A partition's counters are
# summed under its partitioned table (index), which is one row.
TABLE_COUNTERS_SQL = """
SELECT s.schemaname || '.' || r.relname AS table,
       sum(pg_total_relation_size(s.relid))::bigint AS total_bytes,
       sum(s.n_live_tup)::bigint AS live_rows, sum(s.n_dead_tup)::bigint AS dead_rows,
       sum(s.seq_scan)::bigint AS seq_scan, sum(coalesce(s.idx_scan, 0))::bigint AS idx_scan
  FROM pg_stat_user_tables s
  JOIN pg_class r ON r.oid = coalesce(pg_partition_root(s.relid), s.relid)
 GROUP BY s.schemaname, r.relname
"""
INDEX_COUNTERS_SQL = """
SELECT s.schemaname || '.' || ri.relname AS index, s.schemaname || '.' || rt.relname AS table,
       sum(pg_relation_size(s.indexrelid))::bigint AS bytes, sum(s.idx_scan)::bigint AS idx_scan
  FROM pg_stat_user_indexes s
  JOIN pg_class ri ON ri.oid = coalesce(pg_partition_root(s.indexrelid), s.indexrelid)
  JOIN pg_class rt ON rt.oid = coalesce(pg_partition_root(s.relid), s.relid)
 GROUP BY s.schemaname, ri.relname, rt.relname
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


def partition_runway(cursor) -> list[dict]:
    """Each range-partitioned table by time: its last partition's end, and the days left
    until then (negative once passed)."""
    return [
        {**table, "days_left": float(table["days_left"])}
        for table in rows(cursor, PARTITION_RUNWAY_SQL)
    ]
