"""Enqueues lost when the broker fails over: 100 on_commit enqueues, the master SIGKILLed.

    .venv/bin/python scripts/stack.py exec -- .venv/bin/python bench/broker_failover.py
    ... bench/broker_failover.py --celery-default-retry     # Celery's own retry policy

A fresh Sentinel setup (scripts/sentinel.py) in a temporary folder on the project's ports;
the publisher of the tests (tests/brokers/publisher.py) commits 100 transactions 20 ms apart,
each enqueuing a task on commit; the master is killed after the 20th. Prints how many
enqueues raised, how many messages the new master's queue holds, and the seconds from the
kill to the sentinels' agreement on the new master. Counts, not speed: rounds are few.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from scripts.sentinel import BASE_PORT, SentinelSetup  # noqa: E402

COUNT, PAUSE, KILL_AFTER = 100, 0.02, 20


def one_round(extra: list[str]) -> str:
    with tempfile.TemporaryDirectory() as folder:
        setup = SentinelSetup(Path(folder), BASE_PORT)
        setup.start()
        try:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            env = {**os.environ, **setup.env(),
                   "CELERY_QUEUE": queue, "DB_POOL": "false",
                   "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
            publisher = subprocess.Popen(
                [sys.executable, "-m", "tests.brokers.publisher", str(COUNT), str(PAUSE), *extra],
                env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
            lines, promoted, killed = [], None, None
            for line in publisher.stdout:
                lines.append(line.split())
                if len(lines) == KILL_AFTER:
                    setup.kill(setup.master_port)
                    killed = time.monotonic()
                if (
                    killed
                    and promoted is None
                    and setup.master() == ("127.0.0.1", setup.replica_port)
                ):
                    promoted = time.monotonic() - killed
            publisher.wait()
            while setup.master() != ("127.0.0.1", setup.replica_port):
                time.sleep(0.05)
            promoted = promoted or time.monotonic() - killed
            lost = [int(fields[1]) for fields in lines if fields[0] == "lost"]
            queued = redis.Redis(port=setup.replica_port, db=1).llen(queue)
            span = f" (enqueues {lost[0]}-{lost[-1]})" if lost else ""
            return (
                f"lost {len(lost)} of {COUNT}{span}; queued {queued}; "
                f"new master agreed {promoted:.2f} s after the kill"
            )
        finally:
            setup.stop()


if __name__ == "__main__":
    extra = [arg for arg in sys.argv[1:] if arg == "--celery-default-retry"]
    policy = "Celery's default retry policy" if extra else "the settings' retry policy"
    for n in range(3):
        print(f"round {n + 1}, {policy}: {one_round(extra)}", flush=True)
