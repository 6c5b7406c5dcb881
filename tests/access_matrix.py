"""The route × role matrix: what every route answers every role, the oracle of the access tests.

It is written down here, apart from ``casework.security.policies``, on purpose: the policies are
the implementation, this table is the specification they are checked against
(tests/test_access_matrix.py asks every route as every role and compares). A rule changed in
one place and not the other fails the suite instead of silently agreeing with itself.
"""

from __future__ import annotations

from enum import StrEnum


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
# test_access_matrix.py asks every pair and fails on any route missing here.
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
    # the audit trail and the access log: auditors and admins (pseudonymised), coordinators
    "audit.search":                    _row("ok     ok     ok     403    403    403    ok"),
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
    "enrollment.close_early":          _row("404    404    ok     403    403    404    404"),
    "enrollment.reopen":               _row("404    404    ok     403    403    404    404"),
    # money: coordinators record and prepare, officers decide and pay (maker ≠ checker)
    "payments.money":                  _row("404    404    ok     ok     ok     404    404"),
    "payments.add_account":            _row("404    404    ok     403    403    404    404"),
    "payments.add_arrear":             _row("404    404    ok     403    403    404    404"),
    "payments.add_request":            _row("404    404    ok     403    403    404    404"),
    "payments.correct_arrear":         _row("404    404    ok     403    403    404    404"),
    "payments.void_arrear":            _row("404    404    ok     403    403    404    404"),
    "payments.replace_arrear":         _row("404    404    ok     403    403    404    404"),
    "payments.correct_account":        _row("404    404    ok     403    403    404    404"),
    "payments.request_detail":         _row("404    404    ok     ok     ok     404    404"),
    "payments.edit_request":           _row("404    404    ok     403    403    404    404"),
    "payments.submit_request":         _row("404    404    ok     403    403    404    404"),
    "payments.cancel_request":         _row("404    404    ok     403    ok     404    404"),
    "payments.approve_request":        _row("404    404    403    403    ok     404    404"),
    "payments.reject_request":         _row("404    404    403    403    ok     404    404"),
    "payments.record_payment":         _row("404    404    403    403    ok     404    404"),
    "payments.reverse_payment":        _row("404    404    403    403    ok     404    404"),
    "payments.queue":                  _row("403    403    403    403    ok     403    403"),
    "payments.to_record":              _row("403    403    403    403    ok     403    403"),
    "payments.returned":               _row("403    403    ok     403    403    403    403"),
    # community work: hours logged by the NGO, confirmed at the site by its supervisor
    "work.log":                        _row("403    403    ok     ok     403    403    403"),
    "work.verify":                     _row("404    404    ok     403    403    ok     404"),
    "work.reject":                     _row("404    404    ok     403    403    ok     404"),
    "work.correct":                    _row("404    404    ok     ok     403    ok     404"),
    # withdrawing a log nobody has decided: only whoever logged it (the caseload's worker)
    "work.withdraw":                   _row("404    404    403    ok     403    403    404"),
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
    "api_payments.void_arrear":        _row("404    404    ok     403    403    404    404"),
    "api_payments.replace_arrear":     _row("404    404    ok     403    403    404    404"),
    "api_payments.correct_customer_number": _row("404    404    ok     403    403    404    404"),
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
    "api_work.withdraw_log":           _row("404    404    403    ok     403    403    404"),
    "api_work.reverse_log":            _row("404    404    ok     ok     403    ok     404"),
    # an alert is its recipient's own
    "balances.read_alert":             _row("404    404    404    ok     404    404    404"),
    # "mark all as read": the people alerts are sent to, each its own
    "balances.read_all_alerts":        _row("403    403    ok     ok     403    403    403"),
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
