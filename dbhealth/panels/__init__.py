"""One module per panel. Each SQL panel has collect(cursor, config) -> dict with "checks"."""

from . import (
    activity,
    application,
    explain,
    history,
    indexes,
    maintenance,
    origins,
    overview,
    queries,
    replication,
    settings,
    space,
)

# (url name, module), in the order of the dashboard's tabs.
PANELS = [
    ("overview", overview),
    ("queries", queries),
    ("activity", activity),
    ("space", space),
    ("indexes", indexes),
    ("maintenance", maintenance),
    ("replication", replication),
    ("settings", settings),
    ("history", history),
    ("origins", origins),
    ("explain", explain),
    ("application", application),
]

# The panels whose collect() takes a cursor and reads PostgreSQL: everything a pg_monitor
# role must be able to run.
SQL_PANELS = [overview, queries, activity, space, indexes, maintenance, replication, settings]
