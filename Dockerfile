# syntax=docker/dockerfile:1
# The application image: web (gunicorn), worker and beat (Celery) in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    DJANGO_SETTINGS_MODULE=config.settings.prod

WORKDIR /app

# The pinned, hash-checked dependencies first, so a code change does not reinstall them.
# requirements-prod.lock is complete (`make lock`): the app without dev tools, hence --no-deps.
COPY requirements-prod.lock ./
RUN pip install --require-hashes --no-deps -r requirements-prod.lock

COPY . .

# The admin's static files, into STATIC_ROOT (.data/static). config.settings.prod needs its
# variables to import; these placeholders serve this one command, which connects to nothing.
RUN SECRET_KEY=collectstatic-build-placeholder-never-used-at-runtime-0123456789abcdef \
    ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://collectstatic@127.0.0.1:1/none \
    REDIS_URL=redis://127.0.0.1:1/0 \
    python manage.py collectstatic --no-input --verbosity 0

# The code stays root-owned and read-only to the app; .data (beat's schedule and pid file)
# is the one place it writes.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home app \
    && chown app:app /app/.data
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
