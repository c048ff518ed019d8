"""The staff's admin pages in a real headless Chromium (the dashboard's browser test's set-up,
tests/dbhealth/test_browser.py): each renders, the browser reports no console error, no page
error, no failed request and no response of 400 or more (a missing favicon counted), and the
workflow button and the deactivate-instead form work as a person clicks them. Screenshots of
the admin home, an order, its History, the audit log and the dashboard's overview are written
to artifacts/admin/ (git-ignored) for a person to look at.
"""

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from shop.factories import CategoryFactory, OrderFactory, ProductFactory, UserFactory
from shop.models import Order, Product
from tests.dbhealth.test_browser import launched_chromium

ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "admin"


def watch(page, problems: list[str]) -> None:
    """Every console error, page error, failed request and 4xx/5xx response goes to problems."""
    page.on(
        "console",
        lambda m: problems.append(f"console: {m.text} {m.location}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: problems.append(f"status {r.status}: {r.url}") if r.status >= 400 else None,
    )


@pytest.mark.django_db(transaction=True)
def test_staff_pages_render_in_chromium_without_errors(live_server, client):
    # Given a small shop: a category tree, an ordered product, orders in two statuses
    books = CategoryFactory(name="Books", slug="books")
    fiction = CategoryFactory(name="Fiction", slug="books-fiction", parent=books)
    desk = ProductFactory(name="Walnut desk", price=Decimal("12.00"), category=fiction)
    ProductFactory(name="Last lamp", stock_quantity=1, category=fiction)
    with transaction.atomic():  # the order total is checked at COMMIT
        order = OrderFactory(status="pending", lines=[(desk, 3)])
        OrderFactory(status="processing", lines=[(desk, 1)])
    boss = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(boss)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    other = Client()
    other.force_login(UserFactory(username="temp", is_staff=True))  # no permission at all
    no_permission = other.cookies[settings.SESSION_COOKIE_NAME].value
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    problems: list[str] = []
    pages = {
        "admin-home": "/admin/",
        "orders": "/admin/shop/order/",
        "order": f"/admin/shop/order/{order.pk}/change/",
        "history": f"/admin/shop/order/{order.pk}/history/",
        "categories": "/admin/shop/category/",
        "product-delete": f"/admin/shop/product/{desk.pk}/delete/",
        "audit-log": "/admin/audit/auditlog/",
        "dashboard-overview": "/admin/dbhealth/",
        "home": "/",
    }
    titles = {}

    # The browser starts only now: Django's ORM refuses to run under Playwright's event loop.
    with launched_chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        watch(page, problems)
        for name, path in pages.items():
            response = page.goto(live_server.url + path)
            # Every request of the page (its favicon too) answered before the next page: one
            # left loading would be aborted by the navigation and read as a failed request.
            page.wait_for_load_state("networkidle")
            assert response.status == 200, (path, response.status)
            titles[name] = page.title()
            page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        summary = (
            page.goto(live_server.url + "/admin/") and page.locator("#open-orders").inner_text()
        )
        tree = (
            page.goto(live_server.url + pages["categories"])
            and page.locator("#result_list .category-depth-1").all_inner_texts()
        )

        # The workflow button: the order moves on, the page says so
        page.goto(live_server.url + pages["order"])
        page.click("button.order-move-processing")
        moved = page.locator("ul.messagelist li").first.inner_text()
        buttons = page.locator("form.order-move button").all_inner_texts()
        page.screenshot(path=ARTIFACTS / "order-moved.png", full_page=True)

        # The ordered product's delete page: deactivate instead
        page.goto(live_server.url + pages["product-delete"])
        page.click("#deactivate-instead input[type=submit]")
        deactivated = page.locator("ul.messagelist li").first.inner_text()

        # A staff member without the permission gets the styled page (a 403, expected here)
        context.clear_cookies()
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": no_permission, "url": live_server.url}]
        )
        refused = page.goto(live_server.url + pages["orders"])
        page.wait_for_load_state("networkidle")  # its favicon too, before the context closes
        refused_heading = page.locator("#content-main h1").inner_text()
        page.screenshot(path=ARTIFACTS / "permission-needed.png", full_page=True)
        context.close()

    # The 403's own document is the one response of 400 or more that was asked for, and
    # Chromium's console says so; nothing else went wrong on any page
    refused_url = f"{live_server.url}{pages['orders']}"
    assert [p.split(" {")[0] for p in problems] == [
        f"status 403: {refused_url}",
        "console: Failed to load resource: the server responded with a status of 403 (Forbidden)",
    ]
    assert refused_url in problems[1]
    assert refused.status == 403
    assert refused_heading == "Permission needed"
    assert titles["admin-home"] == "Shop, history and database health | pgshop admin"
    assert titles["order"] == f"Order {order.pk} | Change order | pgshop admin"
    assert titles["history"] == f"History: Order {order.pk} | pgshop admin"
    assert summary == "2"
    assert tree == ["└ Fiction"]
    assert moved == "1 order is now processing."
    assert buttons == ["MARK SHIPPED", "CANCEL THE ORDER"]  # the next steps from processing
    assert Order.objects.get(pk=order.pk).status == "processing"
    assert deactivated == "Deactivated 1 product."
    assert Product.objects.get(pk=desk.pk).is_active is False
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == sorted(
        [f"{name}.png" for name in pages] + ["order-moved.png", "permission-needed.png"]
    )
