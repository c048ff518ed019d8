"""A stream of tasks enqueued from transaction.on_commit, as the services enqueue them; run
by tests/brokers/test_publish_failover.py in a process of its own, with the broker its
environment names (CELERY_BROKER_URL, or REDIS_SENTINELS).

    python -m tests.brokers.publisher COUNT PAUSE [--celery-default-retry]

Each transaction enqueues shop.tasks.product_cache_warm(limit=i) on commit; one line per
enqueue on stdout: "ok i" or "lost i <error>". --celery-default-retry publishes with
Celery's own retry policy (3 retries, 0.4 s of waiting) instead of the settings', to
measure what the settings' policy changes.
"""

import os
import sys
import time

import django

CELERY_DEFAULT_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2,
                        "interval_max": 0.2}  # fmt: skip


def main(count: int, pause: float, policy: dict | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.db import transaction

    from shop.tasks import product_cache_warm

    options = {"retry_policy": policy} if policy else {}
    for i in range(count):
        try:
            with transaction.atomic():
                transaction.on_commit(
                    lambda i=i: product_cache_warm.apply_async(kwargs={"limit": i}, **options)
                )
        except Exception as error:  # noqa: BLE001 (what a lost enqueue raises is the finding)
            print(f"lost {i} {type(error).__name__}", flush=True)
        else:
            print(f"ok {i}", flush=True)
        time.sleep(pause)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]),
        float(args[1]),
        CELERY_DEFAULT_RETRY if "--celery-default-retry" in args else None,
    )
