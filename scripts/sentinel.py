"""Redis with Sentinel: a master, one replica and three sentinels, on loopback.

Debian's redis-server 7 and redis-sentinel (installed by scripts/stack.py's
ensure_packages when missing), data under PGSHOP_DATA/sentinel (or the folder given). Ports
come from SENTINEL_BASE_PORT, REDIS_PORT + 1 unless set: the master on base, the replica on
base + 1, the sentinels on base + 2, + 3 and + 4 (the project reserves REDIS_PORT + 1..+9).

    python scripts/sentinel.py up      # start (or adopt) the five servers, print the settings
    python scripts/sentinel.py down    # stop them
    python scripts/sentinel.py status

`up` prints the settings that put the cache and the Celery broker on it (REDIS_URL naming
the master, REDIS_SENTINELS; config/settings/base.py) as shell exports, so that

    eval "$(.venv/bin/python scripts/sentinel.py up)" && make run

runs the shop on it (with REDIS_URL set, scripts/stack.py starts no Redis of its own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PGSHOP_DATA", ROOT / ".data")).resolve()
REDIS_PORT = int(os.environ.get("REDIS_PORT", "16379"))  # scripts/stack.py's default
BASE_PORT = int(os.environ.get("SENTINEL_BASE_PORT", str(REDIS_PORT + 1)))
MASTER_NAME = "pgshop"  # the name the sentinels monitor and the clients ask for
REDIS_SERVER = Path("/usr/bin/redis-server")
REDIS_SENTINEL = Path("/usr/bin/redis-sentinel")
PACKAGES = {"redis-server": REDIS_SERVER, "redis-sentinel": REDIS_SENTINEL}

# Each sentinel's configuration; it rewrites the file itself as it learns the topology.
SENTINEL_CONF = """\
bind 127.0.0.1
port {port}
daemonize yes
pidfile {dir}/sentinel-{port}.pid
logfile {dir}/sentinel-{port}.log
dir {dir}
# Two of three sentinels must agree that the master is down: one sentinel cut off alone
# cannot start a failover.
sentinel monitor {name} 127.0.0.1 {master} 2
# The master is "down" after 1 s without an answer (the default, 30 s, is a long outage).
sentinel down-after-milliseconds {name} 1000
# A failed failover is retried after 5 s; a restarted old master is turned into a replica.
sentinel failover-timeout {name} 5000
sentinel parallel-syncs {name} 1
"""


def say(message: str) -> None:
    print(f"[sentinel] {message}", file=sys.stderr, flush=True)  # stdout: the exports only


def _client(port: int):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0), decode_responses=True,
    )  # fmt: skip


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(_client(port).ping())
    except redis.RedisError:
        return False


def alive(pid: int) -> bool:
    """The process runs (an exited one that no one reaped yet, a zombie, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


class SentinelSetup:
    """The five servers of one Sentinel setup, in `data`/sentinel, from `base_port` up."""

    def __init__(self, data: Path = DATA, base_port: int = BASE_PORT) -> None:
        self.dir = data / "sentinel"
        self.master_port = base_port
        self.replica_port = base_port + 1
        self.sentinel_ports = [base_port + 2, base_port + 3, base_port + 4]
        self.redis_ports = [self.master_port, self.replica_port]

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    def env(self) -> dict[str, str]:
        """The settings (config/settings/base.py) that put the cache and broker on it."""
        return {
            "REDIS_URL": f"redis://{MASTER_NAME}/0",  # the host is the master's name
            "REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in self.sentinels),
        }

    def pid(self, port: int) -> int:
        """The pid of the server on `port` (it says so itself)."""
        return int(_client(port).info("server")["process_id"])

    def master(self) -> tuple[str, int] | None:
        """What the sentinels that answer agree is the master, or None if they disagree."""
        import redis

        seen = set()
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                host, master_port = _client(port).sentinel_get_master_addr_by_name(MASTER_NAME)
                seen.add((host, int(master_port)))
        return seen.pop() if len(seen) == 1 else None

    def role(self, port: int) -> str:
        return _client(port).info("replication")["role"]

    def running(self) -> bool:
        return all(_answers(port) for port in [*self.redis_ports, *self.sentinel_ports])

    def _redis(self, port: int, *extra: str) -> None:
        command = [
            str(REDIS_SERVER),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--protected-mode", "yes",
            "--dir", str(self.dir),
            "--dbfilename", f"dump-{port}.rdb",
            "--save", "",  # a cache and a test broker: no snapshots
            "--appendonly", "no",
            "--repl-diskless-sync-delay", "0",  # a replica's first sync at once, not after 5 s
            "--daemonize", "yes",
            "--pidfile", str(self.dir / f"redis-{port}.pid"),
            "--logfile", str(self.dir / f"redis-{port}.log"),
            *extra,
        ]  # fmt: skip
        subprocess.run(command, check=True)

    def start(self, timeout: float = 30.0) -> bool:
        """Start the setup unless it runs already. Returns True when it was started here."""
        if self.running():
            say(f"Sentinel setup already running on ports {self.master_port}+ (adopted)")
            return False
        busy = [p for p in [*self.redis_ports, *self.sentinel_ports] if _answers(p)]
        if busy:
            raise SystemExit(f"[sentinel] error: ports {busy} are taken by another server")
        shutil.rmtree(self.dir, ignore_errors=True)  # a fresh topology: the master is first
        self.dir.mkdir(parents=True)
        self._redis(self.master_port)
        self._redis(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for port in self.sentinel_ports:
            conf = self.dir / f"sentinel-{port}.conf"
            conf.write_text(
                SENTINEL_CONF.format(
                    port=port, dir=self.dir, name=MASTER_NAME, master=self.master_port
                )
            )
            subprocess.run([str(REDIS_SENTINEL), str(conf)], check=True)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                self.stop()  # what did start would hold its ports for the next attempt
                raise SystemExit(f"[sentinel] error: not ready after {timeout} s, see {self.dir}")
            time.sleep(0.1)
        say(f"Sentinel setup up: master {self.master_port}, replica {self.replica_port}, "
            f"sentinels {self.sentinel_ports}")  # fmt: skip
        return True

    def ready(self) -> bool:
        """Every server answers, the replica is in sync and each sentinel knows the master,
        the replica and both other sentinels (so a failover can be agreed at once)."""
        import redis

        if not self.running():
            return False
        try:
            link = _client(self.replica_port).info("replication")
            if link.get("master_link_status") != "up":
                return False
            for port in self.sentinel_ports:
                state = _client(port).sentinel_master(MASTER_NAME)
                if (int(state["num-slaves"]), int(state["num-other-sentinels"])) != (1, 2):
                    return False
        except redis.RedisError:
            return False
        return self.master() == ("127.0.0.1", self.master_port)

    def kill(self, port: int) -> int:
        """SIGKILL the server on `port`, as a crash would; returns its pid."""
        pid = self.pid(port)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        for port in [*self.sentinel_ports, *self.redis_ports]:
            pidfile = self.dir / (
                f"sentinel-{port}.pid" if port in self.sentinel_ports else f"redis-{port}.pid"
            )
            if not pidfile.exists():
                continue
            pid, ours = int(pidfile.read_text().strip() or 0), False
            comm = Path(f"/proc/{pid}/comm")
            with contextlib.suppress(FileNotFoundError):
                ours = pid and alive(pid) and comm.read_text().startswith("redis")
            if ours:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
            pidfile.unlink(missing_ok=True)
        say("Sentinel setup stopped")


def main(argv: list[str]) -> int:
    if argv not in (["up"], ["down"], ["status"]):
        print(__doc__)
        return 2
    setup = SentinelSetup()
    if argv == ["status"]:
        print(f"running: {setup.running()}, master: {setup.master()}")
    elif argv == ["down"]:
        setup.stop()
    else:
        sys.path.insert(0, str(ROOT))
        from scripts.stack import ensure_packages

        ensure_packages(PACKAGES, why="Redis with Sentinel")
        setup.start()
        for key, value in setup.env().items():
            print(f"export {key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
