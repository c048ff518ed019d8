from django.apps import AppConfig


class DbhealthConfig(AppConfig):
    """PostgreSQL health dashboard for staff, inside the admin."""

    name = "dbhealth"
    verbose_name = "Database health"

    def ready(self):
        from celery.signals import task_postrun, task_prerun
        from django.core import checks

        from core import db, groups
        from dbhealth import origins
        from dbhealth.checks import dbhealth_settings_check

        # Every statement of every connection carries its origin (dbhealth/origins.py).
        db.register(origins.StatementOrigin())
        task_prerun.connect(origins.task_started, dispatch_uid="dbhealth-origins-start")
        task_postrun.connect(origins.task_finished, dispatch_uid="dbhealth-origins-end")
        # A wrong DBHEALTH setting is reported at start-up, not on every page (checks.py).
        checks.register(dbhealth_settings_check)
        # The staff group that sees the dashboard (core/groups.py), made after every migrate.
        groups.register(self, "database health", ["dbhealth.view_dashboard"])
