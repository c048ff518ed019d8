"""gunicorn settings file for a bench server whose workers run the idiomatic code in place of
one fast path (BENCH_IDIOM names it; bench/idioms.py holds the replacements)."""

import os


def post_worker_init(worker) -> None:
    """After the worker loaded the app (Django is set up): swap the fast path for the idiom."""
    from bench import idioms  # only importable once Django is set up

    idioms.apply(os.environ["BENCH_IDIOM"])
