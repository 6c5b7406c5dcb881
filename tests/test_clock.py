"""The programme's clock: its day is Skopje's, not the server's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask

from casework import clock


class _Frozen(datetime):
    """23:30 UTC on 31 December: already 1 January in Kičevo (UTC+1 in winter)."""

    @classmethod
    def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
        moment = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)  # type: ignore[arg-type]


def test_the_programme_day_is_skopjes_when_the_server_runs_in_utc(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "datetime", _Frozen)
    with app.app_context():
        assert clock.today() == date(2026, 1, 1)
        assert clock.today("UTC") == date(2025, 12, 31)
    assert clock.today() == date(2026, 1, 1)  # outside the app: the default zone


def test_no_view_or_api_reads_the_wall_clock_for_a_date() -> None:
    """Every "today" of a page, the API, the CLI or the scheduler comes from casework.clock."""
    from pathlib import Path

    import casework

    root = Path(casework.__file__).parent
    readers = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "clock.py" and path.parent.name not in ("demo",) and path.name != "bench.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "date.today()" in line or "datetime.now()" in line
    ]
    assert readers == []
