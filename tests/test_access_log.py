"""Who looked at a family's personal data, and why a national ID was shown: the access log,
and the search over it and the audit trail for auditors and admins."""

from __future__ import annotations

from sqlalchemy import func, select

from casework.audit.models import AccessRecord, AuditEvent
from casework.extensions import db
from casework.security.models import Role
from tests.conftest import Factory


def _access(action: str) -> list[AccessRecord]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AccessRecord).where(AccessRecord.action == action).order_by(AccessRecord.id)
        )
    )


def test_opening_a_household_is_logged_with_who_which_and_when(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, officer = login_as(Role.OFFICER)
    assert browser.get(f"/households/{household.id}").status_code == 200
    [entry] = _access("view_household")
    assert (entry.user_id, entry.household_id, entry.municipality_id) == (
        officer.id,
        household.id,
        household.municipality_id,
    )
    assert entry.user_roles == "officer"
    assert entry.request_id and entry.at is not None


def test_the_money_page_the_statement_and_the_list_are_logged(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    browser.get(f"/households/{household.id}/money")
    browser.get(f"/households/{household.id}/statement")
    browser.get("/households/")
    assert [e.household_id for e in _access("view_money")] == [household.id]
    assert [e.household_id for e in _access("view_statement")] == [household.id]
    [listed] = _access("view_list")
    assert household.case_number in listed.detail


def test_a_page_refused_for_scope_writes_no_access_entry(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, _ = login_as(Role.SOCIAL_WORKER)  # not its worker
    assert browser.get(f"/households/{household.id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AccessRecord)) == 0


def test_an_export_is_logged_with_its_kind_and_row_count(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    make.household()
    make.household(head_name=("Фатиме", "Рамадани"), address="ул. Карпош бр. 3")
    browser, _ = login_as(Role.COORDINATOR)
    assert browser.get("/exports/households.csv").status_code == 200
    [entry] = _access("export")
    assert entry.detail == "households.csv, 2 rows"


def test_national_ids_are_masked_and_a_coordinator_reveals_one_with_a_logged_reason(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    member = household.members[0]
    number = member.national_id
    assert number
    browser, coordinator = login_as(Role.COORDINATOR)
    page = browser.get(f"/households/{household.id}").get_data(as_text=True)
    assert number not in page
    assert f"/households/members/{member.id}/national-id" in page
    form = browser.get(f"/households/members/{member.id}/national-id").get_data(as_text=True)
    assert number not in form
    short = browser.post(f"/households/members/{member.id}/national-id", {"reason": "EVN"})
    assert number not in short.get_data(as_text=True)
    assert "at least 10 characters" in short.get_data(as_text=True)
    assert _access("reveal_national_id") == []
    reason = "EVN asks for it to match the account 0012345"
    shown = browser.post(f"/households/members/{member.id}/national-id", {"reason": reason})
    assert number in shown.get_data(as_text=True)
    [entry] = _access("reveal_national_id")
    assert (entry.user_id, entry.member_id, entry.reason) == (coordinator.id, member.id, reason)


def test_officers_and_social_workers_cannot_reveal_a_national_id(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    worker_browser, worker = login_as(Role.SOCIAL_WORKER)
    household = make.household(worker=worker)
    member = household.members[0]
    officer_browser, _ = login_as(Role.OFFICER)
    url = f"/households/members/{member.id}/national-id"
    for browser in (worker_browser, officer_browser):
        assert browser.get(url).status_code == 403
        refused = browser.post(url, {"reason": "just curious about the number"})
        assert refused.status_code == 403
        assert member.national_id not in refused.get_data(as_text=True)
    assert _access("reveal_national_id") == []


def test_an_auditor_searches_both_logs_within_its_municipality(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    elsewhere = make.household(
        municipality=make.municipality("OHR", "Охрид"),
        head_name=("Ирфан", "Демировски"),
        address="ул. Македонски просветители 1",
    )
    coordinator_browser, _ = login_as(Role.COORDINATOR)
    coordinator_browser.get(f"/households/{household.id}")
    auditor_browser, _ = login_as(Role.AUDITOR)
    access = auditor_browser.get(f"/audit/?log=access&household={household.case_number}").get_data(
        as_text=True
    )
    assert "view_household" in access
    assert household.case_number in access
    changes = auditor_browser.get("/audit/?log=changes&action=household.").get_data(as_text=True)
    assert "household.create" in changes
    # the other municipality's trail is not in the auditor's search
    other = auditor_browser.get(f"/audit/?log=changes&household={elsewhere.case_number}")
    assert f'"case_number": "{elsewhere.case_number}"' not in other.get_data(as_text=True)
    assert "household.create" not in other.get_data(as_text=True)


def test_social_workers_and_officers_cannot_search_the_logs(
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    # Coordinators read their municipalities' logs (issue 20: with the families' personal data).
    for role in (Role.SOCIAL_WORKER, Role.OFFICER, Role.SUPERVISOR):
        browser, _ = login_as(role)
        assert browser.get("/audit/").status_code == 403


def test_each_audit_entry_keeps_the_actors_roles_and_the_request_id(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, coordinator = login_as(Role.COORDINATOR)
    browser.post(
        f"/households/{household.id}/notes",
        {"written_on": "2022-01-17", "text": "Посета на домот.", "visibility": "ngo"},
    )
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "note.create"))
    assert event is not None
    assert (event.actor_id, event.actor_roles) == (coordinator.id, "coordinator")
    assert event.request_id and len(event.request_id) == 32
