"""The test suite: real PostgreSQL and real Redis, as given by scripts/stack.py or the caller."""

import os

os.environ.setdefault("SECRET_KEY", "django-insecure-test-only-key")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("CACHE_KEY_PREFIX", f"pgshop-test-{os.getpid()}")
os.environ.setdefault("DB_APPLICATION_NAME", "pgshop-test")
# This run's own Celery queue: a `make run` worker on the same Redis never takes test tasks.
os.environ.setdefault("CELERY_QUEUE", f"pgshop-test-{os.getpid()}")
# The live-server concurrency tests (tests/shop/api/test_concurrency.py) run up to 30
# requests at once in this one process, and every request thread takes its connection from
# this process's pool. With production's 4 they would queue for a connection in Python and
# reach PostgreSQL four at a time; 16 lets them contend for row locks in the database,
# which is what those tests are about. (The embedded server allows 100 connections.)
os.environ.setdefault("DB_POOL_MAX", "16")

from .base import *  # noqa: E402, F403
from .base import DATABASE_REPLICAS, DATABASES, env

# Fast hashing: the suite creates many users; the algorithm is not what is under test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Concurrency tests use threads, each with its own connection, all from one pool.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DB_NAME", "test_shop")}

# The staff alias is the same test database; Django creates nothing for it. Tests reach it
# only through the emulation below, or by pointing it at a real login (tests/security).
DATABASES["staff"]["TEST"] = {"MIRROR": "default"}
# Each replica (DATABASE_REPLICA_URL, started by `make test`) streams the whole cluster, so
# the test database is there too: its own server, the test database's name.
for _alias in DATABASE_REPLICAS:
    DATABASES[_alias]["TEST"] = {"MIRROR": "default"}

# Test-only: the suite's connection is the owner, and every request runs with SET LOCAL ROLE
# as the login production would use (shop/api/rls.py): shoppers' as pgshop_app, staff paths
# as pgshop_staff. The roles are made once per session (tests/conftest.py django_db_setup).
# A child process on a server of its own, where the roles are not made (tests/faults), turns
# it off with DB_ROLE_EMULATION=false.
DB_EMULATED_ROLES = (
    {"app": "pgshop_app", "staff": "pgshop_staff"}
    if env.bool("DB_ROLE_EMULATION", default=True)
    else None
)
