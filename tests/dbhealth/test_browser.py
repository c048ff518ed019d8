"""Every dashboard page in a real headless Chromium: it renders, the browser reports no
console error (a missing stylesheet or a script error counts), and a screenshot of each page
is written to artifacts/dbhealth/ (git-ignored) for a person to look at.

Chromium is Debian's package (`apt-get install -y chromium`; `make test` installs it), driven by
Playwright, whose own browser download is never used. Without it this test fails: it is not
skipped.
"""

import contextlib
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from dbhealth.models import QuerySample
from dbhealth.panels import PANELS
from dbhealth.snapshots import snapshot_take
from shop.factories import OrderFactory, ProductFactory, UserFactory
from tests.dbhealth.conftest import preloaded

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "dbhealth"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PAGES = {
    "overview": "/admin/dbhealth/",
    "queries": "/admin/dbhealth/queries/",
    "activity": "/admin/dbhealth/activity/",
    "space": "/admin/dbhealth/space/",
    "indexes": "/admin/dbhealth/indexes/",
    "maintenance": "/admin/dbhealth/maintenance/",
    "replication": "/admin/dbhealth/replication/",
    "pooler": "/admin/dbhealth/pooler/",
    "settings": "/admin/dbhealth/settings/",
    "history": "/admin/dbhealth/history/",
    "origins": "/admin/dbhealth/origins/",
    "explain": "/admin/dbhealth/explain/",
    "application": "/admin/dbhealth/application/",
}


@contextlib.contextmanager
def launched_chromium():
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; "
            "`make test` does it as root) to run the dashboard's browser test"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.django_db(transaction=True)
def test_every_page_renders_in_chromium_without_console_errors(live_server, client):
    # Given a little data and a logged-in superuser (who sees every control)
    with transaction.atomic():  # the order total is checked at COMMIT
        OrderFactory(lines=[(ProductFactory(), 2)])
    # Two snapshots, so that the history charts have lines to draw
    snapshot_take()
    charted = QuerySample.objects.filter(snapshot=snapshot_take()).order_by("-calls").first()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with_statements = preloaded()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    errors: list[str] = []
    titles = {}

    # The browser starts only now: Django's ORM refuses to run under Playwright's event loop.
    with launched_chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        page.on(
            "console",
            lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, path in PAGES.items():
            response = page.goto(live_server.url + path)
            assert response.status == 200, (path, response.status)
            titles[name] = page.locator("#content h1").inner_text()
            page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        # Every tab on one row at 1,400 px, the admin's sidebar open
        tab_rows = page.goto(live_server.url + PAGES["overview"]) and page.eval_on_selector_all(
            ".dbh-tabs a", "tabs => new Set(tabs.map(tab => tab.offsetTop)).size"
        )
        tab_count = page.locator(".dbh-tabs a").count()
        charts = (
            page.goto(live_server.url + PAGES["history"])
            and page.locator("#chart-table-size svg").count()
        )

        # An origin's page (the dashboard's own requests are counted for their routes)
        page.goto(live_server.url + PAGES["origins"])
        page.locator("#origins a", has_text="route:").first.click()
        origin_title = page.locator("#content h2").first.inner_text()
        page.screenshot(path=ARTIFACTS / "origin.png", full_page=True)

        # EXPLAIN ANALYZE of a join, submitted through the form
        page.goto(live_server.url + PAGES["explain"])
        page.fill(
            "textarea[name=sql]",
            "SELECT p.name, sum(i.quantity) FROM shop_product p "
            "JOIN shop_orderitem i ON i.product_id = p.id GROUP BY p.name ORDER BY 2 DESC",
        )
        page.check("input[name=analyze]")
        page.click("#explain-form input[type=submit]")
        plan_root = page.locator("#plan .node .type").first.inner_text()
        page.screenshot(path=ARTIFACTS / "explain-plan.png", full_page=True)

        # A statement's detail page, from the queries page's first link (on a server that
        # does not preload pg_stat_statements, the queries page shows how to enable it)
        page.goto(live_server.url + PAGES["queries"])
        if with_statements:
            page.locator("#statements a", has_text="details").first.click()
            detail_title = page.locator("#content h2").first.inner_text()
            page.goto(f"{live_server.url}{PAGES['queries']}{charted.queryid}/?range=7d")
            detail_chart = page.locator("#chart-query-calls svg").count()
            page.screenshot(path=ARTIFACTS / "query-detail.png", full_page=True)
        else:
            detail_title = page.locator("#enable-steps li").first.inner_text()
            detail_chart = 1  # no statement page to draw on
        context.close()

    assert errors == []
    assert titles == {
        "overview": "Database health",
        **{f"{name}": f"Database health: {m.TITLE}" for name, m in PANELS if name != "overview"},
    }
    assert charts == 1  # the table-size chart is drawn
    assert (tab_count, tab_rows) == (13, 1)
    assert origin_title.startswith("Statements of route:")
    assert detail_chart == 1  # a statement of both snapshots: its chart is drawn
    assert plan_root == "Sort"  # ORDER BY 2 DESC over the aggregate: the top node
    assert detail_title.startswith("Statement " if with_statements else "Preload the library")
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == sorted(
        [f"{name}.png" for name in PAGES]
        + ["explain-plan.png", "origin.png"]
        + (["query-detail.png"] if with_statements else [])
    )
