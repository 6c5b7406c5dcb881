"""Navigation (issue 21): every link a page shows opens for the user who sees it; the header
folds into a menu on a phone and starts with a skip link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask

from casework import create_app
from casework.demo.data import DEMO_USERNAMES
from casework.programmes.models import Programme
from casework.security.models import Role
from tests.conftest import Client, Factory, copy_demo, make_settings

DEMO_PASSWORD = "casework-demo"


class _Links(HTMLParser):
    """The same-site links of a page (an ``href`` starting with one slash), in order, and the
    elements a keyboard reaches, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.focusable: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        href = found.get("href", "")
        if tag == "a" and href.startswith("/") and not href.startswith("//"):
            self.links.append(href)
        if (
            (tag == "a" and href)
            or tag in ("button", "summary", "select", "textarea")
            or (tag == "input" and found.get("type") != "hidden")
        ):
            self.focusable.append((tag, found))


def _parsed(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def demo_app(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on a private copy of the demo (`casework demo --no-serve`), for reading pages."""
    folder = tmp_path_factory.mktemp("navigation-demo")
    database = copy_demo(demo_database, folder)
    yield create_app(make_settings(f"sqlite:///{database}", folder / "instance"))


@pytest.mark.parametrize("username", DEMO_USERNAMES)
def test_every_link_of_every_demo_roles_home_page_opens_for_it(
    demo_app: Flask, username: str
) -> None:
    """The home page of each demo user (each of its roles' homes), and every same-site link
    in it: none answers 403, 404 or an error (issue 21, P3: report, budget and checks for
    social workers and supervisors; the work sites for the admin)."""
    browser = Client(demo_app.test_client())
    assert browser.login(username, DEMO_PASSWORD).status_code == 302
    landing = browser.get("/")
    assert landing.status_code == 302
    home = landing.headers["Location"]
    homes = [
        home,
        *[
            link
            for link in _parsed(browser.get(home).get_data(as_text=True)).links
            if link.startswith("/home/")
        ],
    ]
    problems, walked = [], set()
    for page in dict.fromkeys(homes):
        response = browser.get(page)
        assert response.status_code == 200, page
        for link in dict.fromkeys(_parsed(response.get_data(as_text=True)).links):
            if link in walked or link.startswith("/static/"):
                continue
            walked.add(link)
            status = browser.get(link).status_code
            if status >= 400:
                problems.append(f"{username}: {page} links {link}, which answers {status}")
    assert not problems, "\n".join(problems)
    assert len(walked) >= 3  # the walk is not vacuous: the header and the home page's own links


def test_the_programmes_table_links_only_the_pages_the_role_may_open(  # type: ignore[no-untyped-def]
    login_as, programme: Programme
) -> None:
    figures = (
        f"/programmes/{programme.id}/report",
        f"/programmes/{programme.id}/budget",
        f"/programmes/{programme.id}/checks",
    )
    imports = f"/programmes/{programme.id}/import"
    worker, _w = login_as(Role.SOCIAL_WORKER)
    links = _parsed(worker.get("/home/social_worker").get_data(as_text=True)).links
    assert not {*figures, imports} & set(links)
    coordinator, _c = login_as(Role.COORDINATOR)
    links = _parsed(coordinator.get("/home/coordinator").get_data(as_text=True)).links
    assert {*figures, imports} <= {link.split("?")[0] for link in links}
    officer, _o = login_as(Role.OFFICER)
    links = _parsed(officer.get("/home/officer").get_data(as_text=True)).links
    assert set(figures) <= set(links) and imports not in links
    assert all(officer.get(link).status_code == 200 for link in figures)


def test_the_admin_home_links_the_work_sites_only_where_the_admin_may_open_them(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    everywhere, _g = login_as(Role.ADMIN)  # a global admin: no site page yet (issue 22)
    assert "/work/sites" not in _parsed(everywhere.get("/home/admin").get_data(as_text=True)).links
    assert everywhere.get("/work/sites").status_code == 403
    local, _a = login_as(Role.ADMIN, make.municipality())
    assert "/work/sites" in _parsed(local.get("/home/admin").get_data(as_text=True)).links
    assert local.get("/work/sites").status_code == 200


def test_the_officers_header_links_its_payments_to_record(login_as) -> None:  # type: ignore[no-untyped-def]
    officer, _o = login_as(Role.OFFICER)
    assert (
        "/payments/to-record" in _parsed(officer.get("/home/officer").get_data(as_text=True)).links
    )
    coordinator, _c = login_as(Role.COORDINATOR)
    page = coordinator.get("/home/coordinator").get_data(as_text=True)
    assert "/payments/to-record" not in _parsed(page).links
    assert "/payments/returned" in _parsed(page).links


def test_the_first_thing_a_keyboard_reaches_is_the_skip_link_to_the_content(  # type: ignore[no-untyped-def]
    login_as, client: Client
) -> None:
    browser, _c = login_as(Role.COORDINATOR)
    for html in (
        browser.get("/home/coordinator").get_data(as_text=True),
        client.get("/login").get_data(as_text=True),
    ):
        tag, attrs = _parsed(html).focusable[0]
        assert (tag, attrs.get("href"), attrs.get("class")) == ("a", "#content", "skip-link")
        assert "Skip to content" in html
        assert re.search(r'<main [^>]*id="content"', html)


def test_the_header_folds_every_link_the_account_and_the_language_into_one_menu(  # type: ignore[no-untyped-def]
    login_as,
) -> None:
    """One list of links in a <details> "Menu": a row on a desk (CSS), a dropdown on a phone;
    the user's name, log out and the language switch are in it, the brand stays outside."""
    browser, user = login_as(Role.COORDINATOR)
    html = browser.get("/home/coordinator").get_data(as_text=True)
    header = html[html.index("<header") : html.index("</header>")]
    menu = header[header.index('<details class="site-menu">') : header.index("</details>")]
    assert "<summary>Menu</summary>" in menu
    for expected in (
        "/households",
        "/work/log",
        "/work/sites",
        "/audit",
        user.full_name,
        "Log out",
        'name="locale"',
    ):
        assert expected in menu, expected
    assert 'class="brand"' in header and 'class="brand"' not in menu
    assert header.count('href="/households/"') == 1  # each link once: no second copy for phones
    css = (Path(__file__).parent.parent / "static" / "casework.css").read_text()
    assert "details.site-menu::details-content { content-visibility: visible; }" in css
