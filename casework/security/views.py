"""Logging in and out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from casework.db import utcnow
from casework.extensions import db
from casework.security.forms import LoginForm
from casework.security.services import authenticate
from casework.urls import safe_next

bp = Blueprint("security", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "", now=utcnow())
        if user is not None:
            locale = session.get("locale")
            session.clear()  # a new session on every login: no fixation
            if locale:
                session["locale"] = locale
            login_user(user)
            db.session.commit()
            return redirect(safe_next(form.next.data))
        db.session.rollback()
        form.form_errors.append(_("Wrong username or password."))
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template("security/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("security.login"))
