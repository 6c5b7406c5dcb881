"""Every access rule, as a small pure function of the user and the object.

This is the one place to read who may do what. Views call these before acting, and
``queries`` turn the same scopes into SQL filters so that lists never hold rows a user
could not open. Anything not allowed here is denied.
"""

from __future__ import annotations

from dataclasses import dataclass

from casework.balances.models import Alert
from casework.enrollment.models import Enrollment
from casework.households.models import DuplicateReview, Household, Member
from casework.organizations.models import Organization
from casework.payments.models import Arrear, PaymentRequest, RequestStatus, UtilityAccount
from casework.programmes.models import Programme
from casework.security.models import Role, User
from casework.work.models import LogStatus, WorkLog, WorkSite


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


def can_create_households(user: User) -> bool:
    """The registration page and operation: a coordinator of some municipality."""
    return bool(municipalities_for_new_households(user))


def can_create_household(user: User, municipality_id: int) -> bool:
    """Register a household in a municipality: its coordinators."""
    return municipality_id in municipalities_for_new_households(user)


def can_manage_member(user: User, member: Member) -> bool:
    """Change a member or record its exemptions: whoever manages its household."""
    return can_manage_household(user, member.household)


def can_decide_duplicate(user: User, review: DuplicateReview) -> bool:
    """Say whether a likely duplicate is the same family: the new household's coordinators."""
    return can_manage_household(user, review.household)


# --- money ---------------------------------------------------------------------------------


def can_view_money(user: User, household: Household) -> bool:
    """A household's arrears, payments and hours owed: whoever may open the household."""
    return can_view_household(user, household)


def can_record_arrears(user: User, household: Household) -> bool:
    """Accounts, statements and payment requests are the NGO's side: its coordinators."""
    return can_manage_household(user, household)


def can_correct_arrear(user: User, arrear: Arrear) -> bool:
    """Void or replace a statement entered wrongly: whoever may record statements."""
    return can_record_arrears(user, arrear.account.household)


def can_correct_account(user: User, account: UtilityAccount) -> bool:
    """Correct a customer number entered wrongly: whoever may record accounts."""
    return can_record_arrears(user, account.household)


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


def creditor_municipalities(user: User) -> frozenset[int] | None:
    """Whose local creditors the user sees: those of its own municipalities, in any role (a
    global admin: every one, None). A creditor serving several municipalities (no
    municipality, a national utility) is everyone's."""
    if is_global_admin(user):
        return None
    return frozenset(user.municipalities_as(*Role))


def can_see_creditor(user: User, creditor: Organization) -> bool:
    """The same scope as the creditors' list, for one creditor named by its id."""
    scope = creditor_municipalities(user)
    return creditor.municipality_id is None or scope is None or creditor.municipality_id in scope


def creditor_serves(creditor: Organization, household: Household) -> bool:
    """A household's debts are owed to a creditor of its own municipality or a shared one."""
    return creditor.municipality_id in (None, household.municipality_id)


def payment_officer_municipalities(user: User) -> set[int]:
    """Where the user approves payments: its officers' municipalities (the queue's scope)."""
    return user.municipalities_as(Role.OFFICER)


def can_open_payment_queue(user: User) -> bool:
    """The officer's queue of submitted requests: officers (of any municipality)."""
    return bool(payment_officer_municipalities(user))


def can_open_payments_to_record(user: User) -> bool:
    """The officer's list of approved requests whose payment is still to be recorded: officers
    (of any municipality; the list holds its own municipalities' only)."""
    return can_open_payment_queue(user)


def returned_request_municipalities(user: User) -> set[int]:
    """Where rejected requests come back to the user: the municipalities it coordinates (the
    makers' side, where a request is changed and submitted again)."""
    return user.municipalities_as(Role.COORDINATOR)


def can_open_returned_requests(user: User) -> bool:
    """The coordinator's list of requests rejected back to it, with each reason."""
    return bool(returned_request_municipalities(user))


def has_given_first_approval(user: User, request: PaymentRequest) -> bool:
    """The officer's approval already counts in this round: a second, different officer must
    decide now (the officer is not offered Approve or Reject again)."""
    return request.status == RequestStatus.SUBMITTED and any(
        a.officer_id == user.id and a.round == request.round for a in request.approvals
    )


def may_decide_now(user: User, request: PaymentRequest) -> bool:
    """Approve or reject is offered: a submitted request of the officer's municipality that
    does not wait for another officer."""
    return (
        can_decide_request(user, request)
        and request.status == RequestStatus.SUBMITTED
        and not has_given_first_approval(user, request)
    )


def can_prepare_request(user: User, request: PaymentRequest) -> bool:
    """Change or submit a request: the maker's side (its household's coordinators)."""
    return can_prepare_payment(user, request.enrollment.household)


def can_decide_request(user: User, request: PaymentRequest) -> bool:
    """Approve, reject, pay or reverse a request: the checker's side (its municipality's
    officers)."""
    return can_decide_payment(user, request.enrollment.household)


def can_cancel_request(user: User, request: PaymentRequest) -> bool:
    """Withdraw an approved request: either side."""
    return can_cancel_payment(user, request.enrollment.household)


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


def can_withdraw_log(user: User, log: WorkLog) -> bool:
    """Taking back a log: only whoever logged it, and while the household is still theirs to
    log for (a worker moved off the case no longer may). That nobody has decided it yet is
    the service's rule (a 409 saying so, not a 403: the log may have been confirmed since the
    page was drawn); ``log_is_withdrawable`` is the page's question, both together."""
    return (
        log.logged_by_id == user.id
        and log.reverses_id is None
        and can_log_work(user, log.household)
    )


def log_is_withdrawable(user: User, log: WorkLog) -> bool:
    """Whether the log page offers "Withdraw": the user's own, still waiting for a decision."""
    return log.status == LogStatus.LOGGED and can_withdraw_log(user, log)


def can_verify_site(user: User, site: WorkSite) -> bool:
    return can_verify_at(user, site.municipality_id, site.enterprise_id)


def site_municipalities(user: User) -> set[int]:
    """Where the user adds work sites: its coordinators and admins."""
    return user.municipalities_as(Role.COORDINATOR, Role.ADMIN)


def can_manage_sites(user: User, municipality_id: int) -> bool:
    return municipality_id in site_municipalities(user) or is_global_admin(user)


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
    """Whose audit trail and access log a user may search: None means every municipality.
    Coordinators read their own municipalities' (who changed a family's record, and when)."""
    if is_global_admin(user):
        return None
    return user.municipalities_as(Role.AUDITOR, Role.ADMIN, Role.COORDINATOR)


def can_search_audit(user: User) -> bool:
    """Auditors (and the donor, who uses the auditor role), admins and coordinators."""
    scope = audit_municipalities(user)
    return scope is None or bool(scope)


def audit_personal_data_municipalities(user: User) -> set[int]:
    """Whose events a user reads with their personal fields (names, birth dates, addresses,
    reasons): the coordinators of the families' municipality, who see them on the household
    pages anyway (``can_manage_household``). Auditors and admins read case numbers only."""
    return user.municipalities_as(Role.COORDINATOR)


def can_reveal_national_id(user: User, household: Household) -> bool:
    """Seeing a whole national ID, with a reason that is logged: the household's coordinators."""
    return can_manage_household(user, household)


def can_export_household_data(user: User, household: Household) -> bool:
    """A subject access request is answered by the coordinators of the family's municipality."""
    return can_manage_household(user, household)


# --- programmes, enrollment and balance checks ---------------------------------------------


def programme_municipalities(user: User) -> set[int] | None:
    """Whose programmes the user sees: any role in a municipality; None for every one (the
    global admins, configuration only)."""
    return None if is_global_admin(user) else user.municipalities_as(*Role)


def can_create_programme(user: User, municipality_id: int) -> bool:
    """Programmes are set up by the municipality's admins, or the global admins."""
    return is_global_admin(user) or user.has_role(Role.ADMIN, municipality_id)


def can_manage_enrollment(user: User, enrollment: Enrollment) -> bool:
    """Every step of an enrollment is its household's coordinators'."""
    return can_manage_household(user, enrollment.household)


def can_close_enrollment_early(user: User, enrollment: Enrollment) -> bool:
    """Ending an enrollment with hours still owed: its household's coordinators, who see the
    balance and give the reason."""
    return can_manage_enrollment(user, enrollment)


def can_reopen_enrollment(user: User, enrollment: Enrollment) -> bool:
    """Undoing a closing (a completion in error, a withdrawal, an early closing): a
    coordinator of the household's municipality, with a reason."""
    return enrollment.household.municipality_id in user.municipalities_as(Role.COORDINATOR)


def can_read_alert(user: User, alert: Alert) -> bool:
    """An alert is its recipient's own: read per person, never seen by another."""
    return alert.user_id == user.id


def can_read_alerts(user: User) -> bool:
    """ "Mark all as read": the people alerts are sent to (social workers and coordinators);
    each marks only its own, within the households it may see."""
    return bool(user.municipalities_as(Role.SOCIAL_WORKER, Role.COORDINATOR))


# --- users, logging pages, payment steps, jobs ------------------------------------------------


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


def shows_work_sites(user: User) -> bool:
    """The work sites: whoever adds them in a municipality (its coordinators and admins), or a
    supervisor of an enterprise. A global admin has no site page yet: no link to one."""
    return bool(site_municipalities(user)) or any(r.role == Role.SUPERVISOR for r in user.roles)


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
