"""The web server under load: gunicorn serving bench.settings on loopback ports."""

import http.client
import os
import subprocess
import time
from pathlib import Path

from bench import cpu
from bench.harness import PY, ROOT, WEB_SERVERS, WEB_THREADS, WEB_WORKER_CLASS, WEB_WORKERS, db_url


class Server:
    """gunicorn serving bench.settings on loopback ports, against one database.

    One gunicorn per client, each with one single-threaded gthread worker, and client n
    talks to server n: each client keeps one request in flight on a worker of its own, as
    each pgbench client keeps one transaction in flight on a backend of its own, and a
    request never waits for another's GIL. gthread rather than sync for keep-alive (pgbench
    does not reconnect per transaction either). Measured on this box (the checkout
    benchmark's load, 3 s, CPU per order from /proc): 2 workers x 2 threads, the earlier
    setting, 44-65 orders/s with the machine 95% busy; 4 x 1, 90-104 orders/s; 3 x 2, 59-106.
    Threads in one process contend for its GIL, and a Django request here is CPU-bound.
    Why not one gunicorn with a worker per client: the clients' keep-alive connections go
    to whichever worker wins each accept(), and now and then two clients share a worker
    while another worker idles, for the whole round. In 1-second windows of the checkout
    load that gave 142-158 orders/s with gunicorn's CPU halved, against 200-275 otherwise,
    in a third of the windows or so (pgbench, beside it: 1,064-1,132 tps, no such dips).
    Each worker's pool opens DB_POOL_MIN connections: 4 x 2 = 8, well under max_connections.
    """

    def __init__(
        self, db: str, *, idiom: str = "", first_port: int = 0, env: dict[str, str] | None = None
    ):
        """idiom: the fast paths the workers replace with the idiomatic code (bench/idioms.py);
        first_port: where this server's ports start, for a second server beside the first;
        env: settings for the server's environment (e.g. a throttle rate)."""
        extra = env or {}
        base = 20000 + os.getpid() % 1000 * 16 + first_port
        self.ports = [base + n for n in range(WEB_SERVERS)]
        env = {**os.environ, "DATABASE_URL": db_url(db), "DJANGO_SETTINGS_MODULE": "bench.settings"}
        env |= {**extra, "BENCH_IDIOM": idiom}
        env["DB_POOL"] = "true"
        self.procs = [
            subprocess.Popen(self.command(port, idiom), cwd=ROOT, env=env)  # noqa: S603
            for port in self.ports
        ]
        for port in self.ports:
            for _ in range(400):
                try:
                    self.get(port, "/bench/trivial")
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                self.stop()
                raise RuntimeError(f"gunicorn on port {port} did not start")

    @staticmethod
    def command(port: int, idiom: str = "") -> list[str]:
        # The idioms are swapped in by a worker hook, once the app is loaded.
        hook = ["--config", "bench/gunicorn_idiom.py"] if idiom else []
        return [
            str(Path(PY).parent / "gunicorn"), *hook, "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS),
            "--worker-class", WEB_WORKER_CLASS, "--log-level", "warning",
        ]  # fmt: skip

    def port(self, client: int) -> int:
        return self.ports[client % len(self.ports)]

    @staticmethod
    def get(port: int, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status

    def cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn masters and workers (Linux /proc)."""
        return sum(cpu.seconds([proc.pid, *cpu.children(proc.pid)]) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)
