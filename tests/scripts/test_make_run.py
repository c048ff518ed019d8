"""`make run` end to end: servers, migrations, demo data once, web server, Ctrl-C.

Runs scripts/stack.py run (what `make run` runs) in a temporary data folder on free ports,
with DATABASE_URL and REDIS_URL unset, exactly as on a fresh clone.
"""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
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
        fresh_clone = {"DATABASE_URL", "REDIS_URL", "DATABASE_REPLICA_URL"}  # the suite's own
        env = {k: v for k, v in os.environ.items() if k not in fresh_clone}
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
            start_new_session=True,  # its own process group, as a terminal's foreground job
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

    def ctrl_c(self) -> int:
        """What a terminal's Ctrl-C does: SIGINT to every process of the group at once."""
        os.killpg(self.process.pid, signal.SIGINT)
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


BURST = 40


def burst(port: int, path: str, n: int = BURST) -> list[int | str]:
    """n requests opened at the same instant (a barrier), each on its own connection: the
    status of each, or the error that replaced it (a reset connection, a timeout)."""
    barrier = threading.Barrier(n)
    answers: list[int | str] = [0] * n

    def one(i: int) -> None:
        barrier.wait()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as reply:
                reply.read()
                answers[i] = reply.status
        except OSError as error:
            answers[i] = type(error).__name__

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def queued_while_busy(run: Run, port: int, n: int = BURST) -> tuple[int, list[int]]:
    """The listen backlog, seen from outside: with every web process stopped (SIGSTOP, so
    nothing accepts), n connections are opened at once; how many the kernel completes into
    the listen queue (the others' SYNs are dropped, to be retried a second later), and then,
    with the processes running again, the status each request on them gets."""
    stack = psutil.Process(run.process.pid)
    web = [
        proc
        for child in stack.children()
        if "celery" not in " ".join(child.cmdline())
        for proc in (child, *child.children(recursive=True))
    ]
    sockets = [socket.socket() for _ in range(n)]
    for proc in web:
        proc.suspend()
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        time.sleep(0.5)  # loopback handshakes complete in microseconds; no retry yet (1 s)
        _, writable, _ = select.select([], sockets, [], 0)
        completed = sum(
            1 for sock in writable if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        )
    finally:
        for proc in web:
            proc.resume()
    statuses = []
    for sock in sockets:
        sock.setblocking(True)
        sock.settimeout(30)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
        statuses.append(int(reply.split(b" ", 2)[1]) if reply else 0)
    return completed, statuses


def pool_connections(run: Run, pg_port: int) -> tuple[int, list[int]] | None:
    """PostgreSQL connections held by gunicorn's master (the stack's web child) and by each
    of its workers; None when the web server is not gunicorn."""
    stack = psutil.Process(run.process.pid)
    masters = [child for child in stack.children() if "gunicorn" in " ".join(child.cmdline())]
    if len(masters) != 1:
        return None
    return (
        postgres_connections(masters[0], pg_port),
        [postgres_connections(worker, pg_port) for worker in masters[0].children()],
    )


def postgres_connections(process: psutil.Process, pg_port: int) -> int:
    return sum(
        1 for conn in process.net_connections("tcp") if conn.raddr and conn.raddr.port == pg_port
    )


def test_make_run_starts_everything_and_ctrl_c_stops_it(data):
    ports = {"pg": free_port(), "redis": free_port(), "web": free_port()}

    run = Run(data, ports)
    health = run.wait_healthy()
    with urllib.request.urlopen(
        f"http://127.0.0.1:{ports['web']}/api/v1/products/?page_size=5"
    ) as response:
        products_page_size = len(json.loads(response.read())["results"])
    # Production's server: a burst of 40 is queued and answered, none reset (runserver's
    # backlog of 10 reset some); the admin's stylesheet is served (WhiteNoise, as in prod).
    health_burst = burst(ports["web"], "/healthz")
    backlog = queued_while_busy(run, ports["web"])
    api_burst = burst(ports["web"], "/api/v1/products/?page_size=5")
    with urllib.request.urlopen(
        f"http://127.0.0.1:{ports['web']}/static/admin/css/base.css"
    ) as response:
        css = (response.status, response.headers["Content-Type"], len(response.read()) > 1000)
    # The psycopg pool opens in the workers after the fork: the master holds no PostgreSQL
    # connection (Django opens a process's pool at its first query; no --preload either).
    connections = pool_connections(run, ports["pg"])
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
    shopper_password = (data / "demo-shopper-password").read_text().strip()
    assert f"Demo staff login: admin / {password}   (kept in {data}/demo-password)\n" in output
    assert (
        f"Demo shopper login: shopper / {shopper_password}   "
        f"(kept in {data}/demo-shopper-password)\n"
    ) in output
    assert "Created demo staff user 'admin'.\nCreated demo shopper 'shopper'.\n" in output
    # Each child's lines carry its name, as honcho's do; the stack's own lines stay as they are.
    assert re.search(r"^web    \| .*Listening at: http://127\.0\.0\.1:\d+", output, re.M), output
    assert re.search(r"^worker \| .*celery@\S+ ready\.$", output, re.M), output
    assert re.search(r"^beat   \| .*beat: Starting\.\.\.$", output, re.M), output
    assert "Sending due task" not in output
    assert f"Home            http://127.0.0.1:{ports['web']}/\n" in output
    assert f"Admin           http://127.0.0.1:{ports['web']}/admin/" in output
    assert f"Dashboard       http://127.0.0.1:{ports['web']}/admin/dbhealth/" in output
    assert f"API             http://127.0.0.1:{ports['web']}/api/v1/" in output
    assert f"API docs        http://127.0.0.1:{ports['web']}/api/docs/" in output
    assert products_page_size == 5  # the API answers, over the seeded catalogue
    assert health_burst == [200] * BURST, output
    # All 40 queued while no process accepted (runserver's backlog of 10 held 11), and answered.
    assert backlog == (BURST, [200] * BURST), output
    assert api_burst == [200] * BURST, output
    assert css == (200, 'text/css; charset="utf-8"', True)
    assert connections is not None, output
    assert connections[0] == 0  # the master: a pool opened there would be shared by the forks
    assert len(connections[1]) == 2  # two workers...
    assert sum(connections[1]) >= 2  # ...holding the pools (min_size 2 each, once used)
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
    assert again.ctrl_c() == 0
    second_output = again.output()
    assert "Demo data already loaded; nothing to do." in second_output
    assert re.search(rf"Demo staff login: admin / {re.escape(password)}   ", second_output)
    # Set once: the second run leaves both logins as they are.
    assert "Demo staff user 'admin' exists; left as it is.\n" in second_output
    assert "Demo shopper 'shopper' exists; left as it is.\n" in second_output
    assert [listening(port) for port in ports.values()] == [False, False, False], second_output
