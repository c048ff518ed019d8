"""No tables: one unmanaged model that carries the dashboard's permissions.

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
