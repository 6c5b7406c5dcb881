"""The family statement, the programme report, and exports as files."""

from __future__ import annotations

import dataclasses
from datetime import date

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from casework import clock
from casework.actions import allow, checked, done, recorded, respond, submit, visible
from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.bounds import query_int
from casework.errors import DomainError
from casework.households.queries import get_visible_household
from casework.jobs.models import Job
from casework.programmes import queries as programme_queries
from casework.programmes.models import Programme
from casework.programmes.services import Targets, set_targets
from casework.reports import queries, rendering, services
from casework.reports.exports import Export
from casework.reports.forms import PeriodForm, TargetsForm
from casework.security import policies
from casework.security.sessions import recent_password_required

bp = Blueprint("reports", __name__)


def _page_locale() -> str:
    return str(get_locale() or "mk")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _job_page(job: Job) -> Response:
    """The page of the job just queued, where its file will be offered."""
    return redirect(url_for("jobs.show", job_id=job.id))


# --- the family statement ----------------------------------------------------------------------


def _statement(household_id: int) -> queries.Statement:
    household = visible(get_visible_household(current_user, household_id))
    allow(policies.can_view_statement(current_user, household))
    return queries.statement(household, clock.today())


def _log_statement(found: queries.Statement, detail: str) -> None:
    """Who read the statement goes to the access log, once the answer is made."""
    log_access(
        current_user,
        AccessAction.VIEW_STATEMENT,
        household_id=found.household.id,
        municipality_id=found.household.municipality_id,
        detail=detail,
    )


@bp.get("/households/<int:household_id>/statement")
def statement(household_id: int) -> str:
    found = _statement(household_id)
    with force_locale(found.household.language):  # the family reads it in its own language
        # A rendered template, escaped by Jinja already: the page embeds it as it is.
        content = Markup(render_template("reports/_statement.html", statement=found))  # noqa: S704
    # ... and the page's own controls are the user's, in the user's language.
    page = render_template("reports/statement.html", statement=found, content=content)
    return recorded(page, lambda: _log_statement(found, "page"))


@bp.get("/households/<int:household_id>/statement.pdf")
def statement_pdf(household_id: int) -> Response:
    found = _statement(household_id)
    locale = found.household.language
    with force_locale(locale):
        body = rendering.statement_pdf(found, locale)
    response = Response(
        body,
        mimetype="application/pdf",
        headers=_attachment(f"statement-{found.household.case_number}.pdf"),
    )
    return recorded(response, lambda: _log_statement(found, "pdf"))


# --- the programme report ----------------------------------------------------------------------


def _programme(programme_id: int) -> Programme:
    return visible(programme_queries.get_budget_programme(current_user, programme_id))


def _figures(programme: Programme, form: PeriodForm) -> queries.Indicators | None:
    """The report for the period asked (the programme's start until today by default), or
    None with the refusal next to the field."""
    today = clock.today()
    period_from = form.period_from.data or programme.starts_on
    period_to = form.period_to.data or max(period_from, min(today, programme.ends_on or today))
    if form.errors:
        return None
    if not checked(form, lambda: services.check_period(period_from, period_to)):
        return None
    return queries.indicators(programme, period_from, period_to)


def _targets(form: TargetsForm) -> Targets:
    hours = form.target_hours.data
    return Targets(
        families=form.target_families.data,
        debt_deni=form.target_debt.data,
        minutes=hours * 60 if hours else None,
    )


@bp.route("/programmes/<int:programme_id>/report", methods=["GET", "POST"])
def report(programme_id: int) -> str | Response:
    programme = _programme(programme_id)
    may_set_targets = policies.can_manage_programme(current_user, programme)
    targets = TargetsForm(
        data={
            "target_families": programme.target_families,
            "target_debt": programme.target_debt_deni,
            "target_hours": programme.target_minutes // 60 if programme.target_minutes else None,
        }
        if request.method == "GET"
        else None
    )
    if request.method == "POST":
        allow(may_set_targets)
        saved = submit(
            targets,
            lambda: set_targets(current_user, programme, _targets(targets)),
            then=lambda _done: redirect(url_for("reports.report", programme_id=programme.id)),
            success=_("Targets saved."),
        )
        if saved is not None:
            return saved
    period = PeriodForm(request.args)
    period.validate()
    figures = _figures(programme, period)
    months = figures.months if figures else []
    return render_template(
        "reports/report.html",
        month_labels=[f"{m.month:%m.%Y}" for m in months],
        paid_series=[m.paid_deni / 100 for m in months],
        owed_series=[round(m.owed_minutes / 60, 1) for m in months],
        verified_series=[round(m.verified_minutes / 60, 1) for m in months],
        programme=programme,
        period=period,
        figures=figures,
        facts=rendering.report_facts(figures, _page_locale()) if figures else [],
        targets=targets,
        may_set_targets=may_set_targets,
        may_export_names=policies.can_list_households(current_user),
    )


def _report_file(programme_id: int, fmt: str) -> Response:
    programme = _programme(programme_id)
    period = PeriodForm(request.args)
    period.validate()
    figures = _figures(programme, period)
    if figures is None:
        problems = [e for errors in period.errors.values() for e in errors] + period.form_errors
        return Response(" ".join(str(p) for p in problems), status=400, mimetype="text/plain")
    # The worker draws the file; the job's page offers it for download.
    return done(
        _job_page(
            services.start_report_file(
                current_user, programme, figures, fmt, locale=_page_locale(), today=clock.today()
            )
        )
    )


@bp.get("/programmes/<int:programme_id>/report.pdf")
def report_pdf(programme_id: int) -> Response:
    return _report_file(programme_id, "pdf")


@bp.get("/programmes/<int:programme_id>/report.xlsx")
def report_xlsx(programme_id: int) -> Response:
    return _report_file(programme_id, "xlsx")


# --- exports -----------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400)


@bp.get("/exports/<kind>.<fmt>")
@recent_password_required
def export(kind: str, fmt: str) -> Response:
    """Rows as on screen (the same scope and filters), recorded in the audit trail: CSV
    streamed at once, a workbook built by the worker."""
    programme_id = request.args.get("programme_id", type=query_int)
    if programme_id is None and request.args.get("programme_id"):
        abort(404)  # a programme past the column's range: none such, never all of them
    if programme_id is not None:
        _programme(programme_id)  # 404 for a programme the user may not see
    wanted = services.ExportFilter(
        kind=kind,
        fmt=fmt,
        q=request.args.get("q", ""),
        programme_id=programme_id,
        period_from=_date_arg("from"),
        period_to=_date_arg("to"),
        pseudonymised=request.args.get("pseudonymised") == "1"
        or not policies.can_export(current_user, pseudonymised=False),
    )

    def _listed() -> services.ExportFilter:
        """With the household list's filters: a value none of them offers is refused."""
        return dataclasses.replace(wanted, **services.list_filter_args(request.args))

    if fmt == "xlsx":  # a workbook is built by the worker, then downloaded from its page
        return respond(
            lambda: services.start_export(
                current_user, _listed(), locale=_page_locale(), today=clock.today()
            ),
            then=_job_page,
            refused=_refused_link,
        )

    def _built() -> Export:
        listed = _listed()
        built = services.build_export(current_user, listed)
        services.record_export(current_user, listed, built)
        return built

    return respond(
        _built,
        then=lambda built: Response(
            stream_with_context(rendering.stream_csv(built)),
            mimetype="text/csv",
            headers=_attachment(services.export_filename(wanted, clock.today())),
        ),
        refused=_refused_link,
    )


def _refused_link(error: DomainError) -> Response:
    """A download link, not a form: a refusal of the user is a 403, of the link a 400."""
    if error.field is None:
        abort(403)
    return Response(error.message, status=400, mimetype="text/plain")
