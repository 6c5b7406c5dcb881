"""Macedonian, Albanian and English: complete catalogues, no unmarked text, local formats."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment
from sqlalchemy import select

from casework.config import LOCALES, PROJECT_ROOT
from casework.extensions import db
from casework.i18n import KEYWORDS, SOURCE_DIR
from casework.programmes.models import Programme
from casework.security.models import Role, User
from tests.conftest import Factory

TRANSLATED = [locale for locale in LOCALES if locale != "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted_messages() -> set[str]:
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = parse_keywords(list(KEYWORDS))
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(locale: str):  # type: ignore[no-untyped-def]
    with (SOURCE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


def test_mk_and_sq_catalogues_exist() -> None:
    assert {"mk", "sq"} <= set(TRANSLATED)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_string_has_a_finished_translation(locale: str) -> None:
    messages = catalogue(locale)
    missing, fuzzy, broken = [], [], []
    for msgid in sorted(extracted_messages()):
        entry = messages.get(msgid)
        if (
            entry is None
            or not entry.string
            or (isinstance(entry.string, tuple) and not all(entry.string))
        ):
            missing.append(msgid)
            continue
        if entry.fuzzy:
            fuzzy.append(msgid)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if any(
            sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(msgid))
            for s in strings
            if "%(n)" not in msgid
        ):
            broken.append(msgid)
    assert missing == [], f"{locale}: untranslated (run pybabel update, then translate)"
    assert fuzzy == [], f"{locale}: fuzzy translations"
    assert broken == [], f"{locale}: placeholders differ from the English"


VISIBLE_ATTRIBUTE = re.compile(r'\b(?:placeholder|title|alt|aria-label)="([^"\x00]*)"')
TAG = re.compile(r"<[^>]*>")
ENTITY = re.compile(r"&\w+;|&#\d+;")
ALLOWED_TEXT = {"casework"}


def unmarked_text(source: str) -> list[str]:
    """Literal text a person would read, written in a template outside ``_()``."""
    # Keep the template's literal text; every Jinja expression or tag becomes a marker, so an
    # HTML tag with an expression inside it is still seen as one tag.
    literal = "".join(
        value if kind == "data" else "\x00"
        for _lineno, kind, value in Environment(
            extensions=["jinja2.ext.i18n"], autoescape=True
        ).lex(source)
    )
    found = [v for v in VISIBLE_ATTRIBUTE.findall(literal) if re.search(r"[^\W\d_]", v)]
    text = ENTITY.sub(" ", TAG.sub(" ", literal))
    for word in text.replace("\x00", " ").split():
        if re.search(r"[^\W\d_]", word) and word not in ALLOWED_TEXT:
            found.append(word)
    return found


def test_the_template_checker_catches_unmarked_text() -> None:
    assert unmarked_text("<p>Households</p>") == ["Households"]
    assert unmarked_text('<input placeholder="Search">') == ["Search"]
    assert unmarked_text("<p>{{ _('Households') }}</p> <b>{{ n }}</b> · —") == []


@pytest.mark.parametrize(
    "template",
    sorted(str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "templates").rglob("*.html")),
)
def test_templates_hold_no_text_outside_translation_calls(template: str) -> None:
    assert unmarked_text(Path(PROJECT_ROOT / template).read_text()) == []


# --- pages in each language ---------------------------------------------------------------


def _programme(make: Factory) -> Programme:
    from casework.organizations.models import OrganizationKind
    from casework.organizations.services import create_organization
    from casework.programmes.services import ProgrammeData, create_programme

    admin = make.user(Role.ADMIN)
    ngo = create_organization(None, OrganizationKind.NGO, "ЦГИ Прилеп")
    return create_programme(
        admin,
        make.municipality(),
        ngo,
        ProgrammeData(
            name="Програма Кичево",
            donor="Донатор",
            starts_on=date(2026, 11, 23),
            ends_on=None,
            budget_deni=166_050_00,
            hourly_value_deni=100_00,
            approval_threshold_deni=25_000_00,
        ),
    )


@pytest.mark.parametrize(
    ("locale", "money", "log_out"),
    [
        ("mk", "166.050,00 ден.", "mk"),
        ("sq", "166\xa0050,00 den.", "sq"),  # CLDR: Albanian groups with a space
        ("en", "166,050.00 MKD", "en"),
    ],
)
def test_pages_render_in_each_language_with_local_money_and_dates(  # type: ignore[no-untyped-def]
    login_as, make: Factory, locale: str, money: str, log_out: str
) -> None:
    _programme(make)
    household = make.household()
    browser, _user = login_as(Role.COORDINATOR, locale=locale)
    home = browser.get("/home/coordinator").get_data(as_text=True)
    assert money in home
    assert "23.11.2026" in home
    assert f'<html lang="{locale}">' in home
    expected = "Log out" if locale == "en" else catalogue(locale).get("Log out").string
    assert expected in home
    detail = browser.get(f"/households/{household.id}").get_data(as_text=True)
    members = "Members" if locale == "en" else catalogue(locale).get("Members").string
    assert members in detail


def test_switching_language_keeps_the_user_on_the_same_page_and_remembers_it(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, user = login_as(Role.COORDINATOR, locale="en")
    browser.get("/households/?q=x")
    response = browser.post("/language", {"locale": "sq", "next": "/households/?q=x"})
    assert response.headers["Location"] == "/households/?q=x"
    assert db.session.scalar(select(User.locale).where(User.id == user.id)) == "sq"
    page = browser.get("/households/?q=x").get_data(as_text=True)
    assert '<html lang="sq">' in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_language_switch_refuses_an_off_site_return_address(login_as, target: str) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.post("/language", {"locale": "mk", "next": target})
    assert response.headers["Location"] == "/"


def test_without_a_choice_the_browser_language_wins(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login", headers={"Accept-Language": "sq,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="sq">' in page


@pytest.mark.parametrize("locale", LOCALES)
def test_the_money_work_and_check_pages_render_in_each_language(  # type: ignore[no-untyped-def]
    login_as, make: Factory, locale: str
) -> None:
    programme = make.programme(threshold_deni=500_000_00)  # one approval is enough
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, 166_050_00)
    make.site()
    household_id, programme_id = enrollment.household_id, programme.id
    coordinator, _c = login_as(Role.COORDINATOR, locale=locale)
    officer, _o = login_as(Role.OFFICER, locale=locale)
    pages = [
        (coordinator, f"/households/{household_id}/money"),
        (coordinator, f"/households/{household_id}"),
        (coordinator, "/households/"),
        (coordinator, "/work/log"),
        (coordinator, "/work/sites"),
        (coordinator, f"/programmes/{programme_id}/checks"),
        (officer, "/payments/queue"),
        (officer, f"/programmes/{programme_id}/budget"),
    ]
    money = {"mk": "166.050,00 ден.", "sq": "166\xa0050,00 den.", "en": "166,050.00 MKD"}[locale]
    for browser, url in pages:
        response = browser.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert f'<html lang="{locale}">' in body, url
    money_page = coordinator.get(f"/households/{household_id}/money").get_data(as_text=True)
    assert money in money_page
    assert "01.12.2021" in money_page  # the payment date, as every locale writes it
