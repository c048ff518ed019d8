"""Celery tasks of the audit app (their audit context: audit.context.AuditedTask)."""

from celery import shared_task

from audit.partitions import partitions_ensure
from audit.retention import audit_prune, retention_cutoff


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,  # 1 s, 2 s, 4 s ...
    max_retries=3,
)
def audit_prune_task(days: int | None = None) -> int:
    """Drop the months and delete the events older than the retention period (beat: daily);
    the number of events deleted one by one. Idempotent: a second delivery finds nothing older
    than the cutoff left."""
    result = audit_prune(cutoff=retention_cutoff(days=days))
    return sum(result.deleted.values())


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,  # a lock_timeout gives up; the retry comes a moment later
    max_retries=3,
)
def audit_partitions_task() -> list[str]:
    """Make the event tables' next months ahead (beat: daily). Idempotent: a month that exists
    is left as it is."""
    return partitions_ensure()
