"""The dashboard's permission (an unmanaged model), statistics history and alerts.

Its content type is what the admin log (LogEntry) records cancel/terminate actions against,
and "dbhealth.view_dashboard" is what a staff member needs to see the dashboard at all.
"""

from django.db import models


class Dashboard(models.Model):
    class Meta:
        managed = False  # no table: permissions only
        default_permissions = ()
        permissions = [
            ("view_dashboard", "Can view the database health dashboard"),
        ]
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"

    def __str__(self):
        return "Database health dashboard"


class Snapshot(models.Model):
    """One capture of the cumulative statistics (beat: every few minutes; dbhealth/snapshots.py).

    The counters of pg_stat_statements, pg_stat_user_tables and pg_stat_user_indexes only grow
    until a reset, so each sample stores the counter and its delta since the previous snapshot;
    charts add deltas, which survive resets and evictions.
    """

    # A btree (not BRIN): the table gains ~290 rows a day and is read by "the latest one" and
    # by time ranges; at this size BRIN saves nothing and cannot serve ORDER BY ... LIMIT 1.
    captured_at = models.DateTimeField(db_default=models.functions.Now(), db_index=True)
    # pg_stat_statements_info: when its statistics were last reset, and how many entries it
    # has evicted (deallocated) so far; a change between two snapshots explains odd deltas.
    statements_reset_at = models.DateTimeField(null=True)
    statements_evicted = models.BigIntegerField(null=True)
    # Did the statement counters start again since the previous snapshot (a reset)?
    statements_reset = models.BooleanField(default=False)
    database_bytes = models.BigIntegerField()
    # The overview's small charts, from pg_stat_database and pg_statio_user_tables (null in the
    # snapshots taken before they were recorded): committed and rolled-back transactions, the
    # client connections of the server, and the table and index blocks found in / read into
    # shared buffers; rates and the hit ratio are deltas between two snapshots.
    transactions = models.BigIntegerField(null=True)
    connections = models.IntegerField(null=True)
    blocks_hit = models.BigIntegerField(null=True)
    blocks_read = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["-captured_at"]

    def __str__(self):
        return f"snapshot {self.pk} at {self.captured_at:%Y-%m-%d %H:%M:%S}"


class QuerySample(models.Model):
    """One statement (pg_stat_statements query id, all roles added up) in one snapshot."""

    # Indexed by the unique constraint below, which leads with it.
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.CASCADE, related_name="queries", db_index=False
    )
    queryid = models.BigIntegerField()
    calls = models.BigIntegerField()
    total_exec_time = models.FloatField()  # ms
    rows = models.BigIntegerField()
    shared_blks_hit = models.BigIntegerField()
    shared_blks_read = models.BigIntegerField()
    # Since the previous snapshot: the counter's growth, or the counter itself when it went
    # down or was absent then (reset or eviction: it started again from 0 since).
    calls_delta = models.BigIntegerField()
    exec_time_delta = models.FloatField()  # ms
    rows_delta = models.BigIntegerField()

    class Meta:
        constraints = [
            # One row per statement per snapshot; also the index of the snapshot FK.
            models.UniqueConstraint(fields=["snapshot", "queryid"], name="dbhealth_qs_snap_qid"),
        ]
        indexes = [
            # One statement's history (its charts, the regression alert), oldest first.
            models.Index(fields=["queryid", "snapshot"], name="dbhealth_qs_qid_snap"),
        ]

    def __str__(self):
        return f"statement {self.queryid} in snapshot {self.snapshot_id}"


class TableSample(models.Model):
    """One table (pg_stat_user_tables) in one snapshot."""

    # Indexed by the unique constraint below, which leads with it.
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.CASCADE, related_name="tables", db_index=False
    )
    table = models.TextField()  # schema.name
    total_bytes = models.BigIntegerField()  # with indexes and TOAST
    live_rows = models.BigIntegerField()
    dead_rows = models.BigIntegerField()
    seq_scan = models.BigIntegerField()
    idx_scan = models.BigIntegerField()
    seq_scan_delta = models.BigIntegerField()
    idx_scan_delta = models.BigIntegerField()

    class Meta:
        constraints = [
            # One row per table per snapshot; also the index of the snapshot FK.
            models.UniqueConstraint(fields=["snapshot", "table"], name="dbhealth_ts_snap_table"),
        ]

    def __str__(self):
        return f"{self.table} in snapshot {self.snapshot_id}"


class IndexSample(models.Model):
    """One index (pg_stat_user_indexes) in one snapshot: is it used, and how much."""

    # Indexed by the unique constraint below, which leads with it.
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.CASCADE, related_name="indexes", db_index=False
    )
    index = models.TextField()  # schema.name
    table = models.TextField()
    bytes = models.BigIntegerField()
    idx_scan = models.BigIntegerField()
    idx_scan_delta = models.BigIntegerField()

    class Meta:
        constraints = [
            # One row per index per snapshot; also the index of the snapshot FK.
            models.UniqueConstraint(fields=["snapshot", "index"], name="dbhealth_is_snap_index"),
        ]

    def __str__(self):
        return f"{self.index} in snapshot {self.snapshot_id}"


class Alert(models.Model):
    """One incident of one rule about one subject: opened on the first breach, seen again on
    every evaluation that still breaches, resolved by the first that does not."""

    rule = models.CharField(max_length=50)
    subject = models.CharField(max_length=300)  # what breaches: a table, a session, "server"
    message = models.TextField()  # the latest finding
    value = models.FloatField(null=True)  # the latest measured figure
    first_seen = models.DateTimeField(db_default=models.functions.Now())
    last_seen = models.DateTimeField(db_default=models.functions.Now())
    resolved_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            # At most one open incident per rule and subject, even when two evaluations run at
            # once: the second one's INSERT ... ON CONFLICT updates the first one's row.
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="dbhealth_alert_one_open",
            ),
            models.CheckConstraint(  # an incident cannot end before it began
                condition=models.Q(resolved_at__isnull=True)
                | models.Q(resolved_at__gte=models.F("first_seen")),
                name="dbhealth_alert_resolved_after_first_seen",
            ),
        ]
        indexes = [
            # The admin and overview list incidents newest first.
            models.Index(fields=["-first_seen"], name="dbhealth_alert_first_seen"),
        ]

    def __str__(self):
        return f"{self.rule}: {self.subject}"
