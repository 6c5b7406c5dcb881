"""The form library's own messages ("This field is required.", "Not a valid choice.") in the
user's language: WTForms ships no Macedonian or Albanian catalogue, so every form asks the
app's (``casework.forms_common.CatalogueTranslations``), and ``casework.form_messages`` marks
each of WTForms' msgids for it."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from babel.messages.pofile import read_po
from wtforms.i18n import messages_path

from casework.form_messages import MESSAGES, PLURAL_MESSAGES
from casework.i18n import translate
from casework.programmes.models import Programme
from casework.security.models import Role
from casework.work.models import WorkLog, WorkSite
from tests.conftest import Factory, count

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%s")


def wtforms_messages() -> set[str]:
    """Every msgid WTForms asks its translations for (its own template, ``wtforms.pot``)."""
    with open(f"{messages_path()}/wtforms.pot", "rb") as pot:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}


def english_fragments() -> set[str]:
    """The fixed English words of each WTForms message, as a page would show them."""
    every = [*MESSAGES, *(text for pair in PLURAL_MESSAGES for text in pair)]
    return {
        part.strip()
        for message in every
        for part in PLACEHOLDER.split(message)
        if len(part.strip()) >= 10
    }


def test_every_message_wtforms_can_give_is_marked_for_the_catalogue() -> None:
    marked = {*MESSAGES, *(singular for singular, _plural in PLURAL_MESSAGES)}
    assert wtforms_messages() - marked == set(), "add them to casework/form_messages.py"


class Marking:
    """A catalogue that marks every message it is asked for, to see which ones ask it."""

    def ugettext(self, message: str) -> str:
        return f"«{message}»"

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return f"«{singular if n == 1 else plural}»"


def test_every_form_nested_ones_included_asks_the_apps_catalogue(  # type: ignore[no-untyped-def]
    login_as, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    monkeypatch.setattr("casework.forms_common.get_translations", Marking)
    response = browser.post(
        "/households/new",
        {
            "municipality_id": str(coordinator.roles[0].municipality_id),
            "address": "",
            "language": "xx",
            "head-first_name": "",
            "head-last_name": "Јашаровски",
            "head-birth_date": "",
        },
    )
    body = html.unescape(response.get_data(as_text=True))
    assert body.count("«This field is required.»") >= 2, "the page's form and the head's"
    assert "«Not a valid choice.»" in body
    # a page form that is also a group of fields (the member's form) asks it too
    member = browser.post(
        f"/households/{make.household().id}/members/new",
        {"first_name": "", "last_name": "Јашаровски", "sex": "X", "relation": "child"},
    )
    body = html.unescape(member.get_data(as_text=True))
    assert "«This field is required.»" in body and "«Not a valid choice.»" in body
    assert english_library_messages(body.replace("«", "").replace("»", "")) != []


def english_library_messages(body: str) -> list[str]:
    text = html.unescape(body)
    return sorted(fragment for fragment in english_fragments() if fragment in text)


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_registration_errors_hold_no_english_library_message(  # type: ignore[no-untyped-def]
    login_as, locale: str
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR, locale=locale)
    response = browser.post(
        "/households/new",
        {
            "municipality_id": str(coordinator.roles[0].municipality_id),
            "address": "",
            "language": "xx",
            "consent_on": "2021-11-10",
            "assigned_worker_id": "0",
            "head-first_name": "",
            "head-last_name": "Јашаровски",
            "head-national_id": "150398543001",
        },
    )
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert translate("This field is required.", locale) in body
    assert translate("A national ID (ЕМБГ) has exactly 13 digits.", locale) in body
    assert english_library_messages(body) == []


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_the_log_forms_errors_hold_no_english_library_message(  # type: ignore[no-untyped-def]
    login_as, make: Factory, programme: Programme, site: WorkSite, locale: str
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER, locale=locale)
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    response = browser.post(
        "/work/log",
        {
            "member_id": "",
            "site_id": site.id,
            "work_date": date.today().isoformat(),
            "start_time": "25:99",
            "end_time": "xx",
        },
    )
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert translate("Choose who worked.", locale) in body
    assert english_library_messages(body) == []
    assert count(WorkLog) == 0


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_member_and_note_errors_hold_no_english_library_message(  # type: ignore[no-untyped-def]
    login_as, make: Factory, locale: str
) -> None:
    household_id = make.household().id
    browser, _coordinator = login_as(Role.COORDINATOR, locale=locale)
    member = browser.post(
        f"/households/{household_id}/members/new",
        {"first_name": "", "last_name": "", "national_id": "12", "relation": "", "sex": "X"},
    )
    note = browser.post(
        f"/households/{household_id}/notes",
        {"written_on": "", "text": "", "visibility": "all"},
        follow_redirects=True,
    )
    for response in (member, note):
        body = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 200
        assert translate("This field is required.", locale) in body
        assert english_library_messages(body) == []
    named = f"{translate('Note', locale)}: {translate('This field is required.', locale)}"
    assert named in html.unescape(note.get_data(as_text=True)), "the flash names the field"
