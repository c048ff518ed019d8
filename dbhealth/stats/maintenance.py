"""Maintenance: vacuum and analyze per table, table and B-tree bloat estimates, transaction-id
age per database and per table, sequences against their limit, constraints not validated.

Bloat is an estimate from pg_stats (row widths) and pg_class (pages, rows at the last VACUUM
or ANALYZE): the pages the rows would fill when packed against the pages the relation has.
pg_stats shows only the columns the role may SELECT, so a pg_monitor-only role sees no
estimate; everything else here needs nothing beyond pg_monitor.
"""

from __future__ import annotations

from .cursor import rows

# A partitioned table is one row: its partitions' rows summed, and each last (auto)vacuum or
# analyze the oldest among the partitions that hold rows (an empty month made ahead has none).
TABLES_SQL = """
SELECT c.relname AS table_name, r.relid::regclass::text AS relation, r.schemaname AS schema,
       r.n_live_tup, r.n_dead_tup, r.n_mod_since_analyze,
       r.n_dead_tup::float8 / NULLIF(r.n_live_tup + r.n_dead_tup, 0) AS dead_ratio,
       r.last_vacuum, r.last_autovacuum, r.last_analyze, r.last_autoanalyze,
       r.vacuum_count, r.autovacuum_count, r.analyze_count, r.autoanalyze_count
  FROM (
    SELECT coalesce(pg_partition_root(relid), relid) AS relid, schemaname,
           sum(n_live_tup)::bigint AS n_live_tup, sum(n_dead_tup)::bigint AS n_dead_tup,
           sum(n_mod_since_analyze)::bigint AS n_mod_since_analyze,
           CASE WHEN count(*) = 1 THEN min(last_vacuum)
                ELSE min(last_vacuum) FILTER (WHERE n_live_tup + n_dead_tup > 0) END
             AS last_vacuum,
           CASE WHEN count(*) = 1 THEN min(last_autovacuum)
                ELSE min(last_autovacuum) FILTER (WHERE n_live_tup + n_dead_tup > 0) END
             AS last_autovacuum,
           CASE WHEN count(*) = 1 THEN min(last_analyze)
                ELSE min(last_analyze) FILTER (WHERE n_live_tup + n_dead_tup > 0) END
             AS last_analyze,
           CASE WHEN count(*) = 1 THEN min(last_autoanalyze)
                ELSE min(last_autoanalyze) FILTER (WHERE n_live_tup + n_dead_tup > 0) END
             AS last_autoanalyze,
           sum(vacuum_count)::bigint AS vacuum_count,
           sum(autovacuum_count)::bigint AS autovacuum_count,
           sum(analyze_count)::bigint AS analyze_count,
           sum(autoanalyze_count)::bigint AS autoanalyze_count
      FROM pg_stat_user_tables
     GROUP BY 1, 2
  ) r
  JOIN pg_class c ON c.oid = r.relid
 ORDER BY r.n_dead_tup DESC, relation
"""

# Heap tuple: 23-byte header (24 with the null bitmap, MAXALIGNed) + data MAXALIGNed to 8,
# plus a 4-byte line pointer; a page holds (block_size - 24 byte page header) x fillfactor.
TABLE_BLOAT_SQL = """
WITH widths AS (
    SELECT schemaname, tablename, sum((1 - null_frac) * avg_width) AS row_width
      FROM pg_stats GROUP BY 1, 2
), sized AS (
    SELECT c.oid::regclass::text AS relation, c.relpages::bigint AS pages, c.reltuples,
           current_setting('block_size')::int AS block_size,
           coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int
                       FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%%'), 100)
             AS fillfactor,
           w.row_width
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN widths w ON w.schemaname = n.nspname AND w.tablename = c.relname
     WHERE c.relkind IN ('r', 'm') AND c.reltuples > 0 AND c.relpages > 0
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
)
SELECT relation, pages, reltuples::bigint AS estimated_rows, block_size,
       pages * block_size AS bytes,
       ceil(reltuples * (24 + ceil(row_width / 8) * 8 + 4)
            / ((block_size - 24) * fillfactor / 100.0))::bigint AS expected_pages
  FROM sized
"""

# B-tree leaf tuple: 8-byte header + key data MAXALIGNed + 4-byte line pointer; a page holds
# (block_size - 24 header - 16 special) x fillfactor (90 for B-trees). Plain columns only.
INDEX_BLOAT_SQL = """
WITH keys AS (
    SELECT i.indexrelid, i.indrelid, k.attnum
      FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k(attnum)
), widths AS (
    SELECT k.indexrelid, sum((1 - s.null_frac) * s.avg_width) AS key_width,
           bool_and(s.avg_width IS NOT NULL) AND bool_and(k.attnum > 0) AS plain
      FROM keys k
      JOIN pg_attribute a ON a.attrelid = k.indrelid AND a.attnum = k.attnum
      JOIN pg_class t ON t.oid = k.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      LEFT JOIN pg_stats s
        ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
     GROUP BY k.indexrelid
), sized AS (
    SELECT c.oid::regclass::text AS relation, c.relpages::bigint AS pages, c.reltuples,
           current_setting('block_size')::int AS block_size,
           coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int
                       FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%%'), 90)
             AS fillfactor,
           w.key_width
      FROM pg_class c
      JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
      JOIN widths w ON w.indexrelid = c.oid AND w.plain
      JOIN pg_index i ON i.indexrelid = c.oid AND i.indexprs IS NULL
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.reltuples > 0 AND c.relpages > 1
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_toast%%'
)
SELECT relation, pages, reltuples::bigint AS estimated_rows, block_size,
       pages * block_size AS bytes,
       -- one metapage, then the leaf pages the keys need
       1 + ceil(reltuples * (8 + ceil(key_width / 8) * 8 + 4)
                / ((block_size - 40) * fillfactor / 100.0))::bigint AS expected_pages
  FROM sized
"""

XID_DATABASES_SQL = """
SELECT datname AS database, age(datfrozenxid) AS xid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
  FROM pg_database
 ORDER BY xid_age DESC, database
"""

XID_TABLES_SQL = """
SELECT c.oid::regclass::text AS relation, age(c.relfrozenxid) AS xid_age
  FROM pg_class c
 WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> 0
 ORDER BY xid_age DESC, relation
 LIMIT 10
"""

# A sequence overflows at its own maximum, or earlier at the maximum of the column it feeds
# (a bigint sequence behind an integer column fails at 2,147,483,647). last_value is NULL until
# the first nextval(), and for roles without USAGE or SELECT on the sequence.
SEQUENCES_SQL = """
SELECT s.schemaname || '.' || s.sequencename AS sequence, s.last_value, s.max_value,
       d.refobjid::regclass::text AS owned_by_table, a.attname AS owned_by_column,
       format_type(a.atttypid, a.atttypmod) AS column_type,
       lim.value AS limit_value,
       s.last_value::float8 / NULLIF(lim.value, 0) AS used
  FROM pg_sequences s
  JOIN pg_namespace n ON n.nspname = s.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
  LEFT JOIN pg_depend d
    ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  CROSS JOIN LATERAL (
      SELECT least(s.max_value, CASE a.atttypid
                                  WHEN 'int2'::regtype THEN 32767
                                  WHEN 'int4'::regtype THEN 2147483647
                                  ELSE s.max_value END) AS value) lim
 WHERE s.increment_by > 0
 ORDER BY used DESC NULLS LAST, sequence
"""

UNVALIDATED_SQL = """
SELECT c.conrelid::regclass::text AS relation, c.conname AS constraint_name,
       CASE c.contype WHEN 'c' THEN 'CHECK' WHEN 'f' THEN 'FOREIGN KEY'
                      WHEN 'n' THEN 'NOT NULL' ELSE c.contype::text END AS kind,
       pg_get_constraintdef(c.oid) AS definition
  FROM pg_constraint c
  JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE NOT c.convalidated AND c.conrelid <> 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY relation, constraint_name
"""


def tables(cursor) -> list[dict]:
    """Every user table's live and dead rows and its (auto)vacuum and (auto)analyze history."""
    return rows(cursor, TABLES_SQL)


def table_bloat(cursor) -> list[dict]:
    """Per table: pages, bytes, and the pages its rows would fill when packed."""
    return rows(cursor, TABLE_BLOAT_SQL)


def index_bloat(cursor) -> list[dict]:
    """Per B-tree index on plain columns: pages, bytes, and the pages its keys would fill."""
    return rows(cursor, INDEX_BLOAT_SQL)


def xid_databases(cursor) -> list[dict]:
    """Transaction-id age of every database, oldest first."""
    return rows(cursor, XID_DATABASES_SQL)


def xid_tables(cursor) -> list[dict]:
    """The ten relations of this database with the oldest unfrozen transaction ids."""
    return rows(cursor, XID_TABLES_SQL)


def sequences(cursor) -> list[dict]:
    """Every ascending sequence, its last value, and the share of its (or its column's) limit."""
    return rows(cursor, SEQUENCES_SQL)


def unvalidated_constraints(cursor) -> list[dict]:
    """Constraints added NOT VALID and not validated since."""
    return rows(cursor, UNVALIDATED_SQL)
