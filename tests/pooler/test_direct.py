"""What connects to PostgreSQL itself, never through the pooler: `manage.py migrate` (the
DIRECT_COMMANDS setting) and pg_dump (scripts/backup.py), shown with a DATABASE_URL that
leads nowhere (port 1) and a DATABASE_DIRECT_URL that leads to the test database."""

import subprocess
import sys

import pytest

from scripts import backup
from tests.conftest import child_process_env

pytestmark = pytest.mark.django_db

NOWHERE = "postgres://postgres@127.0.0.1:1/nowhere"


def manage(*args: str) -> subprocess.CompletedProcess:
    direct = child_process_env()["DATABASE_URL"]  # the test database, on PostgreSQL itself
    env = child_process_env(DATABASE_URL=NOWHERE, DATABASE_DIRECT_URL=direct)
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_migrate_connects_to_the_direct_url():
    checked = manage("migrate", "--check", "--no-input")

    assert (checked.returncode, checked.stderr) == (0, "")


def test_other_commands_connect_to_database_url():
    listed = manage("showmigrations", "shop")

    assert listed.returncode == 1
    assert "port 1 failed: Connection refused" in listed.stderr


def test_a_backup_connects_to_the_direct_url(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    monkeypatch.setenv("DATABASE_DIRECT_URL", child_process_env()["DATABASE_URL"])

    assert backup.main(["backup", "--out", str(tmp_path)]) == 0

    [made] = tmp_path.iterdir()
    assert sorted(p.name for p in made.iterdir()) == ["database.dump", "roles.sql"]
    assert capsys.readouterr().out.startswith("Backed up ")
