"""The dashboard's query layer: one module per concern, holding the SQL and returning rows.

Panels (the checks and each page's figures), alert rules, /metrics, snapshots and tasks all
read PostgreSQL through these functions and hold no SQL of their own (PgHero's Methods::*).
Every function takes a DB-API cursor, so the same SQL runs, in tests, as a role that has
nothing but pg_monitor; each returns a list of dicts (rows) or one dict (row). application.py
is the one without SQL: it reads this process's pool, the cache's Redis and Celery's broker.

    from dbhealth import stats
    stats.server.cache_hit(cursor)  # {"tables": 0.998, "indexes": 0.999}
"""

from . import (
    activity,
    application,
    indexes,
    maintenance,
    plans,
    pooler,
    replication,
    server,
    settings,
    space,
    statements,
)

__all__ = [
    "activity",
    "application",
    "indexes",
    "maintenance",
    "plans",
    "pooler",
    "replication",
    "server",
    "settings",
    "space",
    "statements",
]
