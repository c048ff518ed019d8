from django.apps import AppConfig


class DbhealthConfig(AppConfig):
    """PostgreSQL health dashboard for staff, inside the admin."""

    name = "dbhealth"
    verbose_name = "Database health"
