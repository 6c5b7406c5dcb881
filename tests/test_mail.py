"""Alert mail through a real SMTP server on loopback (aiosmtpd): sent once, retried on failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask import Flask
from sqlalchemy import select

from casework.balances import services as balances
from casework.extensions import db
from casework.mail import services as mail
from casework.mail.models import OutboxMessage
from casework.security.models import Role
from tests.conftest import TODAY, Factory


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[object] = []

    def handle_message(self, message: object) -> None:
        self.received.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_a_family_falling_behind_is_mailed_to_its_worker_once(
    make: Factory, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    programme = make.programme()
    worker = make.user(Role.SOCIAL_WORKER, email="elena@ngo.example")
    enrollment = make.active_enrollment(programme)
    enrollment.household.assigned_worker_id = worker.id
    make.paid(enrollment, 10_000_00)
    balances.run_check(programme, date(2022, 1, 17), today=TODAY)  # behind from the start
    db.session.commit()
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")).all()
    assert [m.to_address for m in queued] == ["elena@ngo.example"]  # the coordinator has no e-mail
    assert enrollment.household.case_number in queued[0].body
    assert enrollment.household.head.full_name in queued[0].body  # its own social worker only

    url = f"smtp://127.0.0.1:{port}"
    assert mail.send_pending(url, "casework@kicevo.example") == 1
    assert mail.send_pending(url, "casework@kicevo.example") == 0
    assert len(inbox.received) == 1
    received = inbox.received[0]
    assert received["To"] == "elena@ngo.example"  # type: ignore[index]
    assert received["Message-ID"] == queued[0].message_id  # type: ignore[index]
    assert enrollment.household.case_number in received["Subject"]  # type: ignore[index]


def test_a_failed_send_is_kept_and_retried_later(
    make: Factory, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    user = make.user(Role.COORDINATOR, email="ana@ngo.example")
    mail.queue(user, "casework: test", "text", "alert")
    db.session.commit()
    closed = free_port()
    assert mail.send_pending(f"smtp://127.0.0.1:{closed}", "casework@kicevo.example") == 0
    message = db.session.scalars(select(OutboxMessage)).one()
    assert (message.sent_at, message.attempts, message.claimed_at) == (None, 1, None)
    assert "ConnectionRefusedError" in message.last_error
    assert mail.send_pending(f"smtp://127.0.0.1:{port}", "casework@kicevo.example") == 1
    db.session.refresh(message)
    assert message.sent_at is not None and message.attempts == 2
    assert len(inbox.received) == 1


class Crash(BaseException):
    """The scheduler's process dying: nothing after it runs, no handler catches it."""


def test_a_mail_resent_after_a_crash_carries_the_same_message_id(
    app: Flask, make: Factory, smtp_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp_server
    url, sender = f"smtp://127.0.0.1:{port}", "casework@kicevo.example"
    monkeypatch.setitem(app.config, "CASEWORK", replace(app.config["CASEWORK"], mail_from=sender))
    user = make.user(Role.COORDINATOR, email="ana@ngo.example")
    queued = mail.queue(user, "casework: test", "text", "alert")
    db.session.commit()
    assert queued is not None
    message_id = queued.message_id
    assert message_id.startswith("<") and message_id.endswith("@kicevo.example>")

    connect = mail._connect

    def dies_after_the_server_took_it(smtp_url: str) -> object:
        server = connect(smtp_url)
        real_send = server.send_message

        def send_then_die(email: object) -> object:
            real_send(email)  # type: ignore[arg-type]
            raise Crash  # after the server accepted it, before it was marked sent

        server.send_message = send_then_die  # type: ignore[method-assign]
        return server

    monkeypatch.setattr(mail, "_connect", dies_after_the_server_took_it)
    with pytest.raises(Crash):
        mail.send_pending(url, sender)
    db.session.rollback()
    monkeypatch.setattr(mail, "_connect", connect)
    row = db.session.scalars(select(OutboxMessage)).one()
    assert (row.sent_at, row.attempts) == (None, 1) and row.claimed_at is not None  # "sending"
    assert mail.send_pending(url, sender) == 0  # its sender may still be at it

    later = mail.utcnow() + mail.CLAIM_TIMEOUT + timedelta(minutes=1)
    monkeypatch.setattr(mail, "utcnow", lambda: later)
    assert mail.send_pending(url, sender) == 1  # the stale claim: sent again
    assert mail.send_pending(url, sender) == 0
    db.session.refresh(row)
    assert row.sent_at is not None and row.attempts == 2
    assert row.message_id == message_id
    assert row.last_error == mail.INTERRUPTED  # the outbox page says it may have gone twice
    assert [m["Message-ID"] for m in inbox.received] == [message_id, message_id]  # type: ignore[index]


def test_every_queued_mail_has_its_own_message_id(make: Factory) -> None:
    first = make.user(Role.COORDINATOR, email="ana@ngo.example")
    second = make.user(Role.COORDINATOR, email="elena@ngo.example")
    ids = {mail.queue(u, "casework: test", "text", "alert").message_id for u in (first, second)}  # type: ignore[union-attr]
    db.session.commit()
    assert len(ids) == 2
    assert set(db.session.scalars(select(OutboxMessage.message_id))) == ids


def test_a_coordinator_gets_a_digest_without_family_names(make: Factory) -> None:
    programme = make.programme()
    coordinator = make.coordinator(make.municipality())
    coordinator.email = "coordinator@ngo.example"
    enrollment = make.active_enrollment(programme)
    make.paid(enrollment, 10_000_00)
    balances.run_check(programme, date(2022, 1, 17) - timedelta(days=0), today=TODAY)
    digest = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest")).one()
    assert enrollment.household.case_number in digest.body
    assert enrollment.household.head.full_name not in digest.body
    alert = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")).one()
    assert enrollment.household.head.full_name not in alert.body
