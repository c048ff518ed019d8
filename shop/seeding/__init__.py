"""Demo data: users with profiles, a category tree, products and orders with their items.

One package, one vocabulary (vocabulary.py: names, sizes, lines per order, history length,
the status mix), two ways to write it:

    small.py   the factories and bulk_create, every trigger on: for a live database;
    bulk.py    generated inside PostgreSQL in one transaction with the loaded tables' keys,
               indexes and triggers off: a million orders in well under a minute, for a
               database nobody uses yet (its owner only; no audit history but one marker).

load.py's load() picks the path (--fast, or FAST_THRESHOLD orders and more), refuses a load
that would duplicate what is there before writing anything, and retires every cache entry
afterwards: the rows were written past the services, which would otherwise have invalidated
them. manage.py seed is its command line. This file imports nothing, as the factories read
the vocabulary and both paths read the factories.
"""
