"""The sane bounds of a figure typed by hand: one amount of money, one number of hours.

Anything above is a typing error (a zero too many), refused as *too large* by the services
(the rule), the forms, the API's schemas and the import's cells, with the same bound.
A family's statement in the pilot is tens of thousands of denars; a programme's whole budget
about a million."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from casework import formatting

# Ten million denars: a hundred times the largest debt a family of the pilot had.
MAX_AMOUNT_DENI = 10_000_000_00
# A million hours: more than any programme's target of community work.
MAX_MINUTES = 1_000_000 * 60


def too_large_amount(field_label: str) -> str:
    """``Principal (ден.) is too large: at most 10.000.000,00 ден.``"""
    locale = str(get_locale() or "en")
    return _(
        "%(field)s is too large: at most %(max)s.",
        field=field_label,
        max=formatting.money(MAX_AMOUNT_DENI, locale),
    )


def too_large_hours(field_label: str) -> str:
    locale = str(get_locale() or "en")
    return _(
        "%(field)s is too large: at most %(max)s.",
        field=field_label,
        max=formatting.hours(MAX_MINUTES, locale),
    )


def amount_range() -> ma.validate.Range:
    """An API field's amount in deni: at most the shared bound (the lower bound, and why, is
    the service's)."""
    return ma.validate.Range(
        max=MAX_AMOUNT_DENI, error=_l("Too large: at most {max} deni (ten million denars).")
    )
