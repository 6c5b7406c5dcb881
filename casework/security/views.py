"""Logging in and out, re-authentication, the profile (password) and user accounts (admins)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from casework.actions import allow, perform, submit, visible
from casework.api import queries as api_queries
from casework.api import services as api_services
from casework.api.errors import is_api_request
from casework.db import read_only_active, utcnow
from casework.extensions import db
from casework.security import policies, queries
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
    """None when the password was typed recently enough; else the redirect to the page that
    asks for it again (``security.reauthenticate``). Views with more than one method call it
    for their writes only; ``recent_password_required`` calls it for every request.

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


def recent_password_required(view: F) -> F:
    """The view runs only if the user typed the password within the last
    ``CASEWORK_REAUTH_MINUTES`` of this server-side session (approving money, exporting
    personal data); otherwise ``reauth_redirect`` sends the user to type it again.

    Not Flask-Login's ``fresh_login_required``, which asks whether the session began with a
    password rather than a remember-me cookie: this asks how long ago the password was typed."""

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
    found = visible(current_session())
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
    found = visible(current_session())
    form = PasswordChangeForm()
    changed = submit(
        form,
        lambda: change_own_password(
            current_user,
            found,
            form.current_password.data or "",
            form.new_password.data or "",
            now=utcnow(),
        ),
        then=lambda _changed: redirect(url_for("security.profile")),
        success=_("Password changed. You were logged out everywhere else."),
    )
    return changed or render_template(
        "security/profile.html",
        form=form,
        token_form=TokenForm(formdata=None),
        tokens=api_services.tokens_of(current_user),
    )


@bp.post("/profile/tokens")
def create_api_token() -> str | Response:
    """A personal API token, shown once on the page that answers this form."""
    form = TokenForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return _tokens()
    return perform(
        lambda: api_services.create_token(current_user, current_user, form.name.data or ""),
        then=lambda made: make_response(
            render_template("security/token_created.html", token=made[0], secret=made[1])
        ),
        back=_tokens,
    )


@bp.post("/profile/tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int) -> Response:
    token = visible(api_queries.get_own_token(current_user, token_id))
    return perform(
        lambda: api_services.revoke_token(current_user, token, now=utcnow()),
        then=lambda _revoked: _tokens(),
        back=_tokens,
        success=_("Token revoked: programs using it are refused from now on."),
    )


def _tokens() -> Response:
    """Back to the profile page's list of tokens."""
    return redirect(url_for("security.profile") + "#tokens")


@bp.get("/admin/users")
def users() -> str:
    allow(policies.can_manage_users(current_user))
    return render_template("security/users.html", users=queries.manageable_users(current_user))


@bp.post("/admin/users/<int:user_id>/active")
def set_user_active(user_id: int) -> Response:
    allow(policies.can_manage_users(current_user))
    user = visible(queries.get_manageable_user(current_user, user_id))

    def back() -> Response:
        return redirect(url_for("security.users"))

    return perform(
        lambda: set_active(current_user, user, request.form.get("active") == "1", now=utcnow()),
        then=lambda _done: back(),
        back=back,
        success=_("Saved."),
    )
