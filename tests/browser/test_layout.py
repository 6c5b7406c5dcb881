"""Every role's pages fit a phone (390×844: nothing scrolls sideways, no table box overflows) and a
desk (1366×900: no table is wider than its page), in Macedonian, with a caption on every table.
One server and one browser for the module; one browser context per role, resized in place."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, Session

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}

# What overflows, measured in the page: [] when it fits.
PHONE_OVERFLOW = """() => {
  const out = [];
  const width = document.documentElement.scrollWidth;
  if (width > 390) out.push(`page is ${width}px wide`);
  for (const box of document.querySelectorAll('.table-scroll')) {
    if (box.offsetParent !== null && box.scrollWidth > box.clientWidth + 1)
      out.push(`table box ${box.scrollWidth}px in ${box.clientWidth}px`);
  }
  return out;
}"""
DESK_OVERFLOW = """() => {
  const out = [];
  for (const table of document.querySelectorAll('main table')) {
    if (table.offsetParent === null) continue;
    const box = table.parentElement;
    const wide = Math.max(table.getBoundingClientRect().width, box.scrollWidth);
    if (wide > box.clientWidth + 1)
      out.push(`table ${Math.round(wide)}px in ${box.clientWidth}px: ${table.caption?.innerText}`);
  }
  return out;
}"""
UNCAPTIONED = "() => [...document.querySelectorAll('main table')].filter(t => !t.caption).length"


def one(server: Server, sql: str, *params: object) -> int:
    with sqlite3.connect(server.db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def pages(server: Server) -> dict[str, list[str]]:
    """The pages each role uses in its day, with real records of the demo."""
    request = one(server, "SELECT min(id) FROM payment_requests WHERE status = 'submitted'")
    household = one(
        server,
        """SELECT a.household_id FROM payment_requests r JOIN arrears ar ON ar.id = r.arrear_id
           JOIN utility_accounts a ON a.id = ar.account_id WHERE r.id = ?""",
        request,
    )
    mine = one(
        server,
        """SELECT min(h.id) FROM households h JOIN users u ON u.id = h.assigned_worker_id
           WHERE u.username = 'worker'""",
    )
    site = one(
        server,
        """SELECT min(s.id) FROM work_sites s JOIN role_assignments g
           ON g.organization_id = s.enterprise_id JOIN users u ON u.id = g.user_id
           WHERE u.username = 'supervisor'""",
    )
    programme = one(server, "SELECT min(programme_id) FROM enrollments")
    p = f"/programmes/{programme}"
    return {
        "coordinator": [
            "/",
            "/households",
            "/households?status=active&sort=urgency",
            "/payments/returned",
            f"/households/{household}",
            f"/households/{household}/money",
            f"/households/{household}/statement",
            f"/payments/requests/{request}",
            f"{p}/checks",
            f"{p}/report",
            f"{p}/budget",
            f"{p}/import",
            "/audit/",
            "/profile",
        ],
        "worker": ["/", f"/households/{mine}", "/work/log", "/profile"],
        "officer": [
            "/",
            "/payments/queue",
            "/payments/to-record",
            f"/households/{household}/money",
            f"/payments/requests/{request}",
            f"{p}/budget",
            f"{p}/report",
            "/profile",
        ],
        "supervisor": ["/", "/work/sites", f"/work/sites/{site}/week", "/profile"],
        "auditor": ["/", "/audit/", f"{p}/report", f"{p}/checks", "/profile"],
        "admin": ["/", "/admin/users", "/admin/creditors", "/admin/outbox", "/audit/", "/profile"],
    }


def amount_beside_each_checkbox(page: Any) -> None:
    """The officer approving on a phone sees each request's amount on the checkbox's line."""
    for pick in page.locator("td.pick").all():
        box = pick.locator("input[type=checkbox]").bounding_box()
        amount = pick.locator("label")
        assert amount.is_visible() and re.search(r"\d,\d\d ден\.", amount.inner_text())
        line = amount.bounding_box()
        assert line["y"] < box["y"] + box["height"] and box["y"] < line["y"] + line["height"]


def one_day_at_a_time(page: Any) -> None:
    """The supervisor's phone shows one day of the week (today, or the day picked from a link to
    each day), each person with that day's entries and the week's total."""
    assert page.locator(".day-picker a").count() == 7
    assert page.locator(".day-picker a[aria-current=date]").count() == 1
    rows = page.locator("table.timesheet tbody tr").count()
    assert rows > 0
    assert page.locator("table.timesheet td.picked:visible").count() == rows
    assert page.locator("table.timesheet td.total:visible").count() == rows
    assert page.locator("table.timesheet td.num:not(.picked):not(.total):visible").count() == 0


CHECKS = {"/payments/queue": amount_beside_each_checkbox, "/week": one_day_at_a_time}

# A page's main action is on the phone's first screen, above alerts and lists.
MAIN_ACTIONS = {
    ("worker", "/"): "main a[role=button][href$='/work/log']",
    ("coordinator", "/households"): "main a[role=button][href$='/households/new']",
}


def main_action_on_first_screen(page: Any, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], (selector, box)


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def measured(page: Any, path: str) -> list[str]:
    """What does not fit on the page now open: at 390 px, then at 1366 px."""
    page.set_viewport_size(PHONE)
    problems = [f"{path} at 390: {p}" for p in page.evaluate(PHONE_OVERFLOW)]
    for ending, check in CHECKS.items():
        if path.endswith(ending):
            check(page)
    if page.evaluate(UNCAPTIONED):
        problems.append(f"{path}: a table without a caption")
    page.set_viewport_size(DESK)
    return problems + [f"{path} at 1366: {p}" for p in page.evaluate(DESK_OVERFLOW)]


def import_report(page: Any, server: Server) -> list[str]:
    """The coordinator's import report: a file with errors, checked (a dry run, nothing stored)."""
    page.goto(server.url + next(p for p in pages(server)["coordinator"] if p.endswith("/import")))
    page.set_input_files("input[type=file]", str(EXAMPLES / "households-with-errors.csv"))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/imports/" in page.url
    return measured(page, "/imports/…")


@pytest.mark.parametrize(
    "role", ["coordinator", "worker", "officer", "supervisor", "auditor", "admin"]
)
def test_no_page_of_a_role_scrolls_sideways_on_a_phone_nor_hides_columns_at_a_desk(
    browser: Any, demo_server: Server, role: str
) -> None:
    session = Session(browser, demo_server, phone=True).login(role)
    page = session.page
    session.speak("mk")  # the longest labels are Macedonian and Albanian, not English
    problems: list[str] = []
    for path in pages(demo_server)[role]:
        page.set_viewport_size(PHONE)
        session.open(path)
        status = page.evaluate("() => performance.getEntriesByType('navigation')[0].responseStatus")
        assert status == 200, f"{role} {path}: {status}"
        if (role, path) in MAIN_ACTIONS:
            main_action_on_first_screen(page, MAIN_ACTIONS[role, path])
        problems += measured(page, path)
    if role == "coordinator":
        problems += import_report(page, demo_server)
    assert problems == [], problems
    session.finish(f"layout-{role}")
