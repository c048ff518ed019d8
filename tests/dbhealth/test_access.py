"""Who may see the dashboard: its own permission, not staff status alone; superusers alone
may cancel or terminate a backend. Every page answers with exactly the queries it needs."""

import pytest
from django.contrib.admin.models import LogEntry

from shop.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/dbhealth/",
    "/admin/dbhealth/queries/",
    "/admin/dbhealth/activity/",
    "/admin/dbhealth/space/",
    "/admin/dbhealth/indexes/",
    "/admin/dbhealth/maintenance/",
    "/admin/dbhealth/replication/",
    "/admin/dbhealth/settings/",
    "/admin/dbhealth/explain/",
    "/admin/dbhealth/application/",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_shoppers_are_sent_to_the_login_page(client, path):
    client.force_login(UserFactory(is_staff=False))

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_staff_without_the_permission_are_refused(client, path):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(path)

    assert response.status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_staff_with_the_permission_see_every_page(viewer_client, path):
    response = viewer_client.get(path)

    assert response.status_code == 200
    assert b'class="dbh-tabs"' in response.content


def test_explain_posts_are_refused_without_the_permission(client):
    client.force_login(UserFactory(is_staff=True))

    response = client.post("/admin/dbhealth/explain/", {"sql": "SELECT 1"})

    assert response.status_code == 403


def test_the_admin_index_links_to_the_dashboard_for_permitted_staff_only(client, viewer):
    client.force_login(UserFactory(is_staff=True))
    assert b"/admin/dbhealth/dashboard/" not in client.get("/admin/").content

    client.force_login(viewer)
    index = client.get("/admin/")
    entry = client.get("/admin/dbhealth/dashboard/")

    assert b'href="/admin/dbhealth/dashboard/"' in index.content
    assert b"Database health" in index.content
    assert entry.status_code == 302
    assert entry["Location"] == "/admin/dbhealth/"


def test_cancel_and_terminate_are_refused_to_staff_who_are_not_superusers(viewer_client):
    for action in ("cancel", "terminate"):
        assert viewer_client.get(f"/admin/dbhealth/activity/1/{action}/").status_code == 403
        assert viewer_client.post(f"/admin/dbhealth/activity/1/{action}/").status_code == 403
    assert LogEntry.objects.count() == 0


def test_an_unknown_action_is_not_found(superuser_client):
    assert superuser_client.post("/admin/dbhealth/activity/1/kill/").status_code == 404


def test_the_cancel_confirmation_of_a_gone_backend_goes_back_to_activity(superuser_client):
    response = superuser_client.post("/admin/dbhealth/activity/2147483647/cancel/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/dbhealth/activity/"
    assert LogEntry.objects.count() == 0


# Queries on Django's connection: session, user, and the permission (user's, then groups'),
# 4 in all; a page reading PostgreSQL adds its transaction (SAVEPOINT, SET TRANSACTION READ
# ONLY, the timeouts, pg_stat_clear_snapshot(), ROLLBACK TO SAVEPOINT, RELEASE: 6 here, where
# the test's transaction makes it a savepoint) and then one query per panel statement.
BUDGETS = {
    "/admin/dbhealth/space/": 4 + 6 + 3 + 1,  # + the snapshots of its growth charts (none here)
    "/admin/dbhealth/maintenance/": 4 + 6 + 7,
    # role, replicas, slots, and the primary's position and each replica's lag behind it
    # (each replica answers on a connection of its own, not this one)
    "/admin/dbhealth/replication/": 4 + 6 + 4,
    "/admin/dbhealth/settings/": 4 + 6 + 1,
    "/admin/dbhealth/explain/": 4,
    "/admin/dbhealth/application/": 4 + 1,  # + the newest snapshot: Celery beat's last run
}


@pytest.mark.parametrize(("path", "queries"), BUDGETS.items())
def test_page_query_budget(viewer_client, django_assert_num_queries, path, queries):
    with django_assert_num_queries(queries):
        assert viewer_client.get(path).status_code == 200
