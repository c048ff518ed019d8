"""Fast paths: the few places where the shop does not write the idiomatic Django/DRF code,
because `make bench` showed the idiom costs too much, or cannot keep a guarantee.

One module per fast path. Each docstring says what idiomatic code it replaces, why, and where
its measured gain is (`ONLY=fastpaths make bench` prints one RATIO line per fast path,
against the idiom swapped in by bench/idioms.py; docs/performance.md, "Fast paths", has the
figures). Anything not here is written the idiomatic way; a new fast path comes with its
bench pair, or is not added.

    serializer_reuse   one serializer instance per class for validation and output
    token_lookup       the API token and its user by one prebuilt SQL statement
    throttle_window    the rate limits' sliding window as one atomic Redis script
    cache_breaker      skip Redis for a few seconds after an error (a stall costs once)
"""
