"""Celery tasks of the shop. Each takes plain values, is idempotent, retries a bounded number
of times, and is enqueued after COMMIT (config/celery.py)."""

from celery import shared_task
from django.conf import settings

from shop import cache, selectors
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
