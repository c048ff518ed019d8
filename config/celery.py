"""The Celery app: tasks discovered in each app's tasks.py. The broker is RabbitMQ in
production (docker-compose.yml) and Redis in `make run` and the suite (CELERY_BROKER_URL,
config/settings/base.py); publishing retries through a broker failover (docs/scaling.md).

Every task's base is audit.context.AuditedTask: each run is an audit context naming the task.
Conventions every task here follows (see shop/tasks.py and audit/tasks.py): it takes ids, not
objects; it is idempotent, because acks_late means a task whose worker died is delivered
again (at once by RabbitMQ when a worker's connection drops); it retries a bounded number
of times with backoff; and it is enqueued only from
transaction.on_commit, so a worker never looks for a row that is not committed yet.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("pgshop", task_cls="audit.context:AuditedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
