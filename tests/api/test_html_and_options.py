"""No API endpoint is a 500 when a browser asks for it: the browsable API (HTML) and OPTIONS on the docs."""

import pytest
from django.urls import URLPattern, URLResolver

from config import api_urls


def _routes(patterns, prefix: str = "") -> list[str]:
    """Every route under /api/ as written in config/api_urls.py, e.g. `v1/accounts/<id:pk>/members/`."""
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.append(route)
    return routes


ROUTES = _routes(api_urls.urlpatterns)
# The docs views: the top-level routes outside v1/, less the catch-all 404.
DOCS = [f"/api/{route}" for route in ROUTES if route and not route.startswith("v1/")]


def _url(route: str, account, ticket) -> str:
    if "<" in route:
        owner = route.split("/")[1]
        # inbound/<id>/convert/ takes POST only: any id shows that GET is refused the same way in HTML and JSON; so
        # do the webhook endpoints, which none of these callers may manage (a 403 in both, whichever id).
        ids = {"accounts": account.pk, "tickets": ticket.pk, "inbound": 1, "webhook-endpoints": 1}
        assert owner in ids and route.count("<id:pk>") == 1, f"give this test an id for {route}"
        route = route.replace("<id:pk>", str(ids[owner]))
        # A ticket's file (the world holds none: a 404, the same in HTML and JSON).
        route = route.replace("<id:attachment_pk>", "1")
    return f"/api/{route}"


@pytest.mark.parametrize("how", ["accept", "format"])
@pytest.mark.parametrize("who", ["owner", "member", "agent"])
@pytest.mark.parametrize("route", ROUTES)
def test_browsable_api_answers_as_the_json_api_does(world, client_for, route: str, who: str, how: str):
    people, account, ticket = world.people, world.account, world.ticket
    client = client_for(getattr(people, who))
    client.raise_request_exception = False  # a 500 is a status to assert on, not an exception in the test
    url = _url(route, account, ticket)
    if how == "accept":
        page = client.get(url, HTTP_ACCEPT="text/html")
    else:
        page = client.get(url, {"format": "api"})
    assert page.status_code < 500, page.content[:2000]
    if route.startswith("v1/"):
        # Same answer as the JSON request, only as an HTML page.
        assert page.status_code == client.get(url).status_code
        assert page["Content-Type"].startswith("text/html")


def test_billing_readers_get_the_browsable_page_of_invoices(world, client_for):
    people, account = world.people, world.account
    page = client_for(people.owner).get(f"/api/v1/accounts/{account.pk}/invoices/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "20.00" in page.content.decode()


def test_customers_see_public_comments_on_the_browsable_page(world, client_for):
    people, ticket = world.people, world.ticket
    page = client_for(people.super_admin).get(f"/api/v1/tickets/{ticket.pk}/comments/", {"format": "api"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "We are on it" in html and "Internal" not in html


def test_every_docs_view_is_found():
    assert {"/api/docs/", "/api/schema/"} <= set(DOCS)


@pytest.mark.parametrize("path", DOCS)
def test_options_on_the_docs_lists_the_allowed_methods(db, client_for, path: str):
    client = client_for(None)
    client.raise_request_exception = False
    response = client.options(path)
    assert response.status_code < 500, response.content[:2000]
    assert "GET" in response["Allow"]
