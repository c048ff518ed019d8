"""Space: the database's size, and its tables with their heap, TOAST and index sizes
(rows: dbhealth/stats/space.py)."""

from dbhealth import stats

TITLE = "Space"


def collect(cursor, config: dict) -> dict:
    limit = config["SPACE_ROWS"]
    return {
        "database": stats.space.database(cursor),
        "tables": stats.space.tables(cursor, limit),
        "indexes": stats.space.indexes(cursor, limit),
        "checks": [],  # size alone is not a problem; bloat is checked under maintenance
    }
