"""Where a newcomer starts: the site's home page and the API root list where everything is."""

import pytest

from .conftest import error

pytestmark = pytest.mark.django_db


def test_the_api_root_links_every_shopper_endpoint_and_the_docs(anon, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon.get("/api/v1/")

    assert response.status_code == 200
    base = "http://testserver"
    assert response.json() == {
        "products": f"{base}/api/v1/products/",
        "categories": f"{base}/api/v1/categories/",
        "orders": f"{base}/api/v1/orders/",
        "me": f"{base}/api/v1/me/",
        "register": f"{base}/api/v1/auth/register/",
        "login": f"{base}/api/v1/auth/login/",
        "logout": f"{base}/api/v1/auth/logout/",
        "docs": f"{base}/api/docs/",
        "schema": f"{base}/api/schema/",
    }
    # Every link answers: a GET of the ones that need a login is 401, of the POST-only ones 405.
    answers = {name: anon.get(link.removeprefix(base)).status_code
               for name, link in response.json().items()}  # fmt: skip
    assert answers == {
        "products": 200, "categories": 200, "orders": 401, "me": 401, "register": 405,
        "login": 405, "logout": 401, "docs": 200, "schema": 200,
    }  # fmt: skip


def test_the_api_root_refuses_query_parameters_as_every_endpoint_does(anon):
    error(anon.get("/api/v1/?page=2"), 400, "invalid")


def test_the_home_page_points_to_the_api_docs_the_admin_and_the_dashboard(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    links = ['href="/api/docs/"', 'href="/api/v1/"', 'href="/admin/"', 'href="/admin/dbhealth/"']
    assert [link for link in links if link not in page] == []
