"""What the generated docs read from pg_catalog: every application table (shop_*, audit_*,
dbhealth_*) with its columns, constraints, indexes and triggers, sorted, through catalog
functions whose output is the same on PostgreSQL 15 and 18."""

from __future__ import annotations

from dataclasses import dataclass, field

TABLE_PATTERNS = ["shop\\_%", "audit\\_%", "dbhealth\\_%"]

CONSTRAINT_KINDS = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK"}
CONSTRAINT_KINDS["x"] = "EXCLUDE"

TABLES_SQL = """
SELECT c.oid, c.relname, COALESCE(obj_description(c.oid, 'pg_class'), '')
  FROM pg_class c
 WHERE c.relnamespace = current_schema()::regnamespace
   AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition  -- a partitioned table is documented once, its partitions are data
   AND c.relname LIKE ANY (%s)
 ORDER BY c.relname
"""

COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity, a.attgenerated,
       COALESCE(col_description(a.attrelid, a.attnum), '')
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
"""

# contype 'n' (PostgreSQL 18's NOT NULL constraints) is left out: nullability is a column
# fact, and PostgreSQL 15 has no such rows. 't' (constraint triggers) are listed as triggers.
CONSTRAINTS_SQL = """
SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid),
       ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
               JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.num ORDER BY k.ord),
       COALESCE(con.confrelid::regclass::text, ''),
       con.confrelid = ANY (%s)
  FROM pg_constraint con
 WHERE con.conrelid = ANY (%s) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
 ORDER BY con.conrelid, con.conname
"""

INDEXES_SQL = """
SELECT i.indrelid, c.relname, pg_get_indexdef(i.indexrelid), i.indisunique,
       COALESCE((SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid
                    AND conrelid = i.indrelid AND contype IN ('p', 'u', 'x')), ''),
       ARRAY(SELECT attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
               JOIN pg_attribute ON attrelid = i.indrelid AND attnum = k.num ORDER BY k.ord),
       i.indexprs IS NULL AND i.indpred IS NULL
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = ANY (%s)
 ORDER BY i.indrelid, c.relname
"""

TRIGGERS_SQL = """
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t
 WHERE t.tgrelid = ANY (%s) AND NOT t.tgisinternal
 ORDER BY t.tgrelid, t.tgname
"""


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    default: str
    identity: str
    generated: str
    comment: str


@dataclass
class Constraint:
    name: str
    kind: str  # p u f c x
    definition: str
    columns: list[str]
    references: str  # the referenced table, for foreign keys
    references_ours: bool


@dataclass
class Index:
    name: str
    definition: str
    unique: bool
    constraint: str  # the constraint it enforces, if any
    columns: list[str]
    plain: bool  # no expression, no predicate


@dataclass
class Trigger:
    name: str
    definition: str


@dataclass
class Table:
    name: str
    comment: str
    columns: list[Column] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)

    def column_sets(self, *kinds: str) -> list[tuple[str, ...]]:
        return [tuple(c.columns) for c in self.constraints if c.kind in kinds]


def read_catalog(cursor) -> list[Table]:
    """The application tables of the connected database. `cursor`: Django's or psycopg's."""
    cursor.execute(TABLES_SQL, [TABLE_PATTERNS])
    tables = {oid: Table(name, comment) for oid, name, comment in cursor.fetchall()}
    oids = list(tables)
    cursor.execute(COLUMNS_SQL, [oids])
    for oid, name, type_, not_null, default, identity, generated, comment in cursor.fetchall():
        tables[oid].columns.append(
            Column(name, type_, not_null, default, identity, generated, comment)
        )
    cursor.execute(CONSTRAINTS_SQL, [oids, oids])
    for oid, name, kind, definition, columns, references, ours in cursor.fetchall():
        tables[oid].constraints.append(
            Constraint(name, kind, definition, list(columns), references, bool(ours))
        )
    cursor.execute(INDEXES_SQL, [oids])
    for oid, name, definition, unique, constraint, columns, plain in cursor.fetchall():
        tables[oid].indexes.append(
            Index(name, definition, unique, constraint, list(columns), plain)
        )
    cursor.execute(TRIGGERS_SQL, [oids])
    for oid, name, definition in cursor.fetchall():
        tables[oid].triggers.append(Trigger(name, definition))
    return list(tables.values())
