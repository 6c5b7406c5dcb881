"""Logging in and out, re-authentication, the profile (password) and user accounts (admins)."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
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

from casework.actions import allow, done, perform, submit, visible
from casework.api import queries as api_queries
from casework.api import services as api_services
from casework.db import utcnow
from casework.forms_common import named_errors
from casework.plain_text import strip_control
from casework.security import policies, queries
from casework.security.forms import LoginForm, PasswordChangeForm, ReauthForm, TokenForm
from casework.security.services import (
    LoginLimits,
    change_own_password,
    confirm_password,
    end_session,
    log_in,
    set_active,
)
from casework.security.sessions import (
    SESSION_TOKEN,
    current_session,
)
from casework.urls import safe_next

bp = Blueprint("security", __name__)


def _client_ip() -> str:
    # Behind a reverse proxy, CASEWORK_TRUSTED_PROXIES makes this the client's address (a
    # header's copy: its control characters are dropped, as the user agent's, before storing).
    return strip_control(request.remote_addr or "")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        result = log_in(
            form.username.data or "",
            form.password.data or "",
            ip=_client_ip(),
            user_agent=strip_control(request.user_agent.string),
            now=utcnow(),
            limits=LoginLimits.from_settings(current_app.config["CASEWORK"]),
        )
        if result.user is None:  # the failed attempt counts, on every worker: committed
            if result.blocked:
                form.form_errors.append(
                    _("Too many failed attempts. Wait 15 minutes and try again.")
                )
                return done((render_template("security/login.html", form=form), 429))
            form.form_errors.append(_("Wrong username or password."))
            return done(render_template("security/login.html", form=form))
        locale = session.get("locale")
        session.clear()  # a new session on every login: no fixation
        if locale:
            session["locale"] = locale
        session[SESSION_TOKEN] = result.session_token
        login_user(result.user)
        return done(redirect(safe_next(form.next.data)))
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template("security/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    found = current_session()
    if found is not None:
        end_session(found, now=utcnow(), reason="logout")
    logout_user()
    session.clear()
    return done(redirect(url_for("security.login")))


@bp.route("/reauthenticate", methods=["GET", "POST"])
def reauthenticate() -> str | Response:
    found = visible(current_session())
    form = ReauthForm()
    if form.validate_on_submit():
        if confirm_password(current_user, found, form.password.data or "", now=utcnow()):
            return done(redirect(safe_next(form.next.data)))
        form.password.errors = [_("Wrong password.")]  # nothing was written
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
        for refusal in named_errors(form):
            flash(refusal, "error")
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
