"""Settings shared by every environment. Everything that differs comes from the environment."""

import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
import pghistory
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")  # dev and test give a default; prod refuses to start without one
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "pgtrigger",
    "pghistory",  # its own admin (pghistory.admin) is left out: audit/admin.py replaces it
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, no CDN
    "core",  # shared plumbing, below every app (docs/architecture.md)
    "shop",
    "audit",
    "dbhealth",
    "schemadocs",  # manage.py gendocs: the generated reference under docs/
]

MIDDLEWARE = [
    # Before anything reads them: a NUL in the path, query, cookies or headers is a 400,
    # never a PostgreSQL error (shop/api/middleware.py).
    "shop.api.middleware.HostileInputMiddleware",
    # Before anything touches the database: staff paths (the admin, the staff API) run on the
    # staff login, the rest on the application login (shop/api/rls.py).
    "shop.api.rls.DatabaseRoleMiddleware",
    # Then: every statement of the request, session and user lookups included, carries its
    # route in a SQL comment and is counted for it (dbhealth/origins.py). What each app adds
    # to a statement is composed by one execute wrapper (core/db.py).
    "dbhealth.origins.OriginMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware's APPEND_SLASH: /api/ errors are JSON (404s, 503 on a database
    # outage) whatever DEBUG is (shop/api/middleware.py).
    "shop.api.middleware.ApiErrorMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: every write of the request is recorded with its user, method, path
    # and request id (audit/middleware.py).
    "audit.middleware.AuditContextMiddleware",
    # Under /api/, every statement of a shopper's request carries the shopper's id, which the
    # row-level security policies on orders and their history check (shop/api/rls.py); the
    # scope ends with the request.
    "shop.api.rls.ShopperScopeMiddleware",
    # Shoppers' read-only API requests may read a replica that has replayed their own
    # writes; after a write, its LSN is kept for them in Redis (shop/api/replicas.py).
    "shop.api.replicas.ReadYourWritesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --------------------------------------------------------------------------- PostgreSQL
# One connection per thread is all Django ever uses, so a process needs at most as many
# connections as it has threads. Budget: (web processes + worker processes) x DB_POOL_MAX
# must stay below max_connections (100) minus superuser_reserved_connections (3) minus what
# the dashboard, migrations and psql need. Two cores -> 2-4 gunicorn workers x 4 = 16 at peak.
DB_POOL = env.bool("DB_POOL", default=True)
DB_POOL_OPTIONS = {
    # Opened at start so the first requests do not pay for connecting (~5 ms each with TLS off).
    "min_size": env.int("DB_POOL_MIN", default=2),
    # Hard ceiling per process; beyond it a request waits `timeout` for a free connection.
    "max_size": env.int("DB_POOL_MAX", default=4),
    # Waiting longer than this for a connection raises PoolTimeout, answered as 503 rather
    # than queueing requests behind a saturated database.
    "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    # Connections are recycled every 30 minutes: backend memory (catalog and plan caches)
    # is given back, and a failover or a changed setting is picked up without a restart.
    "max_lifetime": 1800.0,
    # Connections above min_size that sat idle for 5 minutes are closed after a burst.
    "max_idle": 300.0,
}

# Behind a transaction pooler (PgBouncer, pool_mode = transaction; docs/connection-pooling.md)
# consecutive transactions of one connection may run on different server connections, and a
# server connection serves other clients in between: nothing may outlive its transaction.
DB_TRANSACTION_POOLER = env.bool("DB_TRANSACTION_POOLER", default=False)
# PostgreSQL itself, never the pooler: `manage.py migrate` (long locks, session SETs of its
# own), pg_dump/pg_restore (scripts/backup.py), and dbhealth's cancel/terminate (its host and
# port, with the dashboard's own login: a pid seen through the pooler is no client's).
DATABASE_DIRECT_URL = env.str("DATABASE_DIRECT_URL", default=env.str("DATABASE_URL"))
# Commands that connect to DATABASE_DIRECT_URL instead of DATABASE_URL.
DIRECT_COMMANDS = ("migrate",)
# PgBouncer's admin console (postgres://user@host:port/pgbouncer), read by the dashboard's
# Pooler panel (SHOW POOLS, SHOW STATS, SHOW SERVERS). Empty: no pooler to show.
PGBOUNCER_ADMIN_URL = env.str("PGBOUNCER_ADMIN_URL", default="")

_direct = (
    len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" and (sys.argv[1] in DIRECT_COMMANDS)
)
DATABASES = {"default": env.db_url_config(DATABASE_DIRECT_URL if _direct else env("DATABASE_URL"))}
# The URL's own options (?target_session_attrs=read-write with a multi-host URL, a failover
# cluster's nodes) are kept, over the defaults below.
_URL_OPTIONS = DATABASES["default"].pop("OPTIONS", {})
_URL_KEYS = set(DATABASES["default"])  # what a URL gives: engine, name, user, host, port...
DATABASES["default"].update(
    {
        # The pool keeps connections itself; Django's own persistence must then stay off.
        "CONN_MAX_AGE": 0 if DB_POOL else 60,
        # With the pool: psycopg_pool checks each connection as it is handed out (a dead one,
        # after a server restart, is replaced instead of failing the request). Without it:
        # a persistent connection is pinged before reuse.
        "CONN_HEALTH_CHECKS": True,
        # Django's server-side cursors (.iterator()) are WITH HOLD outside a transaction: a
        # transaction pooler cannot keep them, so behind one they are off (client-side rows).
        "DISABLE_SERVER_SIDE_CURSORS": DB_TRANSACTION_POOLER,
        "OPTIONS": {
            "pool": DB_POOL_OPTIONS if DB_POOL else False,
            # core/db.py prepends set_config() to statements, in the same round trip: that
            # needs client-side binding (one simple query may hold several statements). It
            # also never prepares a statement, which PgBouncer 1.18 in transaction mode could
            # not keep (a prepared statement belongs to one server connection).
            "server_side_binding": False,
            # Names each process in pg_stat_activity and the server log (web, worker, beat).
            "application_name": env("DB_APPLICATION_NAME", default="pgshop-web"),
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
            **_URL_OPTIONS,
        },
    }
)

# The staff login (pgshop_staff; shop/api/rls.py): the admin, the dashboard and the staff API
# run on it, through rls.staff(). Same options and pool settings as the application's (a pool
# of its own). Unset, it is DATABASE_URL: a single-role setup (one owner for everything, as in
# CI's external-database run) keeps working, with no row-level security between the two.
_STAFF_URL = env.db_url("STAFF_DATABASE_URL", default=env.str("DATABASE_URL"))
DATABASES["staff"] = {
    **_STAFF_URL,
    **{key: value for key, value in DATABASES["default"].items() if key not in _URL_KEYS},
}
DATABASES["staff"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], **_STAFF_URL.get("OPTIONS", {})}
# None in production; test settings emulate the two logins on the test's connection.
DB_EMULATED_ROLES = None

# Streaming replicas (core/routing.py; docs/scaling.md): shoppers' reads, once a replica has
# replayed that shopper's own writes. One URL or several, comma-separated; unset: no replica.
DATABASE_REPLICAS = [
    f"replica{n}" for n in range(1, 1 + len(env.list("DATABASE_REPLICA_URL", default=[])))
]
for _alias, _url in zip(
    DATABASE_REPLICAS, env.list("DATABASE_REPLICA_URL", default=[]), strict=True
):
    DATABASES[_alias] = {
        **env.db_url_config(_url),
        **{key: value for key, value in DATABASES["default"].items() if key not in _URL_KEYS},
        # No pool: a stopped replica then refuses at once instead of holding a request for
        # the pool's timeout; one persistent connection per thread, checked by every
        # request's replica check (core/routing.py), so Django's own ping stays off.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {
            **DATABASES["default"]["OPTIONS"],
            "pool": False,
            # A replica that does not answer is skipped after this, not waited for.
            "connect_timeout": env.int("DB_REPLICA_CONNECT_TIMEOUT", default=1),
        },
    }
DATABASE_ROUTERS = ["core.routing.ReplicaRouter"]  # writes and migrations: primary only
# A replica with more received-but-unreplayed WAL than this is skipped: it bounds how stale
# another shopper's read can be (16 MiB, one WAL segment: ~1 s of a busy shop's writes).
DB_REPLICA_MAX_LAG_BYTES = env.int("DB_REPLICA_MAX_LAG_BYTES", default=16 * 1024 * 1024)
# How long a shopper's last write LSN is kept in Redis: far longer than any healthy lag.
DB_REPLICA_LSN_TTL = env.int("DB_REPLICA_LSN_TTL", default=3600)
# A replica that failed its check is not tried again for this long (no connect per request).
DB_REPLICA_RETRY_SECONDS = env.float("DB_REPLICA_RETRY_SECONDS", default=5.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "shop.User"

# --------------------------------------------------------------------------- Redis
# One Redis URL for the cache and (db + 1) the Celery broker. Behind Sentinel its host is the
# name of the master the sentinels watch: redis://pgshop/0 (scripts/sentinel.py prints it).
REDIS_URL = env("REDIS_URL")
# Redis with Sentinel: "host:port,host:port,..." of the sentinels. Set, the cache and the
# Redis broker ask them for the current master (and ask again after a failover); unset, they
# connect to REDIS_URL's host itself.
REDIS_SENTINELS = [
    (host, int(port))
    for host, port in (item.rsplit(":", 1) for item in env.list("REDIS_SENTINELS", default=[]))
]
# The sentinels themselves answer on loopback or the LAN: a dead one costs 0.5 s, not a hang.
REDIS_SENTINEL_KWARGS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def sentinel_cache_options(sentinels: list[tuple[str, int]]) -> dict:
    """django-redis behind Sentinel: the master's address comes from the sentinels."""
    return {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": sentinels,
        "SENTINEL_KWARGS": REDIS_SENTINEL_KWARGS,
    }


CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        # A list of one: behind Sentinel, reads go to the master too. (A plain URL would
        # make SentinelClient read from a replica, which can answer with a value an
        # invalidation has already deleted on the master: stale.)
        "LOCATION": [REDIS_URL] if REDIS_SENTINELS else REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="pgshop"),
        "OPTIONS": {
            # A slow or absent Redis must cost milliseconds, not a hung request: short
            # timeouts, no client-side retries with backoff.
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "CONNECTION_POOL_KWARGS": {
                "max_connections": 50,
                "health_check_interval": 30,
                "retry": Retry(NoBackoff(), 0),
            },
            # Every cache user (throttling, sessions...) degrades to "no cache" when Redis
            # is down instead of failing the request; shop/cache.py logs and counts it.
            "IGNORE_EXCEPTIONS": True,
            **(sentinel_cache_options(REDIS_SENTINELS) if REDIS_SENTINELS else {}),
        },
    }
}
# ...and each error IGNORE_EXCEPTIONS swallows is logged (django_redis.cache), not silent.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --------------------------------------------------------------------------- Celery


def _redis_db(url: str, offset: int) -> str:
    """The same Redis server, database number + offset: the broker's keys stay apart."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + offset
    return urlunsplit(parts._replace(path=f"/{db}"))


def sentinel_broker_url(sentinels: list[tuple[str, int]], redis_url: str) -> str:
    """kombu's Sentinel transport: every sentinel, each with the broker's database number."""
    db = urlsplit(_redis_db(redis_url, 1)).path
    return ";".join(f"sentinel://{host}:{port}{db}" for host, port in sentinels)


def broker_transport_options(broker_url: str, sentinel_master: str) -> dict:
    """What each broker needs of kombu (the scheme decides)."""
    if broker_url.startswith(("amqp", "pyamqp")):
        # RabbitMQ (production): every publish waits for the broker's confirm, so a publish
        # the broker did not take raises, and is retried (CELERY_TASK_PUBLISH_RETRY_POLICY).
        return {"confirm_publish": True}
    options = {"visibility_timeout": 3600}  # Redis: redelivery of an unacked task; > any run
    if broker_url.startswith("sentinel"):
        options |= {"master_name": sentinel_master, "sentinel_kwargs": REDIS_SENTINEL_KWARGS}
    return options


# The production broker is RabbitMQ (docker-compose.yml: amqp://...): a task whose worker
# died is redelivered as soon as its connection drops. Unset, the Redis of REDIS_URL, db + 1
# (make run, the test suite), through the sentinels when REDIS_SENTINELS is set.
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL",
    default=sentinel_broker_url(REDIS_SENTINELS, REDIS_URL)
    if REDIS_SENTINELS
    else _redis_db(REDIS_URL, 1),
)
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL, urlsplit(REDIS_URL).hostname or ""
)
# A publish that fails (the broker restarting, Sentinel electing a new master) is retried for
# about 14 s (at once, after 0.25 s, then every 0.5 s: 30 retries): longer than a failover
# (2.3-2.7 s measured, docs/scaling.md), so a task enqueued from on_commit is not lost.
# Celery's default (3 retries, 0.4 s of waiting) lost 16-63 of 100 publishes in one.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 30,
    "interval_start": 0,
    "interval_step": 0.25,
    "interval_max": 0.5,
}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="pgshop")
# A task leaves the queue only once it has run: a worker killed mid-task means the task is
# delivered again (tasks are idempotent), never lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # with acks_late: a busy worker does not hoard tasks
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True  # effects live in PostgreSQL; no result backend
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Periodic jobs (Celery beat): name -> task and schedule (seconds, or a crontab).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Audit history older than AUDIT_RETENTION_DAYS, deleted in small transactions.
    "audit-prune": {"task": "audit.tasks.audit_prune_task", "schedule": 24 * 60 * 60},
    # The event tables' partitions for the next months, made ahead (audit/partitions.py).
    "audit-partitions": {"task": "audit.tasks.audit_partitions_task", "schedule": 24 * 60 * 60},
    # Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS, deleted in small transactions.
    "shop-idempotency-prune": {"task": "shop.tasks.idempotency_keys_prune", "schedule": 60 * 60},
    # The detail pages of the best sellers, refreshed before their entries expire (300 s).
    "shop-cache-warm": {"task": "shop.tasks.product_cache_warm", "schedule": 4 * 60},
    # Statistics history for the dashboard's charts (dbhealth/snapshots.py), pruned as it goes.
    "dbhealth-snapshot": {"task": "dbhealth.tasks.dbhealth_snapshot_task", "schedule": 5 * 60},
    # Alert rules (dbhealth/alerts.py): a breach opens an alert and mails ADMINS once.
    "dbhealth-alerts": {"task": "dbhealth.tasks.dbhealth_alerts_task", "schedule": 60},
    # Query id <- origin links, from the comments of running and sampled statements.
    "dbhealth-origins": {"task": "dbhealth.tasks.dbhealth_origins_task", "schedule": 30},
}
CACHE_WARM_TOP_N = env.int("CACHE_WARM_TOP_N", default=50)
# How long an Idempotency-Key replays its order: a client retrying a lost answer does so in
# minutes; after this the key counts as new, and the hourly prune deletes it.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

# --------------------------------------------------------------------------- dbhealth
# Thresholds of the database health dashboard (/admin/dbhealth/); every key, its default and
# its meaning are in dbhealth/conf.py. Override only what differs, e.g. {"SLOW_QUERY_MS": 50}.
DBHEALTH: dict = {}
# /metrics (Prometheus) answers a staff session with the dashboard permission, or a scraper
# that sends "Authorization: Bearer <this>". Empty: no token is accepted.
DBHEALTH_METRICS_TOKEN = env("DBHEALTH_METRICS_TOKEN", default="")
# Who gets the alert mails (mail_admins): ADMINS=ops@example.com,dba@example.com
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = env("SERVER_EMAIL", default="pgshop@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --------------------------------------------------------------------------- REST API
# The shoppers' API under /api/v1/ (shop/api/). JSON in and out only; every 4xx has one
# body shape, {"code", "message", "fields"}, made by shop.api.exceptions.exception_handler.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shop.api.authentication.TokenAuthentication",  # Authorization: Token <key>
        "shop.api.authentication.SessionAuthentication",  # browsers; enforces CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shop.api.parsers.JSONParser"],  # depth, size, NUL limits
    "DEFAULT_FILTER_BACKENDS": ["shop.api.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "shop.api.pagination.KeysetPagination",
    "DEFAULT_SCHEMA_CLASS": "shop.api.schema.ErrorAnswersSchema",  # 400/406/413/415/429/503
    "EXCEPTION_HANDLER": "shop.api.exceptions.exception_handler",
    # Counters live in the default cache (Redis), shared by every web process.
    "DEFAULT_THROTTLE_CLASSES": [
        "shop.api.throttles.AnonThrottle",
        "shop.api.throttles.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),  # per client IP
        "user": env("THROTTLE_USER", default="600/min"),  # per account
        "login": env("THROTTLE_LOGIN", default="5/min"),  # login and register, per client IP
        # Wrong passwords per account from any address (shop/api/throttles.py); a device that
        # logged in before has a budget of its own, so a guesser cannot lock its shopper out.
        "login_account": env("THROTTLE_LOGIN_ACCOUNT", default="10/hour"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),  # proxies whose X-Forwarded-For to trust
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "pgshop API",
    "DESCRIPTION": "The shoppers' REST API: accounts, catalogue, orders. Log in "
    "(POST /api/v1/auth/login/), then *Authorize* with the bare token: it is sent as "
    "`Authorization: Bearer <token>`. Every 4xx answer is "
    '`{"code": ..., "message": ..., "fields": {...}}`, `fields` keyed by each field\'s path '
    "(`items.0.quantity`), empty when no one field is at fault.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # One scheme in the Authorize dialog, Bearer (shop/api/authentication.py BearerScheme):
    # the session login is for the browsable pages, and Swagger UI cannot use a cookie box.
    "AUTHENTICATION_WHITELIST": ["shop.api.authentication.TokenAuthentication"],
    # One tag per resource, in this order (shop/api/schema.py gives each operation its tag).
    "TAGS": [
        {
            "name": "account",
            "description": "Register, log in for a token, log out; me and my profile.",
        },
        {"name": "categories", "description": "The category tree."},
        {
            "name": "products",
            "description": "The catalogue: filters, full-text search, keyset pages.",
        },
        {
            "name": "orders",
            "description": "My orders: place (with an Idempotency-Key), track, cancel.",
        },
        {
            "name": "staff",
            "description": "Staff only: any order, and moving it along its statuses.",
        },
        {"name": "api", "description": "The API root: links to everything."},
    ],
    # Swagger UI: keep the token across reloads, and show each operation's id.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "shop.models.Order.Status",
    },
}

# --------------------------------------------------------------------------- audit history
# django-pghistory, configured in audit/models.py; these are the settings it only reads globally.
# Event time is the moment the trigger ran (clock_timestamp()), not the transaction's start
# (now()): per object it then follows the order of the changes, which time travel relies on.
PGHISTORY_CREATED_AT_FUNCTION = "clock_timestamp()"
# Foreign keys copied into event tables are plain columns: no constraint (history outlives the
# rows it mentions) and no index (each one would cost every write; audit/models.py indexes
# what the admin reads).
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
# Events older than this are deleted by `manage.py prune_audit` (audit/retention.py).
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
# Requests under these paths get no audit context (audit/middleware.py): they never write a
# tracked table. The database dashboard's cancel/terminate actions write only Django's admin
# LogEntry (not tracked), and its EXPLAIN runs the statement staff typed, which gets nothing
# added in front.
AUDIT_UNTRACKED_PATHS = ("/admin/dbhealth/", "/healthz", "/static/")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # Beat's "Sending due task" and the worker's received/succeeded lines of the periodic
    # jobs, which would fill the log every 30 s; errors and other tasks' lines stay.
    "filters": {"periodic_chatter": {"()": "config.logging.PeriodicChatterFilter"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Never DEBUG: statement logging prints parameters (password hashes, API tokens).
        "django.db.backends": {"level": "INFO"},
        "django.utils.autoreload": {"level": "WARNING"},  # runserver prints its own lines
        "celery.beat": {"filters": ["periodic_chatter"]},
        "celery.worker.strategy": {"filters": ["periodic_chatter"]},
        "celery.app.trace": {"filters": ["periodic_chatter"]},
    },
}
