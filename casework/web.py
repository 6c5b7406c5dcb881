"""Web glue shared by every area: blueprints, deny-by-default, locale, filters, headers."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, has_request_context, redirect, request, session, url_for
from flask_babel import get_locale, to_user_timezone
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from casework import formatting, labels
from casework.api.errors import is_api_request
from casework.config import LOCALES
from casework.db import mark_read_only
from casework.extensions import db, login_manager
from casework.forms_common import LANGUAGE_NAMES, form_key_input
from casework.households.services import mask_national_id
from casework.plain_text import PlainTextRequest
from casework.security import policies
from casework.urls import safe_next

# Deny by default: only these endpoints answer a visitor who is not logged in.
PUBLIC_ENDPOINTS = frozenset(
    {"static", "security.login", "set_language", "ops.healthz", "ops.readyz"}
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def select_locale() -> str | None:
    """The user's own choice (profile, or the switcher before logging in), then the browser's,
    then the default of the user's municipality, then the configured default. Under /api/ the
    request's Accept-Language comes first."""
    if not has_request_context():
        return None  # the CLI and the scheduler speak the configured default
    if is_api_request():
        # A program sets Accept-Language on purpose (a browser sends its own on every page,
        # hence the profile's precedence there): the API answers in the language asked for.
        asked = request.accept_languages.best_match(LOCALES)
        if asked:
            return asked
    user = current_user if current_user and current_user.is_authenticated else None
    if user is not None and user.locale in LOCALES:
        return str(user.locale)
    chosen = session.get("locale")
    if chosen in LOCALES:
        return str(chosen)
    from_browser = request.accept_languages.best_match(LOCALES)
    if from_browser:
        return from_browser
    if user is not None:
        place = next((r.municipality for r in user.roles if r.municipality is not None), None)
        if place is not None and place.default_locale in LOCALES:
            return place.default_locale
    return None


def _locale() -> str:
    return str(get_locale() or "mk")


def init_app(app: Flask) -> None:
    from casework.api import views as api_views
    from casework.audit.views import bp as audit_bp
    from casework.balances import api as balances_api
    from casework.balances.views import bp as balances_bp
    from casework.enrollment import api as enrollment_api
    from casework.enrollment.views import bp as enrollment_bp
    from casework.home.views import bp as home_bp
    from casework.households import api as households_api
    from casework.households.views import bp as households_bp
    from casework.imports.views import bp as imports_bp
    from casework.jobs.views import bp as jobs_bp
    from casework.mail.views import bp as mail_bp
    from casework.ops.views import bp as ops_bp
    from casework.payments import api as payments_api
    from casework.payments.views import bp as payments_bp
    from casework.privacy.views import bp as privacy_bp
    from casework.programmes import api as programmes_api
    from casework.reports.views import bp as reports_bp
    from casework.security.sessions import load_session_user
    from casework.security.views import bp as security_bp
    from casework.work import api as work_api
    from casework.work.views import bp as work_bp

    app.request_class = PlainTextRequest  # a query string's control characters are dropped
    app.register_blueprint(security_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(households_bp)
    app.register_blueprint(enrollment_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(work_bp)
    app.register_blueprint(balances_bp)
    app.register_blueprint(mail_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(ops_bp)
    api_views.init_app(
        app,
        [
            programmes_api.blp,
            payments_api.blp,
            work_api.blp,
            households_api.blp,
            enrollment_api.blp,
            balances_api.blp,
        ],
    )

    login_manager.login_view = "security.login"
    login_manager.session_protection = "strong"

    login_manager.user_loader(load_session_user)

    @app.before_request
    def _read_only_requests() -> None:
        """Before the user is loaded: a view marked read-only reads in a deferred transaction."""
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "read_only", False):
            mark_read_only()

    @app.before_request
    def _deny_by_default() -> BaseResponse | None:
        if is_api_request():
            return None  # the API answers with its own 401: tokens, not the login page
        if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
            return None
        if request.endpoint is None:
            return None  # unknown URL: the 404 page, which shows nothing
        return redirect(url_for("security.login", next=request.full_path.rstrip("?")))

    @app.post("/language")
    def set_language() -> BaseResponse:
        """Switch language and return to the same page."""
        from casework.security.services import set_locale

        locale = request.form.get("locale", "")
        if locale in LOCALES:
            session["locale"] = locale
            if current_user.is_authenticated:
                set_locale(current_user, locale)
                db.session.commit()
        return redirect(safe_next(request.form.get("next")))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        if app.config["CASEWORK"].is_production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.context_processor
    def _template_helpers() -> dict[str, Any]:
        return {
            "LOCALES": LOCALES,
            "current_locale": _locale,
            "role_label": lambda code: labels.label(labels.ROLE_LABELS, code),
            "relation_label": lambda code: labels.label(labels.RELATION_LABELS, code),
            "exemption_label": lambda code: labels.label(labels.EXEMPTION_LABELS, code),
            "sex_label": lambda code: labels.label(labels.SEX_LABELS, code),
            "status_label": lambda code: labels.label(labels.ENROLLMENT_STATUS_LABELS, code),
            "request_status_label": lambda code: labels.label(labels.REQUEST_STATUS_LABELS, code),
            "log_status_label": lambda code: labels.label(labels.LOG_STATUS_LABELS, code),
            "check_status_label": lambda code: labels.label(labels.CHECK_STATUS_LABELS, code),
            "trigger_label": lambda code: labels.label(labels.TRIGGER_LABELS, code),
            "job_kind_label": lambda code: labels.label(labels.JOB_KIND_LABELS, code),
            "job_state_label": lambda code: labels.label(labels.JOB_STATE_LABELS, code),
            "seat_label": lambda code: labels.label(labels.SEAT_LABELS, code),
            "close_reason_label": lambda code: labels.label(labels.CLOSE_REASON_LABELS, code),
            "vote_label": lambda code: labels.label(labels.VOTE_LABELS, code),
            "visibility_label": lambda code: labels.label(labels.NOTE_VISIBILITY_LABELS, code),
            "action_label": labels.action_label,
            "language_name": lambda code: LANGUAGE_NAMES.get(code, code),
            "can_import": lambda programme: (
                current_user.is_authenticated and policies.can_import(current_user, programme)
            ),
            # The programme's report, budget and balance checks: whoever sees its figures.
            "can_view_figures": lambda programme: (
                current_user.is_authenticated and policies.can_view_budget(current_user, programme)
            ),
            "nav_to_record": current_user.is_authenticated
            and policies.can_open_payments_to_record(current_user),
            "nav_returned": current_user.is_authenticated
            and policies.can_open_returned_requests(current_user),
            "nav_households": current_user.is_authenticated
            and policies.can_list_households(current_user),
            "nav_queue": current_user.is_authenticated
            and policies.can_open_payment_queue(current_user),
            "nav_log_hours": current_user.is_authenticated
            and policies.can_log_work_anywhere(current_user),
            "nav_sites": current_user.is_authenticated and policies.shows_work_sites(current_user),
            "nav_creditors": current_user.is_authenticated
            and policies.can_manage_creditors(current_user),
            "nav_users": current_user.is_authenticated and policies.can_manage_users(current_user),
            "nav_audit": current_user.is_authenticated and policies.can_search_audit(current_user),
        }

    # A form written by hand (a button per row) draws its one-time key: {{ form_key() }}.
    app.add_template_global(form_key_input, "form_key")
    app.add_template_filter(lambda v: formatting.money(v, _locale()), "money")
    app.add_template_filter(lambda v: formatting.hours(v, _locale()), "hours")
    app.add_template_filter(lambda v: formatting.day(v, _locale()), "day")
    # A moment (when a job started): the day and the time on the programme's clock.
    app.add_template_filter(
        lambda v: to_user_timezone(v).strftime("%d.%m.%Y %H:%M") if v else "—", "moment"
    )
    app.add_template_filter(mask_national_id, "masked_id")
    # Numbers for charts: hours and denars as plain numbers, months as 11.2026.
    app.add_template_filter(lambda minutes: round((minutes or 0) / 60, 1), "hours_number")
    app.add_template_filter(lambda deni: (deni or 0) / 100, "denars_number")
    app.add_template_filter(lambda month: month.strftime("%m.%Y"), "month_label")
