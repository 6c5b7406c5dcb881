"""The outbox for admins: what was sent, what waits, what failed."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from casework.mail import queries
from casework.security import policies

bp = Blueprint("mail", __name__)


@bp.get("/admin/outbox")
def outbox() -> str:
    if not policies.can_manage_users(current_user):
        abort(403)
    return render_template(
        "mail/outbox.html",
        messages=queries.recent_outbox(),
        smtp_configured=bool(current_app.config["CASEWORK"].smtp_url),
    )
