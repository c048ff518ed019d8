"""One module per page: its checks and its context. Each SQL panel has collect(cursor, config)
-> dict with "checks", reading its rows from the query layer (dbhealth/stats/)."""

from . import (
    activity,
    application,
    explain,
    history,
    indexes,
    maintenance,
    overview,
    pooler,
    queries,
    replication,
    settings,
    space,
    statement_origins,
)

# (url name, module), in the order of the dashboard's tabs (urls.py has one view per page).
PANELS = [
    ("overview", overview),
    ("queries", queries),
    ("activity", activity),
    ("space", space),
    ("indexes", indexes),
    ("maintenance", maintenance),
    ("replication", replication),
    ("pooler", pooler),
    ("settings", settings),
    ("history", history),
    ("origins", statement_origins),
    ("explain", explain),
    ("application", application),
]

# The panels whose collect() takes a cursor and reads PostgreSQL: everything a pg_monitor
# role must be able to run.
SQL_PANELS = [overview, queries, activity, space, indexes, maintenance, replication, settings]
