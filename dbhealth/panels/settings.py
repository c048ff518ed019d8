"""Settings: the server settings that matter, what each does, and what this server's memory
suggests (rules of thumb as pgtune's for a web application; measure before and after).

The server's memory is DBHEALTH["SERVER_MEMORY"] in bytes; when unset and the database is
on loopback, this machine's memory is the server's. Rows: dbhealth/stats/settings.py.
"""

from __future__ import annotations

import os

from django.conf import settings as django_settings

from dbhealth import stats

from .base import CRITICAL, OK, WARNING, Check, worst

TITLE = "Settings"

KB, MB, GB = 1024, 1024**2, 1024**3
UNITS = {"B": 1, "kB": KB, "8kB": 8 * KB, "MB": MB, "16MB": 16 * MB, "GB": GB}

# name: what it does (one line)
EXPLAINED = {
    "shared_buffers": "PostgreSQL's own page cache, shared by every connection.",
    "effective_cache_size": "What the planner assumes the OS and PostgreSQL cache together; "
    "allocates nothing, makes index scans look cheaper when large.",
    "work_mem": "Memory per sort or hash step of a query before it spills to disk; one query "
    "can use several, each connection its own.",
    "maintenance_work_mem": "Memory for VACUUM, CREATE INDEX and ALTER TABLE ADD FOREIGN KEY.",
    "max_connections": "Connections the server accepts; each costs memory even when idle. "
    "Pool instead of raising it.",
    "random_page_cost": "The planner's price of a random page read against a sequential one (1).",
    "effective_io_concurrency": "How many reads a bitmap heap scan issues ahead.",
    "autovacuum": "Removes dead rows, refreshes statistics and freezes old rows. Never off.",
    "autovacuum_vacuum_scale_factor": "Share of a table that must be dead before autovacuum "
    "vacuums it.",
    "checkpoint_completion_target": "Spreads checkpoint writes over this share of the interval.",
    "max_wal_size": "WAL allowed between checkpoints before one is forced.",
    "idle_in_transaction_session_timeout": "Ends sessions left idle inside a transaction "
    "(they hold locks and stop VACUUM).",
    "statement_timeout": "Cancels any statement running longer (0: never).",
    "track_io_timing": "Times block reads and writes, for pg_stat_statements and EXPLAIN.",
    "log_min_duration_statement": "Statements slower than this are logged (-1: none).",
    "shared_preload_libraries": "Libraries loaded at start; pg_stat_statements must be one.",
}


def server_memory(config: dict) -> tuple[int | None, str]:
    """(bytes, where the figure comes from), or (None, why there is none)."""
    if config["SERVER_MEMORY"]:
        return int(config["SERVER_MEMORY"]), 'DBHEALTH["SERVER_MEMORY"]'
    host = django_settings.DATABASES["default"].get("HOST", "")
    if host in ("", "localhost", "127.0.0.1", "::1"):
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return pages * size, "this machine (the database is on loopback)"
    return None, 'set DBHEALTH["SERVER_MEMORY"] (bytes) for memory recommendations'


def as_bytes(item: dict) -> int | None:
    if item["unit"] in UNITS and item["setting"] not in (None, "-1"):
        return int(float(item["setting"]) * UNITS[item["unit"]])
    return None


def human(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", GB), ("MB", MB), ("kB", KB)):
        if n >= size:
            return f"{n / size:.0f} {unit}" if n % size == 0 else f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def recommend(values: dict[str, dict], memory: int | None) -> dict[str, tuple[str, str]]:
    """name -> (recommendation, status)."""
    b = {name: as_bytes(item) for name, item in values.items()}
    raw = {name: item["setting"] for name, item in values.items()}
    connections = int(raw["max_connections"])
    result: dict[str, tuple[str, str]] = {}

    def memory_rule(name: str, target: int, low: float, high: float) -> None:
        actual = b[name]
        status = OK if actual is None or low * target <= actual <= high * target else WARNING
        result[name] = (f"about {human(target)}", status)

    if memory:
        memory_rule("shared_buffers", memory // 4, 0.5, 1.6)  # 25% of memory
        memory_rule("effective_cache_size", memory * 3 // 4, 0.5, 1.34)  # 75% of memory
        # What is left after shared_buffers, shared by every connection running ~3 sorts.
        work_mem = max(4 * MB, (memory - memory // 4) // (connections * 3))
        memory_rule("work_mem", work_mem, 0.25, 4)
        memory_rule("maintenance_work_mem", min(2 * GB, memory // 16), 0.25, 4)
    result["max_connections"] = (
        ("use a connection pooler before going past 200", WARNING)
        if connections > 200
        else ("100-200 with a pool per process (this app: psycopg_pool)", OK)
    )
    result["random_page_cost"] = (
        "1.1 on SSD or network storage (4 assumes spinning disks)",
        OK if float(raw["random_page_cost"]) <= 2 else WARNING,
    )
    result["effective_io_concurrency"] = ("200 on SSD", OK)
    result["autovacuum"] = ("on", OK if raw["autovacuum"] == "on" else CRITICAL)
    result["autovacuum_vacuum_scale_factor"] = (
        "0.2, or 0.01-0.05 per table (ALTER TABLE ... SET) for tables of millions of rows",
        OK,
    )
    result["checkpoint_completion_target"] = (
        "0.9",
        OK if float(raw["checkpoint_completion_target"]) >= 0.9 else WARNING,
    )
    result["max_wal_size"] = ("1-4 GB; more for write-heavy loads (fewer forced checkpoints)", OK)
    result["idle_in_transaction_session_timeout"] = (
        "a few minutes (e.g. 5min) so a forgotten transaction cannot hold locks for hours",
        WARNING if raw["idle_in_transaction_session_timeout"] == "0" else OK,
    )
    result["statement_timeout"] = ("set per role or per request rather than server-wide", OK)
    result["track_io_timing"] = ("on", OK if raw["track_io_timing"] == "on" else WARNING)
    result["log_min_duration_statement"] = (
        "250ms-1s, so slow statements reach the log",
        WARNING if raw["log_min_duration_statement"] == "-1" else OK,
    )
    preloaded = "pg_stat_statements" in raw["shared_preload_libraries"]
    result["shared_preload_libraries"] = (
        "include pg_stat_statements",
        OK if preloaded else WARNING,
    )
    return result


def collect(cursor, config: dict) -> dict:
    found = stats.settings.settings(cursor, list(EXPLAINED))
    memory, memory_source = server_memory(config)
    advice = recommend(found, memory)
    items = []
    for name, explanation in EXPLAINED.items():
        item = found[name]
        size = as_bytes(item)
        recommendation, status = advice.get(name, ("needs the server's memory", OK))
        items.append(
            {
                "name": name,
                "value": human(size)
                if size is not None
                else f"{item['setting']}{item['unit'] or ''}",
                "source": item["source"],
                "pending_restart": item["pending_restart"],
                "explanation": explanation,
                "recommendation": recommendation,
                "status": status,
            }
        )
    off = [i["name"] for i in items if i["status"] != OK]
    return {
        "items": items,
        "memory": memory,
        "memory_human": human(memory) if memory else None,
        "memory_source": memory_source,
        "checks": [
            Check(
                "settings",
                "Server settings",
                worst(i["status"] for i in items),
                f"{len(off)} setting(s) to review" + (f": {', '.join(off)}" if off else ""),
            )
        ],
    }
