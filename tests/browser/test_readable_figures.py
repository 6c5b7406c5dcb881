"""Charts in the reader's language, beside tables that write numbers the same way; alerts
marked read with one button."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Server, Session
from tests.browser.test_journeys import query

TICKS = (
    "Object.values(Chart.instances).map(c => c.scales.y ? c.scales.y.ticks.map(t => t.label) : [])"
)


def test_the_charts_write_numbers_as_the_pages_language_does(
    browser: Any, demo_server: Server
) -> None:
    coordinator = Session(browser, demo_server).login("coordinator")
    for language, thousand in (("mk", "50.000"), ("sq", "50\u00a0000"), ("en", "50,000")):
        page = coordinator.page
        page.click(f"button[value={language}]")
        page.wait_for_load_state()
        ticks = [label for chart in page.evaluate(TICKS) for label in chart]
        assert thousand in ticks, (language, ticks)
    coordinator.finish("readable-charts-coordinator")


def test_the_budget_doughnut_paints_what_is_left_in_grey_not_warning_orange(
    browser: Any, demo_server: Server
) -> None:
    officer = Session(browser, demo_server).login("officer")
    colours = officer.page.evaluate(
        "Object.values(Chart.instances).filter(c => c.config.type === 'doughnut')"
        ".map(c => c.data.datasets[0].backgroundColor[2])"
    )
    assert colours and all(colour == "#b0bec5" for colour in colours)
    officer.finish("readable-charts-officer")


def test_mark_all_as_read_empties_the_social_workers_alerts(
    browser: Any, demo_server: Server
) -> None:
    worker = Session(browser, demo_server, phone=True).login("worker")
    (user_id,) = query(demo_server, "SELECT id FROM users WHERE username = 'worker'")[0]
    unread = "SELECT count(*) FROM alerts WHERE user_id = ? AND read_at IS NULL"
    assert query(demo_server, unread, user_id)[0][0] > 0
    others_before = query(
        demo_server, "SELECT count(*) FROM alerts WHERE read_at IS NULL AND user_id != ?", user_id
    )
    worker.page.click("#alerts .alerts-head button")
    worker.page.wait_for_load_state()
    assert worker.page.locator("#alerts").count() == 0
    assert query(demo_server, unread, user_id)[0][0] == 0
    others_after = query(
        demo_server, "SELECT count(*) FROM alerts WHERE read_at IS NULL AND user_id != ?", user_id
    )
    assert others_after == others_before  # the coordinators' copies stay unread
    worker.finish("readable-alerts-read")
