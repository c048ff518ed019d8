"""Maintenance: dead rows, bloat, transaction-id wraparound, sequences near their limit and
constraints not yet validated, checked against the thresholds of dbhealth/conf.py. The rows
(and how the bloat is estimated) come from dbhealth/stats/maintenance.py.
"""

from dbhealth import stats

from .base import OK, WARNING, Check, level_above, worst

TITLE = "Maintenance"


def _bloat(found: list[dict], config: dict) -> list[dict]:
    result = []
    for item in found:
        wasted_pages = max(item["pages"] - item["expected_pages"], 0)
        item["wasted_bytes"] = wasted_pages * item["block_size"]
        item["ratio"] = wasted_pages / item["pages"]
        item["status"] = (
            OK
            if item["bytes"] < config["BLOAT_MIN_BYTES"]
            else level_above(item["ratio"], config["BLOAT_WARNING"], config["BLOAT_CRITICAL"])
        )
        result.append(item)
    return sorted(result, key=lambda i: (-i["wasted_bytes"], i["relation"]))


def collect(cursor, config: dict) -> dict:
    tables = stats.maintenance.tables(cursor)
    for table in tables:
        table["status"] = (
            OK
            if table["n_dead_tup"] < config["DEAD_TUPLES_MIN"]
            else level_above(
                table["dead_ratio"], config["DEAD_TUPLES_WARNING"], config["DEAD_TUPLES_CRITICAL"]
            )
        )
    dead = [t for t in tables if t["status"] != OK]
    table_bloat = _bloat(stats.maintenance.table_bloat(cursor), config)
    index_bloat = _bloat(stats.maintenance.index_bloat(cursor), config)
    bloated = [b for b in table_bloat + index_bloat if b["status"] != OK]
    databases = stats.maintenance.xid_databases(cursor)
    xid_tables = stats.maintenance.xid_tables(cursor)
    oldest = max((d["xid_age"] for d in databases), default=0)
    sequences = stats.maintenance.sequences(cursor)
    for sequence in sequences:
        sequence["status"] = level_above(
            sequence["used"], config["SEQUENCE_WARNING"], config["SEQUENCE_CRITICAL"]
        )
    near_limit = [s for s in sequences if s["status"] != OK]
    unvalidated = stats.maintenance.unvalidated_constraints(cursor)
    checks = [
        Check(
            "maintenance",
            "Dead rows",
            worst(t["status"] for t in dead),
            f"{len(dead)} table(s) with {config['DEAD_TUPLES_MIN']:,}+ dead rows making up "
            f"{config['DEAD_TUPLES_WARNING'] * 100:g}% or more",
        ),
        Check(
            "maintenance",
            "Bloat",
            worst(b["status"] for b in bloated),
            f"{len(bloated)} table(s) or index(es) with an estimated "
            f"{config['BLOAT_WARNING'] * 100:g}% or more wasted space",
        ),
        Check(
            "maintenance",
            "Transaction-id wraparound",
            level_above(oldest, config["XID_AGE_WARNING"], config["XID_AGE_CRITICAL"]),
            f"oldest unfrozen transaction id is {oldest:,} transactions old "
            "(writes stop at 2,147,483,648)",
        ),
        Check(
            "maintenance",
            "Sequences",
            worst(s["status"] for s in near_limit),
            f"{len(near_limit)} sequence(s) past {config['SEQUENCE_WARNING'] * 100:g}% of their "
            "limit",
        ),
        Check(
            "maintenance",
            "Constraints not validated",
            WARNING if unvalidated else OK,
            f"{len(unvalidated)} constraint(s) added NOT VALID and not validated since",
        ),
    ]
    return {
        "tables": tables,
        "dead": dead,
        "table_bloat": table_bloat,
        "index_bloat": index_bloat,
        "databases": databases,
        "xid_tables": xid_tables,
        "sequences": sequences,
        "unvalidated": unvalidated,
        "checks": checks,
    }
