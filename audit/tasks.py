"""Celery tasks of the audit app."""

from celery import shared_task

from audit.context import task_context
from audit.retention import audit_prune, retention_cutoff


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=True,  # 1 s, 2 s, 4 s ...
    max_retries=3,
)
def audit_prune_task(self, days: int | None = None) -> int:
    """Delete events older than the retention period (beat: daily). Idempotent: a second
    delivery finds nothing older than the cutoff left to delete."""
    with task_context(name=self.name, task_id=self.request.id or "eager"):
        result = audit_prune(cutoff=retention_cutoff(days=days))
    return sum(result.deleted.values())
