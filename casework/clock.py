"""The programme's clock: the one place that reads the wall clock for a date.

The programme's day is Europe/Skopje's (or the municipality's own zone, from the settings),
not the server's: a server in UTC is still on yesterday at 00:30 in Kičevo, and an hour
logged then would fall on the wrong day and the wrong week's cap. Views, the API, the CLI and
the scheduler ask this module for "today" and hand it to the services, which never read a
clock themselves; tests pin it with the ``today_is`` fixture.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Europe/Skopje"


def zone(name: str | None = None) -> ZoneInfo:
    """The named zone, else the deployment's (``CASEWORK_DEFAULT_TIMEZONE``)."""
    if name:
        return ZoneInfo(name)
    if has_app_context():
        return ZoneInfo(current_app.config["CASEWORK"].default_timezone)
    return ZoneInfo(DEFAULT_ZONE)


def now(zone_name: str | None = None) -> datetime:
    """The moment in the programme's zone (aware)."""
    return datetime.now(zone(zone_name))


def today(zone_name: str | None = None) -> date:
    """The programme's date: what a social worker at the work site calls today."""
    return now(zone_name).date()
