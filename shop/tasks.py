"""Celery tasks of the shop. Each takes plain values, is idempotent, retries a bounded number
of times, and is enqueued after COMMIT (config/celery.py)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shop import cache, selectors, services
from shop.api import representations
from shop.cache import Family


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def product_cache_warm(limit: int | None = None, days: int = 7) -> list[int]:
    """Refresh the cached detail of the top-`limit` products by units sold in the last
    `days` days (beat: every few minutes), so the hottest pages are never a miss.

    Idempotent: it only ever overwrites those keys with what PostgreSQL says now, and never
    over an invalidation that ran after it read PostgreSQL (cache.refresh).
    """
    ids = selectors.popular_product_ids(days=days, limit=limit or settings.CACHE_WARM_TOP_N)
    for product_id in ids:
        cache.refresh(
            Family.PRODUCT,
            cache.product_key(product_id),
            lambda product_id=product_id: representations.build_product_detail(product_id),
        )
    return ids


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def idempotency_keys_prune(hours: int | None = None) -> int:
    """Delete Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS (beat: hourly), in small
    batches. Idempotent: a second delivery finds nothing older than the cutoff left."""
    hours = settings.IDEMPOTENCY_KEY_TTL_HOURS if hours is None else hours
    return services.idempotency_keys_prune(cutoff=timezone.now() - timedelta(hours=hours))
