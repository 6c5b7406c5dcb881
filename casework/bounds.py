"""The sane bounds of a figure typed by hand: one amount of money, one number of hours.

Anything above is a typing error (a zero too many), refused as *too large* by the services
(the rule), the forms, the API's schemas and the import's cells, with the same bound.
A family's statement in the pilot is tens of thousands of denars; a programme's whole budget
about a million."""

from __future__ import annotations

import marshmallow as ma
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter, Map

from casework import formatting

# Ten million denars: a hundred times the largest debt a family of the pilot had.
MAX_AMOUNT_DENI = 10_000_000_00
# A million hours: more than any programme's target of community work.
MAX_MINUTES = 1_000_000 * 60
# The largest id (and count) an INTEGER column holds on PostgreSQL: a larger one in a URL or a
# body is an object that cannot exist (a 404, or a 422 naming the field), never an overflow.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route (the app factory puts it in place of werkzeug's): an id
    past the column's range matches no route, a 404 on both databases. flask-smorest documents
    the bound as the path parameter's ``maximum`` (it reads ``max`` of an IntegerConverter)."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def query_int(text: str) -> int:
    """An id or a page number in a query string (``request.args.get(name, type=query_int)``):
    one past the column's range is as absent (``ValueError``: the default, or a missing
    object), never an overflow in the database."""
    value = int(text)
    if not 0 < value <= MAX_ID:
        raise ValueError("no such id")
    return value


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


def too_large_count(field_label: str) -> str:
    """``Families to enroll is too large: at most 2.147.483.647.``"""
    return _(
        "%(field)s is too large: at most %(max)s.", field=field_label, max=format_decimal(MAX_ID)
    )


def amount_range() -> ma.validate.Range:
    """An API field's amount in deni: at most the shared bound (the lower bound, and why, is
    the service's)."""
    return ma.validate.Range(
        max=MAX_AMOUNT_DENI, error=_l("Too large: at most {max} deni (ten million denars).")
    )


def form_id(value: object) -> int:
    """A ``SelectField``'s ``coerce`` (also applied to its choices): a number past the column's
    range is not a choice (WTForms names the field), even where choices are not checked."""
    number = int(value)  # type: ignore[call-overload]
    if not -MAX_ID - 1 <= number <= MAX_ID:  # a choice may be 0 or -1 for "none"
        raise ValueError("no such id")
    return number
