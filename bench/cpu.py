"""CPU time of processes on this machine, from Linux's /proc: where a benchmark side's time
goes (gunicorn, PostgreSQL, the load generator), so a gap can be read rather than guessed."""

import os
from pathlib import Path

import psycopg

from bench.harness import db_url


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def postgres_pids() -> list[int]:
    """The postmaster and its children, when the server runs on this machine; else none.
    (The postmaster's own figure includes the backends it has reaped: pgbench's, which
    disconnect at its end.)"""
    with psycopg.connect(db_url("postgres")) as conn:
        data = conn.execute("SHOW data_directory").fetchone()[0]
    try:
        postmaster = int(Path(data, "postmaster.pid").read_text().split()[0])
    except OSError:
        return []
    return [postmaster, *children(postmaster)]


def seconds(pids: list[int]) -> float:
    """CPU time of these processes (all their threads), from /proc/<pid>/stat: utime + stime,
    plus cutime + cstime of the first (its exited, reaped children)."""
    ticks = 0
    for index, pid in enumerate(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        ticks += sum(int(field) for field in fields[11 : 15 if index == 0 else 13])
    return ticks / os.sysconf("SC_CLK_TCK")
