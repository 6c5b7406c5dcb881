"""Alert mail through a real SMTP server on loopback (aiosmtpd): sent once, retried on failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
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
