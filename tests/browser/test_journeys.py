"""The three daily journeys, each as its users do it, in a real browser against a real server."""

from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.conftest import Server, Session

pytestmark = pytest.mark.browser

# Each journey at a desk (as its users usually do it) and on a 390×844 phone (every user of it).
VIEWPORTS = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])


def query(server: Server, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.db) as conn:
        return conn.execute(sql, params).fetchall()


def minutes(text: str) -> int:
    h, m = re.search(r"(\d+):(\d\d)", text).groups()  # type: ignore[union-attr]
    return int(h) * 60 + int(m)


def fact(page: Any, label: str) -> int:
    return minutes(page.locator(f"dt:text-is('{label}') + dd").inner_text())


@VIEWPORTS
def test_a_social_worker_logs_hours_on_a_phone_and_a_supervisor_confirms_them(
    browser: Any, demo_server: Server, phone: bool
) -> None:
    # A family of the social worker's that owes hours and has not started: its head may work
    # today. The demo has one such family per social worker: the phone run takes `worker2`'s.
    social_worker = "worker2" if phone else "worker"
    row = query(
        demo_server,
        """SELECT h.id, m.id FROM households h
           JOIN users u ON u.id = h.assigned_worker_id AND u.username = ?
           JOIN members m ON m.household_id = h.id AND m.is_head
           JOIN enrollments e ON e.household_id = h.id AND e.status = 'active'
           WHERE EXISTS (SELECT 1 FROM obligations o WHERE o.household_id = h.id)
             AND NOT EXISTS (SELECT 1 FROM work_logs w WHERE w.household_id = h.id)
             AND NOT EXISTS (SELECT 1 FROM exemptions x WHERE x.member_id = m.id)
             AND m.birth_date <= ?
           ORDER BY h.id LIMIT 1""",
        social_worker,
        (date.today() - timedelta(days=19 * 365)).isoformat(),
    )
    assert row, f"the demo has a family of {social_worker}'s that has not started"
    household_id, member_id = row[0]
    worker = Session(browser, demo_server, phone=True).login(social_worker)
    page = worker.page
    assert "My caseload" in page.inner_text("h1")
    page.click("text=Log hours >> visible=true >> nth=0")  # on a phone the header's is in its menu
    page.select_option("#member_id", str(member_id))
    page.fill("#duration", "2:00")
    page.fill("#task", "Чистење на паркот")
    page.click("form.log-form button[type=submit]")
    assert "Hours logged" in page.inner_text("main")
    worker.open(f"/households/{household_id}")
    assert fact(page, "Logged, waiting for verification") == 120
    assert fact(page, "Worked and verified") == 0
    site_id = query(demo_server, "SELECT site_id FROM work_logs ORDER BY id DESC LIMIT 1")[0][0]

    supervisor = Session(browser, demo_server, phone=phone).login("supervisor")
    supervisor.open("/home/supervisor")
    supervisor.page.click(f"a[href='/work/sites/{site_id}/week']")
    supervisor.page.click("text=Confirm the whole week")
    assert "logs confirmed" in supervisor.page.inner_text("main")
    supervisor.finish(f"journey-1-supervisor{'-phone' if phone else ''}")

    worker.open(f"/households/{household_id}")
    assert fact(page, "Worked and verified") == 120
    assert fact(page, "Logged, waiting for verification") == 0
    worker.finish(f"journey-1-social-worker{'-phone' if phone else ''}")


@VIEWPORTS
def test_a_debt_is_recorded_requested_approved_and_paid_and_hours_appear(
    browser: Any, demo_server: Server, phone: bool
) -> None:
    run = "-phone" if phone else ""  # each run its own statement and bank reference
    household_id, account_id = query(
        demo_server,
        """SELECT h.id, a.id FROM households h
           JOIN enrollments e ON e.household_id = h.id AND e.status = 'active'
           JOIN utility_accounts a ON a.household_id = h.id AND a.customer_number LIKE 'KOM%'
           ORDER BY h.id DESC LIMIT 1""",
    )[0]
    start, end = query(demo_server, "SELECT debt_period_from, debt_period_to FROM programmes")[0]
    coordinator = Session(browser, demo_server, phone=phone).login("coordinator")
    page = coordinator.open(f"/households/{household_id}/money")
    owed_before = minutes(page.locator(".cards article:nth-child(4) .big").inner_text())
    page.select_option("#arrear-account_id", str(account_id))
    page.fill("#arrear-period_from", start)
    page.fill("#arrear-period_to", end)
    page.fill("#arrear-principal", "4.800,00")
    page.fill("#arrear-penalty", "200,00")
    page.fill("#arrear-statement_ref", f"Опомена 99/2026{run}")
    page.fill("#arrear-received_on", date.today().isoformat())
    page.click("text=Record statement")
    assert "Debt statement recorded." in page.inner_text("main")
    arrear_id = query(demo_server, "SELECT max(id) FROM arrears")[0][0]
    page.select_option("#request-arrear_id", str(arrear_id))
    page.fill("#request-amount", "5.000,00")
    page.click("text=Save request")
    assert "Payment request saved." in page.inner_text("main")
    request_id = query(demo_server, "SELECT max(id) FROM payment_requests")[0][0]

    officer = Session(browser, demo_server, phone=phone).login("officer")
    officer.open("/payments/queue")
    officer.page.check(f"#pick-{request_id}")
    officer.page.click("text=Approve the chosen requests")
    assert "approvals recorded" in officer.page.inner_text("main")
    officer.finish(f"journey-2-officer{run}")

    officer2 = Session(browser, demo_server, phone=phone).login("officer2")
    officer2.open(f"/payments/requests/{request_id}")
    officer2.page.fill("#payment-reference", f"Извод 11-0099{run}")
    officer2.page.click("text=Record payment")
    assert "Payment recorded" in officer2.page.inner_text("main")
    officer2.finish(f"journey-2-second-officer{run}")

    coordinator.open(f"/households/{household_id}/money")
    owed_after = minutes(page.locator(".cards article:nth-child(4) .big").inner_text())
    assert owed_after - owed_before == 50 * 60  # 5.000 ден. at 100 ден. an hour
    coordinator.finish(f"journey-2-coordinator{run}")


@VIEWPORTS
def test_a_coordinator_runs_a_balance_check_and_the_social_worker_sees_the_alert(
    browser: Any, demo_server: Server, phone: bool
) -> None:
    run = "-phone" if phone else ""
    coordinator = Session(browser, demo_server, phone=phone).login("coordinator")
    page = coordinator.open("/programmes/1/checks")
    page.click("text=Check every family now")
    # The worker runs the check; the job's page follows its progress and then shows the result.
    page.wait_for_selector("text=/Balance check done.|had already run/", timeout=30_000)
    page.click("text=Open the result")
    page.wait_for_load_state()
    behind_column = page.locator("thead th").all_inner_texts().index("behind")
    behind = int(page.locator("tbody tr").first.locator("td").nth(behind_column).inner_text())
    assert behind > 0
    coordinator.finish(f"journey-3-coordinator{run}")
    worker = Session(browser, demo_server, phone=True).login("worker")
    alerts = worker.page.inner_text("#alerts")
    assert "behind" in alerts
    worker.finish(f"journey-3-social-worker{run}")
