"""Money, hours and dates as people in the programme write them, per locale."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from babel.numbers import format_decimal
from flask_babel import gettext

from casework.i18n import gettext_noop, translate

# Each language writes the denar and the hour its own way: the catalogues say how.
CURRENCY = gettext_noop("MKD")
HOUR = gettext_noop("h")


def money(deni: int | None, locale: str) -> str:
    """``16605000`` deni → ``166.050,00 ден.`` in Macedonian."""
    if deni is None:
        return "—"
    amount = format_decimal(Decimal(deni) / 100, format="#,##0.00", locale=locale)
    return f"{amount} {translate(CURRENCY, locale)}"


def hours(minutes: int | None, locale: str) -> str:
    """``750`` minutes → ``12:30 ч``: hours and minutes, never a fraction of an hour;
    ``77730`` → ``1.295:30 ч``."""
    if minutes is None:
        return "—"
    sign = "−" if minutes < 0 else ""
    h, m = divmod(abs(minutes), 60)
    # Thousands grouped as the locale groups money (1.295:30 ч beside 166.050,00 ден.).
    whole = format_decimal(h, format="#,##0", locale=locale)
    return f"{sign}{whole}:{m:02d} {translate(HOUR, locale)}"


def clock_hours(minutes: int) -> str:
    """``750`` minutes → ``12:30``: the figure of ``hours`` without its unit (a spreadsheet's
    column says the unit once, in its header)."""
    sign = "−" if minutes < 0 else ""
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h}:{m:02d}"


def day(value: date | None, locale: str) -> str:
    """Dates as ``23.11.2026`` in every locale the programme works in."""
    if value is None:
        return "—"
    return value.strftime("%d.%m.%Y")


# --- a programme's check schedule, in words ------------------------------------------------------

# The day names only: APScheduler counts a number as 0 = Monday where cron means Sunday, so a
# numbered day is shown as written rather than risk naming the wrong one.
_WEEKLY = {
    "mon": gettext_noop("Mondays at %(time)s"),
    "tue": gettext_noop("Tuesdays at %(time)s"),
    "wed": gettext_noop("Wednesdays at %(time)s"),
    "thu": gettext_noop("Thursdays at %(time)s"),
    "fri": gettext_noop("Fridays at %(time)s"),
    "sat": gettext_noop("Saturdays at %(time)s"),
    "sun": gettext_noop("Sundays at %(time)s"),
    "mon-fri": gettext_noop("Monday to Friday at %(time)s"),
}
_DAILY = gettext_noop("Every day at %(time)s")
_MONTHLY = gettext_noop("On day %(day)s of each month at %(time)s")


def _number(field: str, highest: int) -> int | None:
    return int(field) if field.isdigit() and int(field) <= highest else None


def schedule(cron: str, locale: str) -> str:
    """``0 7 * * mon`` → ``Mondays at 07:00``: the shapes a programme is set to (weekly, every
    day, monthly) in words; any other schedule as written, so nothing is ever misread."""
    fields = cron.split()
    if len(fields) != 5:
        return cron
    minute, hour = _number(fields[0], 59), _number(fields[1], 23)
    day_of_month, month, weekday = fields[2], fields[3], fields[4].lower()
    if minute is None or hour is None or month != "*":
        return cron
    time = f"{hour:02d}:{minute:02d}"
    if day_of_month == "*" and weekday == "*":
        return translate(_DAILY, locale) % {"time": time}
    if day_of_month == "*" and weekday in _WEEKLY:
        return translate(_WEEKLY[weekday], locale) % {"time": time}
    day_number = _number(day_of_month, 31)
    if weekday == "*" and day_number:
        return translate(_MONTHLY, locale) % {"day": day_number, "time": time}
    return cron


# Digits, at most one decimal point, a sign in front: how an amount is written, nothing else.
_PLAIN_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_money(text: str) -> int:
    """``15.000,00`` or ``15000.5`` or ``15 000`` → deni. Refuses more than two decimals.

    A single separator followed by exactly three digits is read as a thousands separator
    (``15.000`` is fifteen thousand), as Macedonian bills write it.
    """
    raw = text.strip().replace(" ", "").replace("\u00a0", "")
    for suffix in ("ден.", "ден", "den.", "den", "MKD", "мкд"):
        raw = raw.removesuffix(suffix)
    if not raw:
        raise ValueError("empty")
    written = _with_decimal_point(raw)
    if not _PLAIN_AMOUNT.fullmatch(written):
        # Decimal() also reads 3e+28, 1_000, NaN and other scripts' digits: none is an amount.
        raise ValueError("not a number")
    try:
        value = Decimal(written)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a number")
    with localcontext() as exact:
        # Every digit kept: Decimal's 28 would make a 30-digit amount an InvalidOperation
        # (a 500) instead of an amount the caller's bound refuses as too large.
        exact.prec = len(written) + 2
        if value != value.quantize(Decimal("0.01")):
            raise ValueError("more than two decimals")
        return int(value * 100)


def _with_decimal_point(raw: str) -> str:
    """An amount's separators read as written here: both kinds, the last one is the decimal
    one; a single one before exactly three digits groups thousands; repeated ones group."""
    if raw.count(",") and raw.count("."):
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        return raw.replace("." if decimal_sep == "," else ",", "").replace(decimal_sep, ".")
    if raw.count(",") == 1 or raw.count(".") == 1:
        sep = "," if "," in raw else "."
        whole, frac = raw.split(sep)
        return f"{whole}{frac}" if len(frac) == 3 else f"{whole}.{frac}"
    if raw.count(",") > 1 or raw.count(".") > 1:
        return raw.replace("," if "," in raw else ".", "")
    return raw


_DAY_FORMATS = (
    # 23.11.2026 (as written here), 2026-11-23 (ISO), 23/11/2026 (spreadsheets set to English).
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})\.?"), ("d", "m", "y")),
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), ("y", "m", "d")),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), ("d", "m", "y")),
)


class NoSuchDay(ValueError):
    """Written as a date, but the calendar has no such day (``31.02.1984``)."""


def no_such_day(text: str) -> str:
    """The refusal of a day the calendar does not have, the same in a form and a file."""
    return gettext("The date %(date)s does not exist.", date=text.strip())


def parse_day(text: str) -> date:
    """``23.11.2026``, ``2026-11-23`` or ``23/11/2026`` → a date; anything else is refused.

    Slashes are read day first, as in Macedonia: ``03/04/2026`` is the 3rd of April. A day
    written rightly that the calendar does not have (``31.02.1984``) is ``NoSuchDay``: the
    writer needs to hear that the date is wrong, not its format.
    """
    raw = text.strip()
    for pattern, order in _DAY_FORMATS:
        found = pattern.fullmatch(raw)
        if found:
            parts = dict(zip(order, (int(g) for g in found.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                raise NoSuchDay(raw) from None
    raise ValueError("not a date")


# --- spreadsheet cells -------------------------------------------------------------------------

# Text starting so is run as a formula by a spreadsheet (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FormulaText(str):
    """Text that starts like a formula and must stay text (a phone ``+389…``, ``=HYPERLINK``):
    each file format keeps it so its own way."""

    __slots__ = ()


def defuse_formula(value: Any) -> Any:
    """The one rule for every file the app writes (exports, the import's error file, the
    report's workbook): text that starts like a formula becomes ``FormulaText``; numbers,
    dates and other text stay as they are."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return FormulaText(value)
    return value


def csv_cell(value: Any) -> Any:
    """A CSV has no cell types: defused text gets a leading apostrophe, as spreadsheets
    expect."""
    defused = defuse_formula(value)
    return "'" + defused if isinstance(defused, FormulaText) else defused
