"""Thresholds of the dashboard's checks: PgHero-like defaults, overridden by settings.DBHEALTH.

    DBHEALTH = {"SLOW_QUERY_MS": 50, "SERVER_MEMORY": 16 * 1024**3}

Every check is green (ok), yellow (warning) or red (critical). A ratio threshold is a
fraction (0.99, not 99).
"""

from django.conf import settings

DEFAULTS = {
    # Overview: the share of block reads served from shared buffers; PgHero's 99%.
    "CACHE_HIT_RATIO_WARNING": 0.99,
    "CACHE_HIT_RATIO_CRITICAL": 0.95,
    # Overview: connections in use against max_connections.
    "CONNECTIONS_WARNING": 0.70,
    "CONNECTIONS_CRITICAL": 0.90,
    # Queries: a statement is slow when its mean time and its number of calls both reach these
    # (PgHero's slow_query_ms and slow_query_calls).
    "SLOW_QUERY_MS": 20.0,
    "SLOW_QUERY_CALLS": 100,
    "TOP_QUERIES": 50,  # rows on the queries page
    # Activity: a statement running this long is long-running (PgHero: 60 s); a session idle
    # inside an open transaction this long holds locks and snapshots for nothing.
    "LONG_RUNNING_SEC": 60.0,
    "IDLE_IN_TRANSACTION_SEC": 60.0,
    # Space: tables listed on the space page, largest first.
    "SPACE_ROWS": 50,
    # Indexes: an index never scanned is unused once it is at least this big (smaller ones cost
    # little to keep and are often just new).
    "UNUSED_INDEX_MIN_BYTES": 1024 * 1024,
    # Indexes: a table is read by sequential scans too often when it has at least this many
    # rows and fewer than this share of its scans use an index (PgHero: 10,000 rows, 95%).
    "SEQ_SCAN_MIN_ROWS": 10_000,
    "SEQ_SCAN_INDEX_SHARE": 0.95,
    # Maintenance: dead rows against live + dead rows, for tables with at least MIN dead rows.
    "DEAD_TUPLES_MIN": 1_000,
    "DEAD_TUPLES_WARNING": 0.10,
    "DEAD_TUPLES_CRITICAL": 0.20,
    # Maintenance: estimated wasted space against the relation's size, for relations of at
    # least MIN bytes.
    "BLOAT_MIN_BYTES": 10 * 1024 * 1024,
    "BLOAT_WARNING": 0.30,
    "BLOAT_CRITICAL": 0.50,
    # Maintenance: transaction-id age (wraparound stops writes at 2^31 = 2,147,483,648).
    "XID_AGE_WARNING": 500_000_000,
    "XID_AGE_CRITICAL": 1_500_000_000,
    # Maintenance: a sequence's last value against its maximum (PgHero: 90%).
    "SEQUENCE_WARNING": 0.75,
    "SEQUENCE_CRITICAL": 0.90,
    # Maintenance: days until the last partition of a table partitioned by time ends (past it,
    # inserts fail). The audit tables keep two months made ahead: two weeks left is a beat task
    # that has not run for six.
    "PARTITION_RUNWAY_DAYS_CRITICAL": 14,
    # Replication: replay lag of a replica, in seconds; WAL kept by an inactive slot, in bytes.
    "REPLICATION_LAG_WARNING_SEC": 10.0,
    "REPLICATION_LAG_CRITICAL_SEC": 60.0,
    "INACTIVE_SLOT_CRITICAL_BYTES": 1024**3,
    # Settings: the database server's memory in bytes, for the recommendations. None: this
    # machine's memory when the database is on loopback, otherwise no recommendation.
    "SERVER_MEMORY": None,
    # Application: messages waiting in a Celery queue (no worker keeps up past these), and how
    # long the page waits for the workers to answer a ping (each answers in milliseconds; the
    # page always waits this long, since it cannot know how many there are).
    "CELERY_QUEUE_WARNING": 100,
    "CELERY_QUEUE_CRITICAL": 1_000,
    "CELERY_PING_TIMEOUT_SEC": 0.5,
    # EXPLAIN: the statement (and any lock it waits for) is cancelled after this long; a plan
    # node whose own cost (or time, with ANALYZE) is at least this share of the whole is costly.
    "EXPLAIN_TIMEOUT_MS": 5_000,
    "EXPLAIN_COSTLY_SHARE": 0.30,
    # History: snapshots (and their samples) older than this are deleted by the snapshot task;
    # 8 days keep the 7-day charts full.
    "HISTORY_RETENTION_DAYS": 8,
    # Alerts: a statement regressed when its mean time since the previous snapshot is at least
    # FACTOR times its mean over the BASELINE_HOURS before, and at least MIN_MS, with at least
    # MIN_CALLS calls in both (a handful of calls is noise).
    "REGRESSION_FACTOR": 3.0,
    "REGRESSION_MIN_MS": 10.0,
    "REGRESSION_MIN_CALLS": 10,
    "REGRESSION_BASELINE_HOURS": 24,
}


def config() -> dict:
    """The defaults with settings.DBHEALTH on top (its keys are checked once, at start-up, by
    dbhealth/checks.py)."""
    return {**DEFAULTS, **getattr(settings, "DBHEALTH", {})}
