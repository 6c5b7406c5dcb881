"""Every access rule, as a small pure function of the user and the object.

This is the one place to read who may do what. Views call these before acting, and
``queries`` turn the same scopes into SQL filters so that lists never hold rows a user
could not open. Anything not allowed here is denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from casework.households.models import Household
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work.models import WorkLog, WorkSite


@dataclass(frozen=True)
class HouseholdScope:
    """Which households a user may see: whole municipalities, or only its own caseload."""

    municipalities: frozenset[int]
    caseload_worker_id: int | None
    caseload_municipalities: frozenset[int]

    @property
    def is_empty(self) -> bool:
        return not self.municipalities and not self.caseload_municipalities


def household_scope(user: User) -> HouseholdScope:
    return HouseholdScope(
        municipalities=frozenset(user.municipalities_as(Role.COORDINATOR, Role.OFFICER)),
        caseload_worker_id=user.id,
        caseload_municipalities=frozenset(user.municipalities_as(Role.SOCIAL_WORKER)),
    )


def can_list_households(user: User) -> bool:
    return not household_scope(user).is_empty


def can_view_household(user: User, household: Household) -> bool:
    scope = household_scope(user)
    if household.municipality_id in scope.municipalities:
        return True
    return (
        household.municipality_id in scope.caseload_municipalities
        and household.assigned_worker_id == user.id
    )


def municipalities_for_new_households(user: User) -> set[int]:
    return user.municipalities_as(Role.COORDINATOR)


def can_manage_household(user: User, household: Household) -> bool:
    """Change a household's record and its members: the coordinators of its municipality."""
    return household.municipality_id in user.municipalities_as(Role.COORDINATOR)


def can_assign_worker(user: User, household: Household, worker: User) -> bool:
    return can_manage_household(user, household) and worker.has_role(
        Role.SOCIAL_WORKER, household.municipality_id
    )


def can_manage_users(user: User) -> bool:
    return user.has_role(Role.ADMIN)


def can_open_home(user: User, role: Role) -> bool:
    return role in user.role_names()


def is_global_admin(user: User) -> bool:
    """An admin over every municipality (configuration only: no personal data through it)."""
    return any(r.role == Role.ADMIN and r.municipality_id is None for r in user.roles)


def can_view_programme(user: User, programme: Programme) -> bool:
    return is_global_admin(user) or programme.municipality_id in user.municipalities_as(*Role)


def can_manage_programme(user: User, programme: Programme) -> bool:
    """Set up a programme's commission and settings: its coordinators and admins."""
    return programme.municipality_id in user.municipalities_as(
        Role.COORDINATOR, Role.ADMIN
    ) or is_global_admin(user)


def can_write_note(user: User, household: Household) -> bool:
    """NGO staff following the household: its coordinators and its own social worker."""
    return can_manage_household(user, household) or (
        household.assigned_worker_id == user.id
        and household.municipality_id in user.municipalities_as(Role.SOCIAL_WORKER)
    )


def can_read_ngo_notes(user: User, household: Household) -> bool:
    """NGO-only notes: never the municipality's officers."""
    return can_write_note(user, household)


# --- money ---------------------------------------------------------------------------------


def can_view_money(user: User, household: Household) -> bool:
    """A household's arrears, payments and hours owed: whoever may open the household."""
    return can_view_household(user, household)


def can_record_arrears(user: User, household: Household) -> bool:
    """Accounts, statements and payment requests are the NGO's side: its coordinators."""
    return can_manage_household(user, household)


def can_decide_payments(user: User, municipality_id: int) -> bool:
    """Approve, reject, record and reverse payments: the municipality's officers."""
    return municipality_id in user.municipalities_as(Role.OFFICER)


def can_view_budget(user: User, programme: Programme) -> bool:
    """Figures without names: officers, coordinators, auditors and admins of the programme."""
    return is_global_admin(user) or programme.municipality_id in user.municipalities_as(
        Role.OFFICER, Role.COORDINATOR, Role.AUDITOR, Role.ADMIN
    )


def can_manage_creditors(user: User) -> bool:
    return user.has_role(Role.ADMIN)


# --- community work --------------------------------------------------------------------------


def can_log_work(user: User, household: Household) -> bool:
    """Hours for a household: its social worker (its caseload only) and its coordinators."""
    return can_write_note(user, household)


def can_verify_at(user: User, municipality_id: int, enterprise_id: int) -> bool:
    """Confirm hours at a site: the enterprise's own supervisors, or the coordinators."""
    if municipality_id in user.municipalities_as(Role.COORDINATOR):
        return True
    return any(
        r.role == Role.SUPERVISOR
        and r.organization_id == enterprise_id
        and r.municipality_id in (None, municipality_id)
        for r in user.roles
    )


def can_see_log(user: User, log: WorkLog) -> bool:
    """A log is seen by whoever sees its household or confirms hours at its site."""
    return can_view_household(user, log.household) or can_verify_at(
        user, log.site.municipality_id, log.site.enterprise_id
    )


def can_decide_log(user: User, log: WorkLog, *, correcting: bool = False) -> bool:
    """Confirming or rejecting is the site's; correcting also the household's NGO staff."""
    site = log.site
    return can_verify_at(user, site.municipality_id, site.enterprise_id) or (
        correcting and can_log_work(user, log.household)
    )


def can_verify_site(user: User, site: WorkSite) -> bool:
    return can_verify_at(user, site.municipality_id, site.enterprise_id)


def site_municipalities(user: User) -> set[int]:
    """Where the user adds work sites: its coordinators and admins."""
    return user.municipalities_as(Role.COORDINATOR, Role.ADMIN)


def can_manage_sites(user: User, municipality_id: int) -> bool:
    return municipality_id in user.municipalities_as(Role.COORDINATOR, Role.ADMIN) or (
        is_global_admin(user)
    )


# --- imports -----------------------------------------------------------------------------------


def can_import(user: User, programme: Programme) -> bool:
    """Import lists of families and statements: the coordinators who could type them in."""
    return programme.municipality_id in user.municipalities_as(Role.COORDINATOR)


# --- reports and exports -----------------------------------------------------------------------


def pseudonymised_export_municipalities(user: User) -> set[int]:
    """Auditors (and the donor, who uses the auditor role) get rows by case number only."""
    return user.municipalities_as(Role.AUDITOR)


def can_export(user: User, *, pseudonymised: bool) -> bool:
    """Exports hold the rows the user sees on screen; auditors only the pseudonymised kind."""
    if can_list_households(user):
        return True
    return pseudonymised and bool(pseudonymised_export_municipalities(user))


def can_view_statement(user: User, household: Household) -> bool:
    """The family statement: whoever may open the household's money."""
    return can_view_money(user, household)


# --- privacy: the audit trail, the access log, national IDs, subject access ---------------------


def audit_municipalities(user: User) -> set[int] | None:
    """Whose audit trail and access log a user may search: None means every municipality."""
    if is_global_admin(user):
        return None
    return user.municipalities_as(Role.AUDITOR, Role.ADMIN)


def can_search_audit(user: User) -> bool:
    """Auditors (and the donor, who uses the auditor role) and admins read both logs."""
    scope = audit_municipalities(user)
    return scope is None or bool(scope)


def can_reveal_national_id(user: User, household: Household) -> bool:
    """Seeing a whole national ID, with a reason that is logged: the household's coordinators."""
    return can_manage_household(user, household)


def can_export_household_data(user: User, household: Household) -> bool:
    """A subject access request is answered by the coordinators of the family's municipality."""
    return can_manage_household(user, household)


# --- the access matrix: every route × every role, in one table --------------------------------


def can_manage_user(actor: User, user: User) -> bool:
    """An account: the global admins, or an admin of every municipality the account works in
    (an admin of one municipality never locks out, or lists, the staff of another)."""
    if is_global_admin(actor):
        return True
    places = actor.municipalities_as(Role.ADMIN)
    return bool(user.roles) and all(r.municipality_id in places for r in user.roles)


def can_log_work_anywhere(user: User) -> bool:
    """The page for logging hours: social workers and coordinators (never officers)."""
    return bool(user.municipalities_as(Role.SOCIAL_WORKER, Role.COORDINATOR))


def can_prepare_payment(user: User, household: Household) -> bool:
    """Change or submit a payment request: the coordinators (the makers)."""
    return can_record_arrears(user, household)


def can_decide_payment(user: User, household: Household) -> bool:
    """Approve, reject, record or reverse a household's payment: its municipality's officers."""
    return can_decide_payments(user, household.municipality_id)


def can_cancel_payment(user: User, household: Household) -> bool:
    """Withdraw a request that is not paid: its maker's side or the officers."""
    return can_prepare_payment(user, household) or can_decide_payment(user, household)


def can_view_job(user: User, requested_by_id: int) -> bool:
    """A job (its progress, result or error) is its requester's own."""
    return requested_by_id == user.id


# --- navigation: which links the layout shows, and the scope of each role's home page ------------


def shows_payment_queue(user: User) -> bool:
    """The officers' queue of requests to decide: an officer of any municipality."""
    return bool(user.municipalities_as(Role.OFFICER))


def shows_work_sites(user: User) -> bool:
    """The work sites: a coordinator of any municipality, or a supervisor of an enterprise."""
    return bool(user.municipalities_as(Role.COORDINATOR)) or any(
        r.role == Role.SUPERVISOR for r in user.roles
    )


def home_municipalities(user: User, role: Role) -> set[int]:
    """What a role's home page covers: the municipalities where the user holds that role."""
    return user.municipalities_as(role)


# --- accounts and API tokens ---------------------------------------------------------------------


def can_manage_tokens_of(actor: User, user_id: int) -> bool:
    """Make or revoke a user's API tokens: the user, or an admin."""
    return actor.id == user_id or can_manage_users(actor)


def is_own_token(user: User, token_user_id: int) -> bool:
    """The profile page lists and revokes the user's own tokens only."""
    return token_user_id == user.id


def can_read_outbox_message(user: User, recipient: User | None) -> bool:
    """Mail to the staff the admin manages; mail to no account, a global admin only."""
    if recipient is None:
        return is_global_admin(user)
    return can_manage_user(user, recipient)


class Outcome(StrEnum):
    """What a route answers one user, asked about objects of the user's own municipality."""

    ALLOW = "ok"  # the page, the file or the action (an empty form is still refused by its checks)
    FORBIDDEN = "403"  # the role may not do this here
    NOT_FOUND = "404"  # the object lies outside what the user may see: as if it did not exist
    LOGIN = "login"  # no one logged in: the login page, or the API's 401 without a token


class Actor(StrEnum):
    """A column of the matrix: one role held in one municipality, or the admin of them all."""

    GLOBAL_ADMIN = "global_admin"  # Role.ADMIN with no municipality: configuration everywhere
    ADMIN = "admin"  # Role.ADMIN in one municipality
    COORDINATOR = "coordinator"
    SOCIAL_WORKER = "social_worker"  # with the household in its caseload
    OFFICER = "officer"
    SUPERVISOR = "supervisor"  # of the enterprise that runs the work site
    AUDITOR = "auditor"


def _row(cells: str) -> dict[Actor, Outcome]:
    outcomes = [Outcome(cell) for cell in cells.split()]
    if len(outcomes) != len(Actor):
        raise ValueError(f"a row of the access matrix needs {len(Actor)} cells: {cells!r}")
    return dict(zip(Actor, outcomes, strict=True))


# Every route a logged-in user can reach, keyed by endpoint ("METHOD endpoint" where GET and
# POST differ), with what each role gets when the object (household, member, account, request,
# log, site, programme, upload, alert, review, user, token) is in its own municipality. With an
# object of another municipality every role gets what an id that does not exist gets: 404 (403
# only where the role may never use the route). A social worker is further held to its caseload, a
# supervisor to its enterprise's sites: elsewhere in the municipality they get 404 as well.
# Anonymous visitors get LOGIN everywhere outside web.PUBLIC_ENDPOINTS and the API's public
# document. The API (/api/v1) is asked with the user's token, the pages with its session. A
# POST is ALLOW when the request reaches the form; a redirect to /reauthenticate is ALLOW.
# tests/test_access_matrix.py asks every pair and fails on any route missing here.
# fmt: off
ROUTE_ACCESS: dict[str, dict[Actor, Outcome]] = {
    #                                        global admin  coord- social offi-  super- audi-
    #                                        admin         inator worker cer    visor  tor
    # one's own account, home page (of a role it holds) and API tokens: everyone logged in
    "security.profile":                _row("ok     ok     ok     ok     ok     ok     ok"),
    "security.reauthenticate":         _row("ok     ok     ok     ok     ok     ok     ok"),
    "security.logout":                 _row("ok     ok     ok     ok     ok     ok     ok"),
    "home.index":                      _row("ok     ok     ok     ok     ok     ok     ok"),
    "home.role_home":                  _row("ok     ok     ok     ok     ok     ok     ok"),
    "security.create_api_token":       _row("ok     ok     ok     ok     ok     ok     ok"),
    "security.revoke_api_token":       _row("ok     ok     ok     ok     ok     ok     ok"),
    # configuration: admins (accounts only of the municipalities they administer)
    "security.users":                  _row("ok     ok     403    403    403    403    403"),
    "security.set_user_active":        _row("ok     ok     403    403    403    403    403"),
    "mail.outbox":                     _row("ok     ok     403    403    403    403    403"),
    "payments.creditors":              _row("ok     ok     403    403    403    403    403"),
    "work.sites":                      _row("403    ok     ok     403    403    ok     403"),
    "enrollment.commission":           _row("ok     ok     ok     403    403    403    403"),
    # the audit trail and the access log: auditors and admins
    "audit.search":                    _row("ok     ok     403    403    403    403    ok"),
    # the register: coordinators change it; social workers read their caseload; officers read
    "households.index":                _row("403    403    ok     ok     ok     403    403"),
    "households.create":               _row("403    403    ok     403    403    403    403"),
    "households.detail":               _row("404    404    ok     ok     ok     404    404"),
    "households.edit":                 _row("404    404    ok     403    403    404    404"),
    "households.add_member":           _row("404    404    ok     403    403    404    404"),
    "households.edit_member":          _row("404    404    ok     403    403    404    404"),
    "households.add_exemption":        _row("404    404    ok     403    403    404    404"),
    "households.decide_duplicate":     _row("404    404    ok     403    403    404    404"),
    "households.reveal_national_id":   _row("404    404    ok     403    403    404    404"),
    "households.add_note":             _row("404    404    ok     ok     403    404    404"),
    # enrollment steps: the coordinators
    "enrollment.apply":                _row("404    404    ok     403    403    404    404"),
    "enrollment.decision":             _row("404    404    ok     403    403    404    404"),
    "enrollment.agreement":            _row("404    404    ok     403    403    404    404"),
    "enrollment.withdraw":             _row("404    404    ok     403    403    404    404"),
    "enrollment.complete":             _row("404    404    ok     403    403    404    404"),
    # money: coordinators record and prepare, officers decide and pay (maker ≠ checker)
    "payments.money":                  _row("404    404    ok     ok     ok     404    404"),
    "payments.add_account":            _row("404    404    ok     403    403    404    404"),
    "payments.add_arrear":             _row("404    404    ok     403    403    404    404"),
    "payments.add_request":            _row("404    404    ok     403    403    404    404"),
    "payments.request_detail":         _row("404    404    ok     ok     ok     404    404"),
    "payments.edit_request":           _row("404    404    ok     403    403    404    404"),
    "payments.submit_request":         _row("404    404    ok     403    403    404    404"),
    "payments.cancel_request":         _row("404    404    ok     403    ok     404    404"),
    "payments.approve_request":        _row("404    404    403    403    ok     404    404"),
    "payments.reject_request":         _row("404    404    403    403    ok     404    404"),
    "payments.record_payment":         _row("404    404    403    403    ok     404    404"),
    "payments.reverse_payment":        _row("404    404    403    403    ok     404    404"),
    "payments.queue":                  _row("403    403    403    403    ok     403    403"),
    # community work: hours logged by the NGO, confirmed at the site by its supervisor
    "work.log":                        _row("403    403    ok     ok     403    403    403"),
    "work.verify":                     _row("404    404    ok     403    403    ok     404"),
    "work.reject":                     _row("404    404    ok     403    403    ok     404"),
    "work.correct":                    _row("404    404    ok     ok     403    ok     404"),
    "work.week":                       _row("404    404    ok     404    404    ok     404"),
    # programme figures without names (social workers and supervisors do not see them)
    "payments.budget":                 _row("ok     ok     ok     404    ok     404    ok"),
    "GET balances.checks":             _row("ok     ok     ok     404    ok     404    ok"),
    "POST balances.checks":            _row("ok     ok     ok     404    403    404    403"),
    "GET reports.report":              _row("ok     ok     ok     404    ok     404    ok"),
    "POST reports.report":             _row("ok     ok     ok     404    403    404    403"),
    "reports.report_pdf":              _row("ok     ok     ok     404    ok     404    ok"),
    "reports.report_xlsx":             _row("ok     ok     ok     404    ok     404    ok"),
    # the family statement: whoever may open the household's money
    "reports.statement":               _row("404    404    ok     ok     ok     404    404"),
    "reports.statement_pdf":           _row("404    404    ok     ok     ok     404    404"),
    # exports: the rows one sees on screen; auditors only pseudonymised ones; admins none
    "reports.export":                  _row("403    403    ok     ok     ok     403    ok"),
    # a family's own data (subject access request): its municipality's coordinators
    "privacy.data_json":               _row("404    404    ok     403    403    404    404"),
    "privacy.data_pdf":                _row("404    404    ok     403    403    404    404"),
    # the API (/api/v1, with the user's token): the same scopes and steps as the pages;
    # its lists hold only what the caller may see (empty rather than 403 for some roles)
    "api_me.me":                       _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_programmes.list_programmes":  _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_programmes.get_programme":    _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_programmes.get_report":       _row("ok     ok     ok     404    ok     404    ok"),
    "api_enrollment.list_commission":  _row("ok     ok     ok     403    403    403    403"),
    "api_balances.run_check":          _row("ok     ok     ok     404    403    404    403"),
    "api_households.list_households":  _row("403    403    ok     ok     ok     403    403"),
    "api_households.create_household": _row("403    403    ok     403    403    403    403"),
    "api_households.get_household":    _row("404    404    ok     ok     ok     404    404"),
    "api_households.add_member":       _row("404    404    ok     403    403    404    404"),
    "api_households.add_exemption":    _row("404    404    ok     403    403    404    404"),
    "api_enrollment.enrollment_step":  _row("404    404    ok     403    403    404    404"),
    "api_balances.get_balance":        _row("404    404    ok     ok     ok     404    404"),
    "api_payments.list_creditors":     _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_payments.add_account":        _row("404    404    ok     403    403    404    404"),
    "api_payments.add_arrear":         _row("404    404    ok     403    403    404    404"),
    "api_payments.create_request":     _row("404    404    ok     403    403    404    404"),
    "api_payments.list_requests":      _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_payments.get_request":        _row("404    404    ok     ok     ok     404    404"),
    "api_payments.submit_request":     _row("404    404    ok     403    403    404    404"),
    "api_payments.approve_request":    _row("404    404    403    403    ok     404    404"),
    "api_payments.reject_request":     _row("404    404    403    403    ok     404    404"),
    "api_payments.record_payment":     _row("404    404    403    403    ok     404    404"),
    "api_payments.reverse_payment":    _row("404    404    403    403    ok     404    404"),
    "api_work.list_sites":             _row("403    403    ok     ok     403    ok     403"),
    "api_work.list_work_logs":         _row("ok     ok     ok     ok     ok     ok     ok"),
    "api_work.log_work":               _row("403    403    ok     ok     403    403    403"),
    "api_work.verify_log":             _row("404    404    ok     403    403    ok     404"),
    "api_work.reject_log":             _row("404    404    ok     403    403    ok     404"),
    "api_work.reverse_log":            _row("404    404    ok     ok     403    ok     404"),
    # an alert is its recipient's own
    "balances.read_alert":             _row("404    404    404    ok     404    404    404"),
    # imports: the coordinators who could type the rows in; an upload is its uploader's own
    "imports.upload":                  _row("403    403    ok     403    403    403    403"),
    "imports.template":                _row("403    403    ok     403    403    403    403"),
    "imports.report":                  _row("404    404    ok     404    404    404    404"),
    "imports.errors_csv":              _row("404    404    ok     404    404    404    404"),
    "imports.confirm":                 _row("404    404    ok     404    404    404    404"),
    # a job (an import checked by the worker, a balance check) is its requester's own
    "jobs.show":                       _row("404    404    ok     404    404    404    404"),
    "jobs.status":                     _row("404    404    ok     404    404    404    404"),
    "jobs.file":                       _row("404    404    ok     404    404    404    404"),
}
# fmt: on


def matrix_endpoint(key: str) -> str:
    """The endpoint a key of ROUTE_ACCESS stands for ("POST reports.report" → "reports.report")."""
    return key.rsplit(" ", 1)[-1]


def expected_access(endpoint: str, method: str, actor: Actor) -> Outcome:
    """The declared outcome of one request (KeyError for a route the matrix does not name)."""
    row = ROUTE_ACCESS.get(f"{method} {endpoint}") or ROUTE_ACCESS[endpoint]
    return row[actor]
