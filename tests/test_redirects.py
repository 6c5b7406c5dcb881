"""Return addresses (``next``) lead only to this site, judged as a browser reads them."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from casework.security.models import Role
from casework.urls import safe_next
from tests.conftest import PASSWORD, Client, Factory

# Known ways past a naive "starts with one slash" check: each is another site to a browser.
OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    "/%09/evil.example".replace("%09", "\t"),  # what the query string decodes to
    "///evil.example",
    "/\\/evil.example",
    "https:/evil.example",
    "",
]
ON_SITE = ["/households/?q=x", "/households/5", "/programmes/1/checks#top", "/%2F/households"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_an_address_a_browser_reads_as_another_site_goes_home(app: Flask, target: str) -> None:
    with app.test_request_context():
        assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ON_SITE)
def test_a_path_on_this_site_is_kept(app: Flask, target: str) -> None:
    with app.test_request_context():
        assert safe_next(target) == target


def test_the_login_refuses_a_tab_that_makes_two_slashes(client: Client, make: Factory) -> None:
    """The attack: /login?next=/%09/evil.example logged the user in and sent it to evil."""
    user = make.user(Role.COORDINATOR)
    client.get("/login?next=/%09/evil.example")
    response = client.post(
        "/login", {"username": user.username, "password": PASSWORD, "next": "/\t/evil.example"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\\/evil.example", " //evil.example"])
def test_the_language_switch_and_reauthentication_refuse_them_too(
    login_as: Any, target: str
) -> None:
    browser, _user = login_as(Role.COORDINATOR)
    switched = browser.post("/language", {"locale": "mk", "next": target})
    assert switched.headers["Location"] == "/"
    again = browser.post("/reauthenticate", {"password": PASSWORD, "next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"
