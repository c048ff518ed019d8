"""Space: the database's size, and its tables with their heap, TOAST and index sizes.

Sizes come from pg_*_size() functions, which any role may call; no statistics needed.
"""

from .base import row, rows

TITLE = "Space"

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


def collect(cursor, config: dict) -> dict:
    limit = config["SPACE_ROWS"]
    return {
        "database": row(cursor, DATABASE_SQL),
        "tables": rows(cursor, TABLES_SQL, [limit]),
        "indexes": rows(cursor, INDEXES_SQL, [limit]),
        "checks": [],  # size alone is not a problem; bloat is checked under maintenance
    }
