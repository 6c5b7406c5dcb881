"""ЕМБГ: 13 digits, a real birth date inside, and the check digit of DOMAIN.md; the register
found by a whole number, which is never shown back."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from casework.audit.models import AccessAction, AccessRecord
from casework.errors import ValidationError
from casework.extensions import db
from casework.households import queries
from casework.households.services import (
    birth_date_from_national_id,
    mask_national_id,
    sex_from_national_id,
    validate_national_id,
)
from casework.security.models import Role, User
from tests.conftest import Factory


@pytest.mark.parametrize("number", ["0308964384007", "1503985430018", "0207987435007"])
def test_the_published_examples_are_valid(number: str) -> None:
    assert validate_national_id(number) == number


def test_spaces_are_ignored() -> None:
    assert validate_national_id(" 0308964 384007 ") == "0308964384007"


def test_birth_date_and_sex_come_from_the_number() -> None:
    assert birth_date_from_national_id("0308964384007") == date(1964, 8, 3)
    assert sex_from_national_id("0308964384007") == "M"
    assert sex_from_national_id("0207987435007") == "F"  # serial 500-999: female


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("0308964384008", "check digit"),
        ("3102985430018", "birth date"),  # 31 February
        ("030896438400", "13 digits"),
        ("03089643840071", "13 digits"),
        ("03089643840a7", "13 digits"),
        ("", "13 digits"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as refused:
        validate_national_id(number)
    assert refused.value.field == "national_id"


def test_masking_shows_only_the_last_four_digits() -> None:
    assert mask_national_id("0308964384007") == "•••••••••4007"
    assert mask_national_id(None) == "—"


# --- searching the register by a national ID ------------------------------------------------


def _id_searches(user: User) -> list[AccessRecord]:
    return list(
        db.session.scalars(
            select(AccessRecord)
            .where(AccessRecord.user_id == user.id, AccessRecord.detail.like("national ID%"))
            .order_by(AccessRecord.id)
        )
    )


def test_a_whole_national_id_finds_its_person_and_the_number_is_never_shown(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    household = make.household(head_name=("Сефер", "Бајрамовски"))
    make.household(head_name=("Шабан", "Асановски"), address="ул. Илинденска бр. 9")
    spouse = make.member(household)
    number = spouse.national_id
    assert number
    browser, coordinator = login_as(Role.COORDINATOR)
    spaced = f"{number[:4]} {number[4:9]} {number[9:]}"  # as read off the card
    for typed in (number, spaced):
        response = browser.get("/households/", query_string={"q": typed})
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert household.case_number in page and "Бајрамовски" in page
        assert "Асановски" not in page
        assert number not in page and number[4:] not in page and spaced not in page
        assert "The number is not shown." in page
    logged = [(r.action, r.household_id, r.member_id, r.detail) for r in _id_searches(coordinator)]
    detail = f"national ID search: {household.case_number}"
    assert logged == [(AccessAction.VIEW_LIST, household.id, spouse.id, detail)] * 2
    found = db.session.scalars(queries.visible_households(coordinator, number)).all()
    assert [h.id for h in found] == [household.id]
    assert not any(number in (r.detail or "") for r in db.session.scalars(select(AccessRecord)))


@pytest.mark.parametrize("cut", [12, 9, 6])
def test_a_partial_national_id_searches_nothing(login_as, make: Factory, cut: int) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    number = household.members[0].national_id
    assert number
    browser, coordinator = login_as(Role.COORDINATOR)
    page = browser.get("/households/", query_string={"q": number[:cut]}).get_data(as_text=True)
    assert household.case_number not in page and "No household matches." in page
    assert "only whole, with all 13 digits" in page  # the search's help says so
    assert _id_searches(coordinator) == []
    assert db.session.scalars(queries.visible_households(coordinator, number[:cut])).all() == []


def test_a_national_id_outside_the_users_scope_finds_nobody_and_the_search_is_logged(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    browser, worker = login_as(Role.SOCIAL_WORKER)
    elsewhere = make.household()  # not in this worker's caseload
    number = elsewhere.members[0].national_id
    assert number
    page = browser.get("/households/", query_string={"q": number}).get_data(as_text=True)
    assert elsewhere.case_number not in page and number not in page
    assert "No household matches." in page
    assert [(r.household_id, r.member_id, r.detail) for r in _id_searches(worker)] == [
        (None, None, "national ID search: nobody found")
    ]


def test_the_api_finds_a_person_by_national_id_without_sending_the_number(  # type: ignore[no-untyped-def]
    api_as, make: Factory
) -> None:
    household = make.household()
    make.household(head_name=("Шабан", "Асановски"), address="ул. Илинденска бр. 9")
    head = household.members[0]
    assert head.national_id
    api, coordinator = api_as(Role.COORDINATOR)
    response = api.get(f"/households?q={head.national_id}")
    assert response.status_code == 200
    assert [h["case_number"] for h in response.get_json()["items"]] == [household.case_number]
    assert head.national_id not in response.get_data(as_text=True)
    assert [(r.household_id, r.member_id) for r in _id_searches(coordinator)] == [
        (household.id, head.id)
    ]
