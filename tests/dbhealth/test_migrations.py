"""dbhealth's migrations: the permission exists, and pg_stat_statements is created only where
the server has it and the role may create it."""

import importlib
import types

import pytest
from django.contrib.auth.models import Permission

pytestmark = pytest.mark.django_db

extension = importlib.import_module("dbhealth.migrations.0002_pg_stat_statements")


def installed(conn) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    return row.fetchone()[0] == 1


def test_the_permission_exists():
    permission = Permission.objects.get(codename="view_dashboard")

    assert permission.content_type.app_label == "dbhealth"
    assert permission.name == "Can view the database health dashboard"


def test_a_superuser_creates_the_extension(connect, empty_database):
    with connect(dbname=empty_database) as conn:
        extension.create_extension(None, types.SimpleNamespace(connection=conn))

        assert installed(conn)


def test_a_role_that_may_not_create_it_skips_it_without_error(
    connect, empty_database, monitor_role
):
    with connect(dbname=empty_database, **monitor_role) as conn:
        extension.create_extension(None, types.SimpleNamespace(connection=conn))

        assert not installed(conn)
