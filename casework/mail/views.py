"""The outbox for admins: what was sent, what waits, what failed."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from casework.actions import allow
from casework.extensions import db
from casework.mail import queries
from casework.mail.models import OutboxMessage
from casework.security import policies
from casework.security.models import User

bp = Blueprint("mail", __name__)


@bp.get("/admin/outbox")
def outbox() -> str:
    allow(policies.can_manage_users(current_user))
    messages = queries.recent_outbox()
    ids = sorted({m.user_id for m in messages if m.user_id is not None})
    recipients = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}

    def mine(message: OutboxMessage) -> bool:
        """Mail to the staff the admin manages (an admin of all: every message)."""
        to = recipients.get(message.user_id) if message.user_id is not None else None
        return policies.can_read_outbox_message(current_user, to)

    return render_template(
        "mail/outbox.html",
        messages=[_as_shown(m) for m in messages if mine(m)],
        smtp_configured=bool(current_app.config["CASEWORK"].smtp_url),
    )


def _as_shown(message: OutboxMessage) -> SimpleNamespace:
    """A message as the admin sees it: an alert's text may name the family (its own social
    worker reads the name), so only its recipient reads it; the subject holds the case number."""
    body = message.body
    if message.kind == "alert":
        body = _("(The text names a family: only its recipient reads it.)")
    return SimpleNamespace(
        created_at=message.created_at,
        to_address=message.to_address,
        subject=message.subject,
        body=body,
        sent_at=message.sent_at,
        attempts=message.attempts,
        last_error=message.last_error,
    )
