# The two commands: `make run` and `make test`. Everything else is a helper.
# Needs only Python 3.11+ and make: the venv, the pinned dependencies, PostgreSQL and Redis
# are all set up from here (see scripts/stack.py).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) scripts/stack.py
STAMP := $(VENV)/.installed

.PHONY: run cluster test lint format install lock up down status reset manage shell psql docs backup restore bench-audit bench bench-smoke query-plans pooler-connections sentinel sentinel-down broker-failover clean

run: $(STAMP)
	$(STACK) run

# `make run` on a failover cluster (scripts/cluster.py): Patroni + etcd on three embedded
# PostgreSQL 18 nodes, HAProxy, PgBouncer; the app connects through PgBouncer.
# `make down CLUSTER=1` stops it.
cluster: $(STAMP)
	CLUSTER=1 $(STACK) run

test: $(STAMP)
	$(STACK) test $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	DATABASE_URL=$${DATABASE_URL:-postgres://lint@127.0.0.1:1/lint} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:1/0} \
	DB_POOL=false $(PY) -W ignore manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

install: $(STAMP)

# Pinned, hash-checked installs from requirements.lock (regenerate with `make lock`).
$(STAMP): requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	touch $(STAMP)

lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--no-header --quiet -o requirements.lock
	# Production (the Docker image): the same pins, without the dev tools.
	$(VENV)/bin/uv pip compile pyproject.toml --constraint requirements.lock --generate-hashes \
		--python-version 3.11 --no-header --quiet -o requirements-prod.lock

up: $(STAMP)
	$(STACK) up

down: $(STAMP)
	$(STACK) down

status: $(STAMP)
	$(STACK) status

# Stop the servers and delete the embedded database (and Redis's data): the next `make run`
# starts empty. Asks first; `make reset RESET=yes` does not. Nothing outside PGSHOP_DATA.
reset: $(STAMP)
	RESET=$(RESET) $(STACK) reset

# make manage ARGS="createsuperuser"
manage: $(STAMP)
	$(STACK) exec -- $(PY) manage.py $(ARGS)

shell: $(STAMP)
	$(STACK) exec -- $(PY) manage.py shell

psql: $(STAMP)
	$(STACK) exec -- $(PY) manage.py dbshell

# make backup                                  -> backups/shop-<UTC time>/
# make restore BACKUP=backups/shop-... TARGET=shop_restored
backup: $(STAMP)
	$(STACK) exec -- $(PY) scripts/backup.py backup --out backups

restore: $(STAMP)
	@test -n "$(BACKUP)" -a -n "$(TARGET)" || { echo "usage: make restore BACKUP=dir TARGET=new_db"; exit 2; }
	$(STACK) exec -- $(PY) scripts/backup.py restore "$(BACKUP)" --target "$(TARGET)"

# docs/erd.md, docs/schema.md and docs/schema.sql from the migrated database (schemadocs/),
# with the login roles applied as in production (the retention function db_roles makes).
docs: $(STAMP)
	$(STACK) exec -- sh -c 'DB_APP_ROLE=pgshop_app DB_STAFF_ROLE=pgshop_staff $(PY) manage.py migrate --no-input && $(PY) manage.py gendocs'

# Order-creation throughput with audit history on vs off (bench/audit_history.py).
bench-audit: $(STAMP)
	$(STACK) exec -- $(PY) bench/audit_history.py

# Every pair of issue 8 side by side, printed as ratios (bench/run.py; docs/performance.md).
bench: $(STAMP)
	$(STACK) exec -- $(PY) bench/run.py

# The same harness at tiny sizes, for CI: it runs and prints its ratio lines; nothing is judged.
bench-smoke: $(STAMP)
	$(STACK) exec -- env BENCH_SMOKE=1 $(PY) bench/run.py

# The hot queries' SQL and EXPLAIN (ANALYZE, BUFFERS) as Markdown (docs/query-patterns.md).
query-plans: $(STAMP)
	$(STACK) exec -- $(PY) bench/query_plans.py

# N clients through PgBouncer (transaction mode) -> how many server connections they needed
# (scripts/pgbouncer.py; docs/connection-pooling.md). make pooler-connections ARGS="--clients 200"
pooler-connections: $(STAMP)
	PGBOUNCER=1 $(STACK) exec -- $(PY) scripts/pgbouncer.py connections $(ARGS)

# Redis with Sentinel (scripts/sentinel.py): a master, a replica, three sentinels on
# REDIS_PORT+1..+5. Prints the settings as exports: eval "$$(make -s sentinel)" && make run
sentinel: $(STAMP)
	@$(PY) scripts/sentinel.py up

sentinel-down: $(STAMP)
	$(PY) scripts/sentinel.py down

# Enqueues lost when the broker's master is killed, with the settings' publish retry and with
# Celery's default (bench/broker_failover.py; docs/scaling.md).
broker-failover: $(STAMP)
	$(STACK) exec -- $(PY) bench/broker_failover.py
	$(STACK) exec -- $(PY) bench/broker_failover.py --celery-default-retry

clean: down
	rm -rf $(VENV)
