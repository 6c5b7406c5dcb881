"""Queueing and sending mail. Sending claims each message with a conditional update before
talking to the server ("sending", with the attempt counted), and marks it sent right after: two
senders never send one message. A sender that dies between the server's acceptance and the mark
leaves the claim behind; once it is stale the message goes again with the SAME stored
Message-ID, and the row says it was resent after an interrupted send (README, "Mail")."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update

from casework.db import utcnow
from casework.extensions import db
from casework.mail.models import OutboxMessage, new_message_id
from casework.security.models import User

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_ATTEMPTS = 8
# Kept on a message resent after its sender died mid-send, also once the resend went: the
# recipient may have it twice, under one Message-ID, and the outbox page says so.
INTERRUPTED = "Interrupted after handing the message over: sent again with the same Message-ID."


def queue(user: User, subject: str, body: str, kind: str) -> OutboxMessage | None:
    """Store a message for ``user``; nothing when the user has no e-mail address."""
    if not user.email:
        return None
    message = OutboxMessage(
        user_id=user.id,
        to_address=user.email,
        subject=subject[:200],
        body=body,
        kind=kind,
        message_id=new_message_id(),
    )
    db.session.add(message)
    return message


def _claim(message_id: int, now: datetime) -> bool:
    """Take the message for this sender: a fresh one, or one whose sender died mid-send (its
    claim stale). Each is one conditional update, so two senders never both win."""
    unsent = (OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
    claimed = _claim_where(now, *unsent, OutboxMessage.claimed_at.is_(None))
    if not claimed:
        claimed = _claim_where(
            now,
            *unsent,
            OutboxMessage.claimed_at < now - CLAIM_TIMEOUT,
            last_error=INTERRUPTED,
        )
        if claimed:
            log.warning("mail %s: the last send was interrupted; sending it again", message_id)
    db.session.commit()
    return claimed


def _claim_where(now: datetime, *where: Any, **values: Any) -> bool:
    result = db.session.execute(
        update(OutboxMessage)
        .where(*where)
        .values(claimed_at=now, attempts=OutboxMessage.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _connect(smtp_url: str) -> smtplib.SMTP:
    parts = urlsplit(smtp_url)
    host, port = parts.hostname or "localhost", parts.port
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=30)
    else:
        server = smtplib.SMTP(host, port or 25, timeout=30)
        server.ehlo()
        if server.has_extn("starttls"):
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def send_pending(smtp_url: str, mail_from: str, *, limit: int = 100) -> int:
    """Send what waits in the outbox; return how many went. Commits as it goes."""
    if not smtp_url:
        return 0
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    db.session.commit()
    if not ids:
        return 0
    sent = 0
    server: smtplib.SMTP | None = None
    try:
        for message_id in ids:
            if not _claim(message_id, utcnow()):
                continue  # another sender has it
            message = db.session.get(OutboxMessage, message_id)
            if message is None:
                continue
            email = EmailMessage()
            email["From"], email["To"], email["Subject"] = (
                mail_from,
                message.to_address,
                message.subject,
            )
            email["Message-ID"] = message.message_id  # the same on every attempt
            email.set_content(message.body)
            try:
                server = server or _connect(smtp_url)
                server.send_message(email)
            except (OSError, smtplib.SMTPException) as error:
                message.last_error = f"{type(error).__name__}: {error}"[:500]
                message.claimed_at = None  # free for the next try
                db.session.commit()
                log.warning("mail %s not sent: %s", message_id, message.last_error)
                server = None
                continue
            message.sent_at = utcnow()
            if message.last_error != INTERRUPTED:
                message.last_error = ""
            db.session.commit()
            sent += 1
    finally:
        if server is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                server.quit()
    return sent
