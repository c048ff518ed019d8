"""The point-in-time recovery drill of docs/runbooks/backup-and-recovery.md, for real.

A throw-away embedded PostgreSQL archives its WAL with the runbook's settings; a base backup
is taken with the runbook's command; three rows are committed; the cluster is restored from
the base backup and the archive to the moment after the second row, with the runbook's
recovery settings. The first two rows must be there and the third must not.
"""

import pwd
import re
import shutil
import socket
import time
from pathlib import Path

import psycopg

from scripts.stack import EmbeddedPostgres

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "backup-and-recovery.md"


def runbook_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", RUNBOOK.read_text(), flags=re.S)


def conf(block: str, **values: str) -> dict[str, str]:
    for name, value in values.items():
        block = block.replace(name, value)
    pairs = (line.split("=", 1) for line in block.splitlines() if "=" in line.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def give_to_server(server: EmbeddedPostgres, path: Path) -> None:
    if server.os_user:
        entry = pwd.getpwnam(server.os_user)
        shutil.chown(path, entry.pw_uid, entry.pw_gid)


def query(server: EmbeddedPostgres, sql: str, params=()):
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def test_restore_drill_recovers_to_the_chosen_moment(tmp_path):
    tmp_path.chmod(0o755)
    archive_conf, recovery_conf = runbook_blocks("conf")
    [basebackup_line] = [
        line.strip() for block in runbook_blocks("sh") for line in block.splitlines()
        if line.strip().startswith("pg_basebackup")
    ]  # fmt: skip
    archive = tmp_path / "archive"
    archive.mkdir()

    # Given a server archiving its WAL as the runbook says
    primary = EmbeddedPostgres(
        tmp_path / "primary", free_port(), conf(archive_conf, ARCHIVE=str(archive))
    )
    (tmp_path / "primary").mkdir()
    give_to_server(primary, archive)
    primary.start()
    try:
        query(primary, "CREATE TABLE drill (n int PRIMARY KEY)")
        query(primary, "INSERT INTO drill VALUES (1)")

        # and a base backup taken with the runbook's command
        base = tmp_path / "base"
        base.mkdir(mode=0o700)
        give_to_server(primary, base)
        argv = basebackup_line.replace("BASE", str(base)).split()
        result = primary._pg(
            argv[0], *argv[1:], "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"
        )
        assert result.returncode == 0, result.stdout

        # When a second row commits, we note the time, and a third (the "damage") follows
        query(primary, "INSERT INTO drill VALUES (2)")
        [(target,)] = query(primary, "SELECT clock_timestamp()::text")
        query(primary, "INSERT INTO drill VALUES (3)")
        [(segment,)] = query(primary, "SELECT pg_walfile_name(pg_switch_wal())")
        for _ in range(600):  # bounded: the archiver copies the segment within moments
            [(archived,)] = query(primary, "SELECT last_archived_wal FROM pg_stat_archiver")
            if archived is not None and archived >= segment:
                break
            time.sleep(0.05)
        assert archived >= segment
    finally:
        primary.stop()

    # and the cluster is restored from the base backup and the archive, as the drill says
    restored = EmbeddedPostgres(tmp_path / "restored", free_port())
    shutil.copytree(base, restored.pgdata)
    if restored.os_user:
        entry = pwd.getpwnam(restored.os_user)
        for path in [restored.pgdata, *restored.pgdata.rglob("*")]:
            shutil.chown(path, entry.pw_uid, entry.pw_gid)
    restored.pgdata.chmod(0o700)
    settings = conf(recovery_conf, ARCHIVE=str(archive), TARGET=target)
    with (restored.pgdata / "postgresql.auto.conf").open("a") as fh:
        fh.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (restored.pgdata / "recovery.signal").touch()
    give_to_server(restored, restored.pgdata / "recovery.signal")
    restored.start()
    try:
        for _ in range(600):  # bounded: replay, then promotion
            [(in_recovery,)] = query(restored, "SELECT pg_is_in_recovery()")
            if not in_recovery:
                break
            time.sleep(0.05)

        # Then the rows committed before the target are back, and the damage is not
        assert in_recovery is False
        assert query(restored, "SELECT n FROM drill ORDER BY n") == [(1,), (2,)]
    finally:
        restored.stop()
