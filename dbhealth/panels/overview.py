"""Overview: the server at a glance (rows: dbhealth/stats/server.py), its last 24 hours in
small charts (from the snapshots), and one green/yellow/red line per check of every panel."""

from dbhealth import snapshots, stats

from .base import Check, level_above, level_below

TITLE = "Overview"


def percent(ratio) -> str:
    return "no reads yet" if ratio is None else f"{ratio * 100:.2f}%"


def collect(cursor, config: dict) -> dict:
    server = stats.server.server(cursor)
    connections = stats.server.connections(cursor)
    in_use = sum(c["connections"] for c in connections)
    usable = server["max_connections"] - server["reserved_connections"]
    usage = in_use / usable if usable > 0 else None
    tps = stats.server.transactions(cursor)
    cache = stats.server.cache_hit(cursor)
    hit_warning, hit_critical = (
        config["CACHE_HIT_RATIO_WARNING"],
        config["CACHE_HIT_RATIO_CRITICAL"],
    )
    checks = [
        Check(
            "overview",
            "Connections",
            level_above(usage, config["CONNECTIONS_WARNING"], config["CONNECTIONS_CRITICAL"]),
            f"{in_use} of {usable} usable connections in use "
            f"(max_connections {server['max_connections']}, "
            f"{server['reserved_connections']} reserved for superusers)",
        ),
        Check(
            "overview",
            "Table cache hit ratio",
            level_below(cache["tables"], hit_warning, hit_critical),
            f"{percent(cache['tables'])} of table block reads from memory "
            f"(healthy at {hit_warning * 100:g}% or more)",
        ),
        Check(
            "overview",
            "Index cache hit ratio",
            level_below(cache["indexes"], hit_warning, hit_critical),
            f"{percent(cache['indexes'])} of index block reads from memory "
            f"(healthy at {hit_warning * 100:g}% or more)",
        ),
    ]
    return {
        "server": server,
        "connections": connections,
        "connections_in_use": in_use,
        "connections_usable": usable,
        "connection_usage": usage,
        "tps": tps,
        "cache": cache,
        "charts": snapshots.server_series("24h"),
        "checks": checks,
    }
