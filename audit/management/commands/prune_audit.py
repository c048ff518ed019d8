"""manage.py prune_audit: drop the months of audit events older than AUDIT_RETENTION_DAYS (and
delete the older events of the legacy partition in batches)."""

from django.core.management.base import BaseCommand, CommandError

from audit.retention import DEFAULT_BATCH_SIZE, audit_prune, retention_cutoff


class Command(BaseCommand):
    help = "Delete audit events older than the retention period, a batch per transaction."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days of history (default: settings.AUDIT_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Events deleted per transaction (default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, days, batch_size, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = audit_prune(cutoff=retention_cutoff(days=days), batch_size=batch_size)
        total = sum(result.deleted.values())
        self.stdout.write(
            f"Deleted {total} audit events written before {result.cutoff.isoformat()} "
            f"in {result.batches} batches."
        )
        for table, count in result.deleted.items():
            if count:
                self.stdout.write(f"  {table}: {count}")
        for table, names in result.dropped.items():
            for name in names:
                self.stdout.write(f"  {table}: dropped the partition {name}")
