"""Celery tasks of the audit app (their audit context: audit.context.AuditedTask)."""

from celery import shared_task

from audit.retention import audit_prune, retention_cutoff


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,  # 1 s, 2 s, 4 s ...
    max_retries=3,
)
def audit_prune_task(days: int | None = None) -> int:
    """Delete events older than the retention period (beat: daily). Idempotent: a second
    delivery finds nothing older than the cutoff left to delete."""
    result = audit_prune(cutoff=retention_cutoff(days=days))
    return sum(result.deleted.values())
