"""Broker and Redis servers the broker tests break on purpose, each the test's own.

A Redis Sentinel setup (scripts/sentinel.py) is started fresh for each test that kills its
master, in the test's temporary folder, on the ports the project gives it (REDIS_PORT + 1..+5,
or SENTINEL_BASE_PORT). RabbitMQ is the machine's (127.0.0.1:5672, installed and started by
`make test`, scripts/stack.py ensure_brokers); each test gets a vhost of its own, deleted
afterwards, so nothing else on that RabbitMQ is touched.
"""

import os
import subprocess
import sys
import uuid

import pytest

from scripts.sentinel import BASE_PORT, SentinelSetup
from tests.conftest import child_process_env, wait_until

# guest/guest is RabbitMQ's loopback-only default account; RABBITMQ_URL names another server.
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
TIMEOUT = 30  # seconds for any one wait


@pytest.fixture
def sentinel_setup(tmp_path):
    """A master, a replica and three sentinels, ready; stopped (what is left of it) after."""
    setup = SentinelSetup(tmp_path, BASE_PORT)
    setup.start()
    try:
        yield setup
    finally:
        setup.stop()


def rabbitmqctl(*args: str) -> str:
    result = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def rabbitmq_vhost():
    """The amqp URL of a vhost made for this test (guest may use it), deleted after."""
    vhost = f"pgshop-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{RABBITMQ_URL}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def start_workers(folder, names, *, queue: str, **env: str) -> list[subprocess.Popen]:
    """Prefork Celery workers, one pool process each, on `queue`, ready to take tasks (each
    logs to `folder`/name.log). They start side by side."""
    workers = [
        start_worker(folder / f"{name}.log", queue=queue, name=name, **env) for name in names
    ]
    for worker in workers:
        wait_until(lambda w=worker: w.poll() is None and " ready." in w.log.read_text(), timeout=60)
    return workers


def start_worker(log, *, queue: str, name: str, **env: str) -> subprocess.Popen:
    """A prefork Celery worker with one pool process on `queue` (not waited for)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--include=tests.brokers.tasks", f"--hostname={name}@%h",
         "--queues", queue],
        env=child_process_env(CELERY_QUEUE=queue, **env),
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    process.log = log
    return process


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
