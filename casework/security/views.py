"""Logging in and out, re-authentication, the profile (password) and user accounts (admins)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from casework.api.errors import is_api_request
from casework.db import read_only_active, utcnow
from casework.errors import DomainError
from casework.extensions import db
from casework.forms_common import show_domain_error
from casework.security import policies
from casework.security.forms import LoginForm, PasswordChangeForm, ReauthForm, TokenForm
from casework.security.models import User, UserSession
from casework.security.services import (
    LoginLimits,
    SessionLimits,
    authenticate,
    change_own_password,
    confirm_password,
    end_session,
    is_fresh,
    live_session,
    login_blocked,
    record_login_attempt,
    set_active,
    start_session,
    touch_session,
)
from casework.urls import safe_next

bp = Blueprint("security", __name__)

SESSION_TOKEN = "sid"  # noqa: S105 - not a secret: the key of the server-side session's token in the signed cookie

F = TypeVar("F", bound=Callable[..., Any])


def session_limits() -> SessionLimits:
    return SessionLimits.from_settings(current_app.config["CASEWORK"])


def current_session() -> UserSession | None:
    """This request's server-side session (set while loading the user)."""
    return cast(UserSession | None, g.get("user_session"))


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's loader: the cookie is good only while its server-side session lives. The
    API knows tokens only (casework.api.views.load_token_user), never a browser's cookie."""
    if is_api_request() or not user_id.isdigit():
        return None
    now = utcnow()
    found = live_session(session.get(SESSION_TOKEN), now=now, limits=session_limits())
    # A read-only request (a progress poll) writes nothing: the next page records a timed-out
    # session, and polling does not keep a session alive.
    keep = db.session.rollback if read_only_active() else db.session.commit
    if found is None or found.user_id != int(user_id) or not found.user.active:
        keep()  # keep the reason a timed-out session ended
        return None
    g.user_session = found
    if not read_only_active() and touch_session(found, now=now):
        db.session.commit()
    return found.user


def _client_ip() -> str:
    # Behind a reverse proxy, CASEWORK_TRUSTED_PROXIES makes this the client's address.
    return request.remote_addr or ""


def reauth_redirect() -> Response | None:
    """None when the password was typed recently enough; else the way to the password page.

    A GET returns to the page it asked for; a POST cannot be replayed after the password
    page, so it returns to the page the form was on, where the user sends it again.
    """
    found = current_session()
    if found is not None and is_fresh(found, now=utcnow(), limits=session_limits()):
        return None
    if request.method == "GET":
        back = request.full_path.rstrip("?")
    else:
        back = safe_next(request.form.get("next") or request.referrer)
    flash(_("Enter your password again to go on."), "info")
    return redirect(url_for("security.reauthenticate", next=back))


def fresh_login_required(view: F) -> F:
    """Ask for the password again before approving money or exporting personal data."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return reauth_redirect() or view(*args, **kwargs)

    return cast(F, wrapper)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username, ip, now = form.username.data or "", _client_ip(), utcnow()
        limits = LoginLimits.from_settings(current_app.config["CASEWORK"])
        if login_blocked(username, ip, now=now, limits=limits):
            # The same answer whether or not the account exists, and the password is not tried.
            record_login_attempt(username, ip, succeeded=False, now=now)
            db.session.commit()
            form.form_errors.append(_("Too many failed attempts. Wait 15 minutes and try again."))
            return render_template("security/login.html", form=form), 429
        user = authenticate(username, form.password.data or "", now=now)
        record_login_attempt(username, ip, succeeded=user is not None, now=now)
        if user is not None:
            locale = session.get("locale")
            session.clear()  # a new session on every login: no fixation
            if locale:
                session["locale"] = locale
            session[SESSION_TOKEN] = start_session(
                user, now=now, ip=ip, user_agent=request.user_agent.string
            )
            login_user(user)
            db.session.commit()
            return redirect(safe_next(form.next.data))
        db.session.commit()  # the failed attempt counts, on every worker
        form.form_errors.append(_("Wrong username or password."))
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template("security/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    found = current_session()
    if found is not None:
        end_session(found, now=utcnow(), reason="logout")
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("security.login"))


@bp.route("/reauthenticate", methods=["GET", "POST"])
def reauthenticate() -> str | Response:
    found = current_session()
    if found is None:
        abort(404)
    form = ReauthForm()
    if form.validate_on_submit():
        if confirm_password(current_user, found, form.password.data or "", now=utcnow()):
            db.session.commit()
            return redirect(safe_next(form.next.data))
        db.session.rollback()
        form.password.errors = [_("Wrong password.")]
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template("security/reauthenticate.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
def profile() -> str | Response:
    found = current_session()
    if found is None:
        abort(404)
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            change_own_password(
                current_user,
                found,
                form.current_password.data or "",
                form.new_password.data or "",
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(error, form)
        else:
            db.session.commit()
            flash(_("Password changed. You were logged out everywhere else."), "success")
            return redirect(url_for("security.profile"))
    from casework.api.services import tokens_of

    return render_template(
        "security/profile.html",
        form=form,
        token_form=TokenForm(formdata=None),
        tokens=tokens_of(current_user),
    )


@bp.post("/profile/tokens")
def create_api_token() -> str | Response:
    """A personal API token, shown once on the page that answers this form."""
    from casework.api import services as api_services

    form = TokenForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("security.profile") + "#tokens")
    try:
        token, secret = api_services.create_token(current_user, current_user, form.name.data or "")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("security.profile") + "#tokens")
    db.session.commit()
    return render_template("security/token_created.html", token=token, secret=secret)


@bp.post("/profile/tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int) -> Response:
    from casework.api import services as api_services
    from casework.api.models import ApiToken

    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    api_services.revoke_token(current_user, token, now=utcnow())
    db.session.commit()
    flash(_("Token revoked: programs using it are refused from now on."), "success")
    return redirect(url_for("security.profile") + "#tokens")


@bp.get("/admin/users")
def users() -> str:
    if not policies.can_manage_users(current_user):
        abort(403)
    everyone = db.session.scalars(select(User).order_by(User.username)).all()
    mine = [u for u in everyone if policies.can_manage_user(current_user, u)]
    return render_template("security/users.html", users=mine)


@bp.post("/admin/users/<int:user_id>/active")
def set_user_active(user_id: int) -> Response:
    if not policies.can_manage_users(current_user):
        abort(403)
    user = db.session.get(User, user_id)
    if user is None or not policies.can_manage_user(current_user, user):
        abort(404)  # another municipality's staff: as if the account did not exist
    try:
        set_active(current_user, user, request.form.get("active") == "1", now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Saved."), "success")
    return redirect(url_for("security.users"))
