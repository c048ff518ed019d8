"""`make run` end to end: servers, migrations, demo data once, web server, Ctrl-C.

Runs scripts/stack.py run (what `make run` runs) in a temporary data folder on free ports,
with DATABASE_URL and REDIS_URL unset, exactly as on a fresh clone.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Run:
    def __init__(self, data: Path, ports: dict[str, int]):
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.update(
            PGSHOP_DATA=str(data),
            PG_PORT=str(ports["pg"]),
            REDIS_PORT=str(ports["redis"]),
            PORT=str(ports["web"]),
        )
        self.port = ports["web"]
        self.log = data.parent / f"run-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "scripts/stack.py", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_healthy(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz") as response:
                    return {"status": response.status, "body": response.read().decode()}
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"not healthy in {timeout}s:\n{self.output()}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


def web_logins(pg_port: int) -> list[str]:
    """The login roles of the web process's connections (pg_stat_activity, as the owner)."""
    import psycopg

    with psycopg.connect(f"postgres://postgres@127.0.0.1:{pg_port}/shop") as conn:
        rows = conn.execute(
            "SELECT DISTINCT usename::text FROM pg_stat_activity "
            "WHERE application_name = 'pgshop-web' ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def data(tmp_path):
    tmp_path.chmod(0o755)
    return tmp_path / "data"


def test_make_run_starts_everything_and_ctrl_c_stops_it(data):
    ports = {"pg": free_port(), "redis": free_port(), "web": free_port()}

    run = Run(data, ports)
    health = run.wait_healthy()
    with urllib.request.urlopen(
        f"http://127.0.0.1:{ports['web']}/api/v1/products/?page_size=5"
    ) as response:
        products_page_size = len(json.loads(response.read())["results"])
    # An admin page that reads a session opens the web's staff connection (its pool starts on
    # first use).
    admin_login = urllib.request.Request(
        f"http://127.0.0.1:{ports['web']}/admin/login/", headers={"Cookie": "sessionid=" + "x" * 32}
    )
    with urllib.request.urlopen(admin_login) as response:  # noqa: S310 (an http:// URL)
        admin_status = response.status
    logins = web_logins(ports["pg"])
    code = run.interrupt()
    output = run.output()

    assert health == {
        "status": 200,
        "body": '{"database": "ok", "redis": "ok", "status": "ok"}',
    }
    password = (data / "demo-password").read_text().strip()
    assert f"Demo staff login: admin / {password}" in output
    assert f"Admin           http://127.0.0.1:{ports['web']}/admin/" in output
    assert f"API             http://127.0.0.1:{ports['web']}/api/v1/" in output
    assert f"API docs        http://127.0.0.1:{ports['web']}/api/docs/" in output
    assert products_page_size == 5  # the API answers, over the seeded catalogue
    # ...connected as the least-privilege role; migrations ran as the owner.
    assert f"PostgreSQL      postgres://pgshop_app@127.0.0.1:{ports['pg']}/shop (owner: " in output
    assert f"Staff login     postgres://pgshop_staff@127.0.0.1:{ports['pg']}/shop (" in output
    # The web really logs in twice: shoppers as pgshop_app, the admin as pgshop_staff.
    assert admin_status == 200
    assert logins == ["pgshop_app", "pgshop_staff"]
    assert "Seeded 200 users, 24 categories, 500 products, 2000 orders." in output
    assert code == 0  # a clean stop, not an error
    assert [listening(port) for port in ports.values()] == [False, False, False], output

    # A second run reuses the data: no second seeding, the same demo password.
    again = Run(data, ports)
    again.wait_healthy()
    assert again.interrupt() == 0
    second_output = again.output()
    assert "Demo data already loaded; nothing to do." in second_output
    assert re.search(rf"Demo staff login: admin / {re.escape(password)}\n", second_output)
    assert [listening(port) for port in ports.values()] == [False, False, False], second_output
