"""Every endpoint needs a logged-in user unless it is on the short public allow-list."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from casework.api.views import PUBLIC_API_ENDPOINTS
from casework.web import PUBLIC_ENDPOINTS
from tests.conftest import Client


def _sample_url(rule: Rule) -> str:
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x"
        for name, converter in rule._converters.items()
    }
    built = rule.build(values)
    assert built is not None
    return built[1]


def test_every_registered_route_sends_an_anonymous_visitor_to_the_login(
    app: Flask, client: Client
) -> None:
    client.get("/login")
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.rule.startswith("/api/"):
            continue  # the API answers 401 itself: test_every_api_route_needs_a_token
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # A valid CSRF token, so that the refusal comes from the login gate itself.
            if method == "GET":
                response = client.get(url)
            else:
                response = client._request(method, url, data={"csrf_token": client.csrf_token})
            assert response.status_code == 302, (rule.endpoint, method, response.status_code)
            assert response.headers["Location"].startswith("/login"), rule.endpoint
            checked += 1
    assert checked >= 8


def test_the_allow_list_is_short_and_known() -> None:
    assert {
        "static",
        "security.login",
        "set_language",
        "ops.healthz",
        "ops.readyz",
    } == PUBLIC_ENDPOINTS


def test_the_login_page_is_public_and_sets_security_headers(client: Client) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_page_is_a_plain_404(client: Client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_every_api_route_needs_a_token(app: Flask, client: Client) -> None:
    """Without a token every API operation is a 401 in the API's shape; only the document is
    public."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.http.open(url, method=method, json={})
            if rule.endpoint in PUBLIC_API_ENDPOINTS:
                assert response.status_code == 200, rule.endpoint
                continue
            assert response.status_code == 401, (rule.endpoint, method, response.status_code)
            assert response.get_json()["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 30
