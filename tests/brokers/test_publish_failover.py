"""Tasks enqueued from transaction.on_commit while the broker fails over: none is lost.

The broker is Redis behind Sentinel (scripts/sentinel.py, settings REDIS_SENTINELS): a
process of its own (tests/brokers/publisher.py) commits 100 transactions, each enqueuing a
task on commit, while the test SIGKILLs the master after the 20th. A publish that fails is
retried (CELERY_TASK_PUBLISH_RETRY_POLICY, about 14 s) until the sentinels have promoted the
replica and kombu, asking them again, reaches it. Every enqueue returns, and every one of the
100 messages is on the new master's queue, once. (With Celery's default policy, 3 retries and
0.4 s of waiting, most of those enqueued during the failover raised: docs/scaling.md.)
"""

import base64
import json
import subprocess
import sys
import time
import uuid

import pytest
import redis

from tests.brokers.conftest import TIMEOUT
from tests.conftest import child_process_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

COUNT, PAUSE = 100, 0.02  # enqueues, and the pause between them (s)
KILL_AFTER = 20


def test_no_task_enqueued_on_commit_is_lost_when_the_broker_fails_over(sentinel_setup, tmp_path):
    setup = sentinel_setup
    queue = f"brokers-{uuid.uuid4().hex}"
    output = tmp_path / "publisher.out"
    env = child_process_env(CELERY_QUEUE=queue, **setup.env())
    publisher = subprocess.Popen(
        [sys.executable, "-m", "tests.brokers.publisher", str(COUNT), str(PAUSE)],
        env=env, stdout=output.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip

    def lines() -> list[str]:
        return output.read_text().splitlines()

    try:
        wait_until(lambda: len(lines()) >= KILL_AFTER, timeout=60)
        setup.kill(setup.master_port)
        killed, before = time.monotonic(), len(lines())
        wait_until(lambda: len(lines()) > before, timeout=TIMEOUT)
        print(
            f"\nthe first enqueue after the kill returned {time.monotonic() - killed:.2f} s later"
        )
        assert publisher.wait(timeout=60) == 0, output.read_text()
    finally:
        if publisher.poll() is None:
            publisher.kill()

    assert lines() == [f"ok {i}" for i in range(COUNT)]  # every enqueue returned
    assert setup.master() == ("127.0.0.1", setup.replica_port)
    broker = redis.Redis(port=setup.replica_port, db=1)  # the broker's database (db + 1)
    messages = [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]
    kwargs = [json.loads(base64.b64decode(m["body"]))[1] for m in messages]
    assert sorted(k["limit"] for k in kwargs) == list(range(COUNT))  # all there, each once
    assert {m["headers"]["task"] for m in messages} == {"shop.tasks.product_cache_warm"}
