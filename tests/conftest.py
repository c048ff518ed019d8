import os
import re
import socket
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import redis.connection
from django.core.servers.basehttp import WSGIServer
from django.db import connection

from shop.factories import UserFactory

# pytest-django's live_server is Django's threaded development server, which listens with a
# backlog of 10: the 11th connection arriving at once is reset by the kernel before a thread
# can accept it. The concurrency tests open 20-40 at once (gunicorn's backlog is 2048).
WSGIServer.request_queue_size = 128


# The two login roles of production (core/roles.py), made in the test cluster once per
# session; requests run as them (settings DB_EMULATED_ROLES, shop/api/rls.py). The passwords
# let tests/security log in as them for real.
APP_ROLE, STAFF_ROLE = "pgshop_app", "pgshop_staff"
APP_PASSWORD, STAFF_PASSWORD = "app-login-test-password", "staff-login-test-password"


def pytest_collection_modifyitems(items):
    """A test that commits (transaction=True) may read the replicas too, as production's
    shoppers do (core/routing.py): `make test` always runs with one, and a shopper's read
    outside a transaction may go to it. (Inside the test transaction reads stay on the
    primary, so the other tests never reach a replica.)"""
    from django.conf import settings

    replicas = list(getattr(settings, "DATABASE_REPLICAS", ()))
    for item in items:
        marker = item.get_closest_marker("django_db")
        if not replicas or marker is None or not marker.kwargs.get("transaction"):
            continue
        databases = marker.kwargs.get("databases") or ["default"]
        if databases == "__all__" or set(replicas) <= set(databases):
            continue
        widened = {**marker.kwargs, "databases": [*databases, *replicas]}
        item.add_marker(pytest.mark.django_db(*marker.args, **widened), append=False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, then the roles and their grants on it (committed)."""
    from core import roles

    with django_db_blocker.unblock():
        roles.apply_both(
            app_role=APP_ROLE,
            staff_role=STAFF_ROLE,
            app_password=APP_PASSWORD,
            staff_password=STAFF_PASSWORD,
        )
    yield
    # pytest-django drops the test database next, which PostgreSQL refuses while PgBouncer
    # (scripts/stack.py starts one for every run) holds a server connection to it.
    if os.environ.get("PGBOUNCER_PORT"):
        from scripts import pgbouncer

        pgbouncer.release(int(os.environ["PGBOUNCER_PORT"]), connection.settings_dict["NAME"])


@pytest.fixture
def immediate_constraints():
    """Run deferred constraint triggers now rather than at COMMIT.

    Tests run inside a transaction that is rolled back, so deferred checks (the order total)
    would otherwise never fire.
    """

    def check():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    return check


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Every round trip to Redis from now on (a command, or a whole pipeline), as the list of
    the command names it carried: [["GET"], ["DEL", "INCR"], ...]. redis-py's own health
    checks (a PING after 30 s idle) are not counted. It only watches: every command still
    goes to the real Redis."""
    trips: list[list[str]] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def watched(self, command, check_health=True):
        if check_health:
            packed = command if isinstance(command, bytes) else b"".join(command)
            names = re.findall(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n", packed)
            trips.append([name.decode().upper() for name in names])
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", watched)
    return trips


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with no cached values and a closed breaker (keys of this run only)."""
    from django.core.cache import cache

    from shop.cache import breaker

    cache.delete_pattern("*")
    breaker.reset()
    yield
    cache.delete_pattern("*")
    breaker.reset()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of this test's own (append-only file on), to pause, stop and start,
    with the cache pointed at it; the suite's own Redis is never touched."""
    from scripts.stack import EmbeddedRedis

    server = EmbeddedRedis(tmp_path, free_port())
    server.start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url()}}
    yield server
    server.stop()


# The origin comment dbhealth/origins.py puts on every statement (core.db.with_comment).
ORIGIN_COMMENT = re.compile(r"\n/\*fp='[0-9a-f]{16}'[^*]*\*/(?=;?$)")


def uncommented(sql: str) -> str:
    """A captured statement without its origin comment, for tests that read its SQL."""
    return ORIGIN_COMMENT.sub("", sql)


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05):
    """Poll predicate() until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true after {timeout} s: {predicate.__doc__ or predicate}")


def child_process_env(**extra: str) -> dict[str, str]:
    """The environment of a process the tests start (a Celery worker, manage.py): the test
    database, this run's cache prefix, and no psycopg pool (a worker forks its processes)."""
    from django.conf import settings

    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DB_POOL": "false",
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "DATABASE_REPLICA_URL": "",  # workers and commands read the primary (as in make run)
        **extra,
    }


@pytest.fixture
def superuser():
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker: `celery -A config worker`, prefork with 2 processes, the real
    Redis broker, the test database and this run's own queue, without the psycopg pool (as
    in production: the pool must not cross the prefork fork). Tests that use it commit their
    data (django_db(transaction=True)): the worker is another process."""
    from django.conf import settings

    env = child_process_env(
        DB_APPLICATION_NAME="pgshop-test-worker", CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE
    )
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         f"--hostname=test-{os.getpid()}@%h", "--queues", settings.CELERY_TASK_DEFAULT_QUEUE],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker.log = log
    try:
        wait_until(lambda: worker.poll() is None and " ready." in log.read_text(), timeout=60)
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
