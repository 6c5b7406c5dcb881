"""The server-side session under Flask-Login: the loader that honours a cookie only while its
session lives, and the re-authentication that approving money or exporting personal data asks
for. Not pages: they run before every view (``casework.web`` registers the loader)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from casework.api.errors import is_api_request
from casework.db import read_only_active, utcnow
from casework.extensions import db
from casework.security.models import User, UserSession
from casework.security.services import SessionLimits, is_fresh, live_session, touch_session
from casework.urls import safe_next

F = TypeVar("F", bound=Callable[..., Any])

SESSION_TOKEN = "sid"  # noqa: S105 - not a secret: the key of the server-side session's token in the signed cookie


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
