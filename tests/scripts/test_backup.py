"""`make backup` and `make restore`: a round trip that loses nothing.

The test database (with demo data, committed) is backed up with scripts/backup.py, restored
into a new database, and compared table by table: row counts, a checksum of every row, and
every sequence's position. Tables added by later work (audit history...) are covered
automatically: the comparison walks the catalogue.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
RESTORED = f"test_restored_{os.getpid()}"


def database_url(name: str) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{name}"


def backup_py(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict["NAME"])}
    return subprocess.run(
        [sys.executable, "scripts/backup.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def fingerprint(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        result = {}
        for (table,) in tables:
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM {} t"
            ).format(sql.Identifier(table))
            result[table] = conn.execute(query).fetchone()
        sequences = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        result["sequences"] = tuple(sequences)
        return result


@pytest.fixture
def restored_database():
    yield RESTORED
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(RESTORED))
        )


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_into_a_new_database_is_identical(tmp_path, restored_database):
    call_command("seed", "--users", "5", "--categories", "9", "--products", "12", "--orders", "20",
                 verbosity=0)  # fmt: skip
    source = database_url(connection.settings_dict["NAME"])

    made = backup_py("backup", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    [backup_dir] = list(tmp_path.iterdir())
    assert sorted(p.name for p in backup_dir.iterdir()) == ["database.dump", "roles.sql"]
    assert "PASSWORD" not in (backup_dir / "roles.sql").read_text()

    restored = backup_py("restore", str(backup_dir), "--target", restored_database)
    assert restored.returncode == 0, restored.stderr

    before, after = fingerprint(source), fingerprint(database_url(restored_database))
    assert after == before
    assert before["shop_order"][0] == 20
    assert before["shop_orderitem"][0] > 20


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_an_existing_database_and_changes_nothing(tmp_path):
    made = backup_py("backup", "--out", str(tmp_path))
    [backup_dir] = list(tmp_path.iterdir())
    name = connection.settings_dict["NAME"]
    before = fingerprint(database_url(name))

    result = backup_py("restore", str(backup_dir), "--target", name)

    assert made.returncode == 0
    assert result.returncode == 1
    assert result.stderr == (
        f"backup: error: database {name!r} exists already; restore only into a new database\n"
    )
    assert fingerprint(database_url(name)) == before


def test_restore_of_a_missing_backup_is_a_one_line_error(tmp_path):
    result = backup_py("restore", str(tmp_path / "nope"), "--target", "x")

    assert result.returncode == 1
    assert result.stderr == f"backup: error: {tmp_path / 'nope' / 'database.dump'} does not exist\n"
