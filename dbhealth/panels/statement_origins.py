"""Origins: the routes, tasks and commands that send statements, and each one's statements
(counted in-process and linked to pg_stat_statements query ids: dbhealth/origins.py)."""

from dbhealth import origins

TITLE = "Origins"


def collect() -> dict:
    return {"origins": origins.summary(), "checks": []}
