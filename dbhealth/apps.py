from django.apps import AppConfig


class DbhealthConfig(AppConfig):
    """PostgreSQL health dashboard for staff, inside the admin."""

    name = "dbhealth"
    verbose_name = "Database health"

    def ready(self):
        from celery.signals import task_postrun, task_prerun
        from django.core import checks
        from django.db.backends.signals import connection_created

        from dbhealth import origins
        from dbhealth.checks import dbhealth_settings_check

        # Every statement of every connection carries its origin (dbhealth/origins.py).
        connection_created.connect(origins.install, dispatch_uid="dbhealth-origins")
        task_prerun.connect(origins.task_started, dispatch_uid="dbhealth-origins-start")
        task_postrun.connect(origins.task_finished, dispatch_uid="dbhealth-origins-end")
        # A wrong DBHEALTH setting is reported at start-up, not on every page (checks.py).
        checks.register(dbhealth_settings_check)
