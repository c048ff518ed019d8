"""Settings shared by every environment. Everything that differs comes from the environment."""

from pathlib import Path

import environ

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
    "pghistory",
    "pghistory.admin",
    "shop",
    "audit",
    "dbhealth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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

DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"].update(
    {
        # The pool keeps connections itself; Django's own persistence must then stay off.
        "CONN_MAX_AGE": 0 if DB_POOL else 60,
        # With the pool: psycopg_pool checks each connection as it is handed out (a dead one,
        # after a server restart, is replaced instead of failing the request). Without it:
        # a persistent connection is pinged before reuse.
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "pool": DB_POOL_OPTIONS if DB_POOL else False,
            # django-pghistory prepends set_config() to statements: keep client-side binding.
            "server_side_binding": False,
            # Names each process in pg_stat_activity and the server log (web, worker, beat).
            "application_name": env("DB_APPLICATION_NAME", default="pgshop-web"),
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=5),
        },
    }
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "shop.User"

# --------------------------------------------------------------------------- Redis
# One Redis URL for the cache and (db + 1) the Celery broker.
REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="pgshop"),
        "OPTIONS": {
            # A slow or absent Redis must cost milliseconds, not a hung request.
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            "CONNECTION_POOL_KWARGS": {"max_connections": 50, "health_check_interval": 30},
        },
    }
}

# --------------------------------------------------------------------------- dbhealth
# Thresholds of the database health dashboard (/admin/dbhealth/); every key, its default and
# its meaning are in dbhealth/conf.py. Override only what differs, e.g. {"SLOW_QUERY_MS": 50}.
DBHEALTH: dict = {}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.utils.autoreload": {"level": "WARNING"},  # runserver prints its own lines
    },
}
