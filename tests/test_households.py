"""The household register: who sees which household, and what a valid entry is."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from casework.audit import keys
from casework.audit.models import AuditEvent
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.households import queries
from casework.households import services as household_services
from casework.households.models import DuplicateReview, Household, Member
from casework.households.services import HouseholdData, MemberData, create_household, update_member
from casework.security.models import Role
from tests.conftest import TODAY, Client, Factory, count, valid_national_id

# --- scope ---------------------------------------------------------------------------------


def test_a_social_worker_sees_only_its_caseload(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    browser, worker = login_as(Role.SOCIAL_WORKER)
    mine = make.household(worker=worker, head_name=("Сефер", "Демировски"))
    other = make.household(head_name=("Шабан", "Асановски"))
    listing = browser.get("/households/").get_data(as_text=True)
    assert "Демировски" in listing
    assert "Асановски" not in listing
    assert browser.get(f"/households/{mine.id}").status_code == 200
    assert browser.get(f"/households/{other.id}").status_code == 404
    assert {h.id for h in db.session.scalars(queries.visible_households(worker))} == {mine.id}


def test_a_coordinator_of_another_municipality_sees_none_of_kicevos(
    login_as, make: Factory
) -> None:  # type: ignore[no-untyped-def]
    kicevo_household = make.household(make.municipality("KIC"))
    browser, _ = login_as(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    listing = browser.get("/households/").get_data(as_text=True)
    assert "Мамудовски" not in listing
    assert "No households to show." in listing
    assert browser.get(f"/households/{kicevo_household.id}").status_code == 404
    member = kicevo_household.members[0]
    assert browser.get(f"/households/members/{member.id}/edit").status_code == 404


def test_an_officer_sees_its_municipality_but_cannot_change_it(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    browser, _ = login_as(Role.OFFICER)
    assert browser.get(f"/households/{household.id}").status_code == 200
    assert browser.get(f"/households/{household.id}/edit").status_code == 403
    response = browser.post(f"/households/{household.id}/edit", {"address": "hijacked"})
    assert response.status_code == 403
    db.session.refresh(household)
    assert household.address == "ул. Гоце Делчев бр. 7"


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
def test_roles_without_personal_data_access_see_no_register(
    login_as, make: Factory, role: Role
) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    browser, _ = login_as(role)
    assert browser.get("/households/").status_code == 403
    assert browser.get(f"/households/{household.id}").status_code == 404


def test_national_ids_are_masked_on_the_household_page(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    number = household.members[0].national_id
    assert number
    page = browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert number not in page
    assert number[-4:] in page
    edit = browser.get(f"/households/members/{household.members[0].id}/edit").get_data(as_text=True)
    assert number not in edit


# --- list ----------------------------------------------------------------------------------


def test_search_finds_members_by_name_and_pages_the_list(login_as, make: Factory, app) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    for i in range(30):
        make.household(head_name=("Али", f"Рамадановски{i:02d}"))
    make.household(head_name=("Ердован", "Јашаровски"))
    found = browser.get("/households/?q=јашаров").get_data(as_text=True)
    assert "Јашаровски" in found and "Рамадановски" not in found
    first = browser.get("/households/").get_data(as_text=True)
    assert "Page 1 of 2 · 31 households" in first
    second = browser.get("/households/?page=2").get_data(as_text=True)
    assert second.count("/households/") >= 6


@pytest.mark.parametrize("typed", ["%", "_", "\\"])
def test_a_search_matches_what_was_typed_not_a_wildcard(
    login_as, make: Factory, typed: str
) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    make.household(head_name=("Али", "Рамадановски"), address="ул. Гоце Делчев бр. 7")
    make.household(head_name=("Ердован", "Јашаровски"), address=f"ул. Илинденска {typed}12")
    found = browser.get("/households/", query_string={"q": typed}).get_data(as_text=True)
    assert "Јашаровски" in found and "Рамадановски" not in found  # % was every household


# --- create and edit through the pages -----------------------------------------------------


def _new_household_form(**overrides: str) -> dict[str, str]:
    form = {
        "address": "ул. Илинденска бр. 44",
        "settlement": "Кичево",
        "phone": "+389 70 123 456",
        "language": "mk",
        "consent_on": "2021-11-10",
        "assigned_worker_id": "0",
        "head-first_name": "Ердован",
        "head-last_name": "Јашаровски",
        "head-national_id": "1503985430018",
        "head-birth_date": "",
        "head-sex": "",
    }
    form.update(overrides)
    return form


def test_a_coordinator_registers_a_household_with_its_head(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    browser, coordinator = login_as(Role.COORDINATOR)
    worker = make.user(Role.SOCIAL_WORKER)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            assigned_worker_id=str(worker.id),
        ),
    )
    assert response.status_code == 302
    household = db.session.scalars(select(Household)).one()
    assert household.case_number == f"KIC-{household.id:05d}"
    assert household.assigned_worker_id == worker.id
    head = household.members[0]
    assert (head.first_name, head.last_name, head.is_head) == ("Ердован", "Јашаровски", True)
    assert head.birth_date == date(1985, 3, 15)  # read from the national ID
    assert head.sex == "M"
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "household.create" in actions and "household.assign_worker" in actions


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("head-national_id", "1503985430019", "wrong check digit"),
        ("head-national_id", "3102985430018", "real birth date"),
        ("head-first_name", "   ", "This field is required."),
        ("head-birth_date", "1985-03-16", "does not match"),
        ("head-sex", "F", "sex does not match"),
        ("address", "", "This field is required."),
        ("consent_on", "2030-01-01", "The consent date cannot be in the future."),
    ],
)
def test_bad_input_is_named_on_the_form_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    login_as, field: str, value: str, message: str
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    before_audit = count(AuditEvent)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id), **{field: value}
        ),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body
    assert 'class="field-error"' in body
    assert count(Household) == 0 and count(Member) == 0
    assert count(AuditEvent) == before_audit


def test_a_duplicate_national_id_is_refused(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    browser, coordinator = login_as(Role.COORDINATOR)
    taken = household.members[0].national_id
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id), **{"head-national_id": taken}
        ),
    )
    assert "already registered" in response.get_data(as_text=True)
    assert count(Household) == 1


def test_a_coordinator_cannot_register_in_another_municipality(make: Factory) -> None:
    outsider = make.user(Role.COORDINATOR, make.municipality("PRI", "Прилеп"))
    kicevo = make.municipality("KIC")
    with pytest.raises(PermissionDenied):
        create_household(
            outsider,
            kicevo,
            HouseholdData(address="x"),
            MemberData("A", "B", date(1980, 1, 1), sex="M"),
            today=TODAY,
        )
    assert count(Household) == 0


def test_members_are_added_and_edited_through_the_pages(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    birth = date(2010, 5, 4)
    response = browser.post(
        f"/households/{household.id}/members/new",
        {
            "first_name": "Лејла",
            "last_name": "Мамудовска",
            "national_id": valid_national_id(birth, female=True),
            "birth_date": "",
            "sex": "",
            "relation": "child",
        },
    )
    assert response.status_code == 302
    child = db.session.scalars(select(Member).where(Member.first_name == "Лејла")).one()
    assert child.birth_date == birth and child.sex == "F" and not child.is_head
    stored_id = child.national_id
    response = browser.post(
        f"/households/members/{child.id}/edit",
        {
            "first_name": "Лејла",
            "last_name": "Мамудовска-Ибраимовска",
            "national_id": "",
            "birth_date": "2010-05-04",
            "sex": "F",
            "relation": "grandchild",
        },
    )
    assert response.status_code == 302
    db.session.refresh(child)
    assert child.last_name == "Мамудовска-Ибраимовска"
    assert child.relation == "grandchild"
    assert child.national_id == stored_id  # left empty: kept
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "member.update")).one()
    # Stored sealed with the household's key (audit.keys); opened, it reads old and new.
    assert keys.is_sealed(event.changes["last_name"])
    opened = keys.opened(event.changes, keys.household_keys([child.household_id]))
    assert opened["last_name"] == ["Мамудовска", "Мамудовска-Ибраимовска"]


def test_a_second_head_is_refused(make: Factory) -> None:
    household = make.household()
    with pytest.raises(ValidationError, match="already has a head"):
        make.member(household, relation="head")
    assert len(household.members) == 1


def test_a_future_birth_date_is_refused(make: Factory) -> None:
    household = make.household()
    member = household.members[0]
    coordinator = make.coordinator(household.municipality)
    with pytest.raises(ValidationError) as refused:
        update_member(
            coordinator,
            member,
            MemberData("A", "B", date(2030, 1, 1), sex="M", national_id=None, relation="head"),
            today=TODAY,
        )
    assert refused.value.field == "birth_date"


def test_the_household_edit_page_changes_the_record_and_its_worker(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    worker = make.user(Role.SOCIAL_WORKER)
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.post(
        f"/households/{household.id}/edit",
        {
            "address": "ул. Борис Кидрич бр. 3",
            "settlement": "Осломеј",
            "phone": "",
            "language": "sq",
            "consent_on": "",
            "assigned_worker_id": str(worker.id),
        },
    )
    assert response.status_code == 302
    db.session.refresh(household)
    assert (household.address, household.language, household.assigned_worker_id) == (
        "ул. Борис Кидрич бр. 3",
        "sq",
        worker.id,
    )


def test_a_worker_of_another_municipality_cannot_be_assigned(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    household = make.household()
    outsider = make.user(Role.SOCIAL_WORKER, make.municipality("PRI", "Прилеп"))
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.post(
        f"/households/{household.id}/edit",
        {
            "address": "ул. Борис Кидрич бр. 3",
            "language": "mk",
            "assigned_worker_id": str(outsider.id),
        },
    )
    assert response.status_code == 200
    db.session.refresh(household)
    assert household.assigned_worker_id is None
    assert household.address == "ул. Гоце Делчев бр. 7"


# --- names across scripts ------------------------------------------------------------------

BORN = date(1984, 3, 15)  # the birth date of make.household's head


@pytest.mark.parametrize(
    ("registered", "again"),
    [
        (("Сефер", "Бајрамовски"), ("Sefer", "Bajramovski")),
        (("Sefer", "Bajramovski"), ("Сефер", "Бајрамовски")),
        (("Шаќир", "Џемаили"), ("Shaqir", "Xhemaili")),
        (("Шаќир", "Џемаили"), ("Šaḱir", "Džemaili")),
        (("Мергим", "Чела"), ("Mërgim", "Çela")),
        (("Ѓулнаре", "Жаку"), ("Gjulnare", "Zhaku")),
        (("Dhurata", "Thaçi"), ("ДУРАТА", "ТАЧИ")),
    ],
)
def test_a_name_in_the_other_script_with_the_same_birth_date_is_a_likely_duplicate(
    make: Factory, registered: tuple[str, str], again: tuple[str, str]
) -> None:
    existing = make.household(head_name=registered)
    newcomer = create_household(
        make.coordinator(existing.municipality),
        existing.municipality,
        HouseholdData(address="ул. Нова бр. 1"),
        MemberData(*again, BORN, sex="M"),
        today=TODAY,
    )
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.household_id, review.other_household_id, review.reason) == (
        newcomer.id,
        existing.id,
        "name_and_birth",
    )


def test_only_the_script_is_folded_not_a_spelling_variant_of_the_name(make: Factory) -> None:
    """ "Bajramoski" is another spelling, not another script: no review (README, names)."""
    existing = make.household(head_name=("Сефер", "Бајрамовски"))
    create_household(
        make.coordinator(existing.municipality),
        existing.municipality,
        HouseholdData(address="ул. Нова бр. 1"),
        MemberData("Sefer", "Bajramoski", BORN, sex="M"),
        today=TODAY,
    )
    assert count(DuplicateReview) == 0


def test_the_registration_page_flags_a_latin_spelling_of_a_cyrillic_family(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    same_person = make.household(head_name=("Сефер", "Бајрамовски"))
    # The same address as the newcomer's in Latin, but another head: no duplicate.
    make.household(head_name=("Ердован", "Јашаровски"), address="ул. Илинденска бр. 44")
    browser, coordinator = login_as(Role.COORDINATOR)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            **{
                "address": "ul. Ilindenska br. 44",
                "head-first_name": "Sefer",
                "head-last_name": "Bajramovski",
                "head-national_id": valid_national_id(BORN),
            },
        ),
    )
    assert response.status_code == 302
    newcomer = db.session.scalars(select(Household).order_by(Household.id.desc())).first()
    assert newcomer is not None and newcomer.head is not None
    assert (newcomer.head.first_name, newcomer.address) == ("Sefer", "ul. Ilindenska br. 44")
    reviews = db.session.scalars(select(DuplicateReview).order_by(DuplicateReview.id)).all()
    assert [(r.household_id, r.other_household_id, r.reason) for r in reviews] == [
        (newcomer.id, same_person.id, "name_and_birth"),
    ]
    page = browser.get(f"/households/{newcomer.id}").get_data(as_text=True)
    assert "Possible duplicate" in page and same_person.case_number in page


def test_the_same_address_and_head_in_the_other_script_is_a_likely_duplicate(
    make: Factory,
) -> None:
    existing = make.household(head_name=("Мухамед", "Мамудовски"), address="ул. Гоце Делчев бр. 7")
    newcomer = create_household(
        make.coordinator(existing.municipality),
        existing.municipality,
        HouseholdData(address="ul. Goce Delčev br. 7"),
        MemberData("Muhamed", "Mamudovski", date(1999, 1, 1), sex="M"),
        today=TODAY,
    )
    review = db.session.scalars(select(DuplicateReview)).one()
    assert (review.household_id, review.other_household_id, review.reason) == (
        newcomer.id,
        existing.id,
        "address_and_head",
    )


def _found(browser: Client, q: str) -> str:
    return browser.get("/households/", query_string={"q": q}).get_data(as_text=True)


def test_a_search_in_latin_finds_a_cyrillic_name_and_back(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    browser, coordinator = login_as(Role.COORDINATOR)
    heads = {
        "Ибраимовски": make.household(head_name=("Ајдар", "Ибраимовски")),
        "Bajramovski": make.household(head_name=("Sefer", "Bajramovski"), address="ul. Ilindenska"),
        "Џемаили": make.household(head_name=("Шаќир", "Џемаили"), address="ул. Илинденска бр. 9"),
    }
    for typed, name in [
        ("ajdar", "Ибраимовски"),  # as an Albanian-speaking worker might type it
        ("AJDAR IBRAIM", "Ибраимовски"),
        ("goce delchev", "Ибраимовски"),  # the address too
        ("Бајрамовски", "Bajramovski"),
        ("сефер бајрам", "Bajramovski"),
        ("shaqir xhemaili", "Џемаили"),
        ("Šaḱir", "Џемаили"),
    ]:
        found = _found(browser, typed)
        assert [n for n in heads if heads[n].case_number in found] == [name], typed
    listed = db.session.scalars(queries.visible_households(coordinator, "илинденска")).all()
    assert {h.id for h in listed} == {heads["Bajramovski"].id, heads["Џемаили"].id}


def test_albanian_names_with_e_diaeresis_and_c_cedilla_are_found_from_either_script(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    browser, _ = login_as(Role.COORDINATOR)
    make.household(head_name=("Mërgim", "Çela"))
    make.household(head_name=("Лендита", "Ќерими"), address="ул. Илинденска бр. 9")
    for typed, name in [
        ("Мергим Чела", "Çela"),
        ("mergim", "Çela"),  # ë typed as e
        ("çela", "Çela"),
        ("chela", "Çela"),
        ("Lëndita", "Ќерими"),
        ("Qerimi", "Ќерими"),
    ]:
        assert name in _found(browser, typed), typed
    assert "Çela" not in _found(browser, "cela")  # c is ц, a letter of its own


def test_a_registration_reports_every_mistake_of_the_household_and_its_head_at_once(
    make: Factory,
) -> None:
    municipality = make.municipality("KIC")
    coordinator = make.coordinator(municipality)
    with pytest.raises(ValidationError) as refused:
        create_household(
            coordinator,
            municipality,
            HouseholdData(address=" ", phone="070 abc", consent_on=date(2030, 1, 1)),
            MemberData(" ", "Јашаровски", date(2030, 1, 1), sex="M"),
            today=TODAY,
        )
    assert {field for field, _message in refused.value.errors} == {
        "consent_on",
        "address",
        "phone",
        "first_name",
        "birth_date",
    }
    assert count(Household) == 0 and count(Member) == 0


def test_a_member_reports_all_its_mistakes_at_once(make: Factory) -> None:
    household = make.household()
    member = household.members[0]
    before = (member.first_name, member.birth_date)
    with pytest.raises(ValidationError) as refused:
        update_member(
            make.coordinator(household.municipality),
            member,
            MemberData("", "", date(1850, 1, 1), sex="X", relation="head"),
            today=TODAY,
        )
    assert {field for field, _message in refused.value.errors} >= {
        "first_name",
        "last_name",
    }
    db.session.expire_all()
    assert (member.first_name, member.birth_date) == before


def test_the_registration_page_shows_every_mistake_in_one_answer(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, coordinator = login_as(Role.COORDINATOR)
    before_audit = count(AuditEvent)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            consent_on="2030-01-01",
            phone="070 abc",
            **{"head-national_id": "", "head-birth_date": "1985-03-15", "head-sex": ""},
        ),
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The consent date cannot be in the future." in body
    assert "A phone number may contain digits" in body
    assert "Choose the member&#39;s sex." in body or "Choose the member's sex." in body
    assert count(Household) == 0 and count(Member) == 0
    assert count(AuditEvent) == before_audit


def test_a_birth_date_that_does_not_exist_is_named_as_such(login_as) -> None:  # type: ignore[no-untyped-def]
    browser, coordinator = login_as(Role.COORDINATOR)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            **{"head-national_id": "", "head-birth_date": "1984-02-31", "head-sex": "M"},
        ),
    )
    body = response.get_data(as_text=True)
    assert "The date 1984-02-31 does not exist." in body
    assert "Not a valid date value." not in body
    assert count(Household) == 0


def test_a_case_note_dated_in_the_future_is_refused(make: Factory) -> None:
    from datetime import timedelta

    from casework.households.models import CaseNote
    from casework.households.services import add_note

    household = make.household()
    with pytest.raises(ValidationError, match="future") as refused:
        add_note(
            make.coordinator(household.municipality),
            household,
            "Посета на домот.",
            "ngo",
            written_on=TODAY + timedelta(days=1),
            today=TODAY,
        )
    assert refused.value.field == "written_on"
    assert count(CaseNote) == 0


def test_a_field_the_form_refuses_does_not_hide_the_services_refusals_of_the_others(  # type: ignore[no-untyped-def]
    login_as,
) -> None:
    browser, coordinator = login_as(Role.COORDINATOR)
    response = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            address="",  # the form's own refusal
            consent_on="2030-01-01",
            phone="070 abc",
        ),
    )
    body = response.get_data(as_text=True)
    assert "This field is required." in body
    assert "The consent date cannot be in the future." in body
    assert "A phone number may contain digits" in body
    assert "Enter the household&#39;s address." not in body  # said once, by the form
    assert count(Household) == 0 and count(Member) == 0


# --- forms: nothing preselected, precise messages, refusals that name their field ---------------


def test_the_add_member_form_starts_with_no_relation_and_names_the_missing_one(  # type: ignore[no-untyped-def]
    login_as, make: Factory
) -> None:
    household = make.household()
    household_id = household.id
    browser, _ = login_as(Role.COORDINATOR)
    page = browser.get(f"/households/{household_id}/members/new").get_data(as_text=True)
    relation = page.split('name="relation"', 1)[1].split("</select>", 1)[0]
    first_option = relation.split("<option", 2)[1]
    assert 'value=""' in first_option and "Choose…" in first_option
    assert "selected" not in relation, "no relation (never Head) is preselected"
    response = browser.post(
        f"/households/{household_id}/members/new",
        {"first_name": "Ајше", "last_name": "Мамудовска", "national_id": "", "relation": ""},
    )
    body = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 200
    assert "Choose the member's relation to the head of the household." in body
    assert count(Member) == 1, "only the head"


@pytest.mark.parametrize("typed", ["150398543001", "1503 9854 3001"])
def test_a_twelve_digit_national_id_is_told_it_needs_exactly_thirteen(  # type: ignore[no-untyped-def]
    login_as, make: Factory, typed: str
) -> None:
    household = make.household()
    household_id = household.id
    browser, coordinator = login_as(Role.COORDINATOR)
    member = browser.post(
        f"/households/{household_id}/members/new",
        {
            "first_name": "Ајше",
            "last_name": "Мамудовска",
            "national_id": typed,
            "relation": "spouse",
        },
    ).get_data(as_text=True)
    registered = browser.post(
        "/households/new",
        _new_household_form(
            municipality_id=str(coordinator.roles[0].municipality_id),
            **{"head-national_id": typed},
        ),
    ).get_data(as_text=True)
    for body in (member, registered):
        assert "A national ID (ЕМБГ) has exactly 13 digits." in body
        assert "characters long" not in body
    assert count(Member) == 1 and count(Household) == 1
    with pytest.raises(ValidationError, match="exactly 13 digits") as refused:
        household_services.add_member(
            make.coordinator(household.municipality),
            household,
            MemberData("Ајше", "Мамудовска", None, national_id=typed, relation="spouse"),
            today=TODAY,
        )
    assert refused.value.field == "national_id"


def test_an_empty_case_note_is_refused_naming_the_note(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    from casework.households.models import CaseNote

    household = make.household()
    household_id = household.id
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.post(
        f"/households/{household_id}/notes",
        {"written_on": TODAY.isoformat(), "text": "", "visibility": "ngo"},
        follow_redirects=True,
    )
    assert "Note: This field is required." in response.get_data(as_text=True)
    assert count(CaseNote) == 0
