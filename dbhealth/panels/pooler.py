"""Pooler: PgBouncer's pools (clients against server connections, clients waiting), its
traffic (SHOW STATS), and which backends of PostgreSQL are its server connections.

Rows: dbhealth/stats/pooler.py (the admin console at PGBOUNCER_ADMIN_URL) and, for those
backends as PostgreSQL sees them, the cursor the page is given.
"""

from __future__ import annotations

import psycopg

from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check

TITLE = "Pooler"


def pooler_pids() -> set[int]:
    """The backends that are PgBouncer's server connections (empty without a pooler, or when
    its console does not answer: the Activity page then marks none)."""
    if not stats.pooler.configured():
        return set()
    try:
        with stats.pooler.console() as console:
            return stats.pooler.backend_pids(stats.pooler.servers(console))
    except psycopg.Error:
        return set()


def collect(cursor, config: dict) -> dict:
    if not stats.pooler.configured():
        summary = "no pooler configured (PGBOUNCER_ADMIN_URL): the application connects directly"
        return {"configured": False, "checks": [Check("pooler", "Pooler", OK, summary)]}
    try:
        with stats.pooler.console() as console:
            pools = stats.pooler.pools(console)
            totals = stats.pooler.totals(console)
            servers = stats.pooler.servers(console)
    except psycopg.Error as error:
        summary = f"PgBouncer's console did not answer: {str(error).strip()}"
        return {
            "configured": True,
            "error": summary,
            "checks": [Check("pooler", "Pooler", CRITICAL, summary)],
        }
    backends = stats.pooler.pooler_backends(cursor, stats.pooler.backend_pids(servers))
    clients = sum(p["cl_active"] + p["cl_waiting"] for p in pools)
    waiting = sum(p["cl_waiting"] for p in pools)
    longest = max((p["maxwait"] + p["maxwait_us"] / 1e6 for p in pools), default=0.0)
    checks = [
        Check(
            "pooler",
            "Pooler",
            OK,
            f"{clients} client connection(s) served by {len(servers)} server connection(s)",
        ),
        Check(
            "pooler",
            "Clients waiting for a server connection",
            WARNING if waiting else OK,
            f"{waiting} waiting, the longest for {longest:.3f} s"
            if waiting
            else "none: every pool has a server connection free",
        ),
    ]
    return {
        "configured": True,
        "pools": pools,
        "totals": totals,
        "servers": servers,
        "backends": backends,
        "clients": clients,
        "server_count": len(servers),
        "waiting": waiting,
        "checks": checks,
    }
