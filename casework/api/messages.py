"""marshmallow's validation messages in the request's language.

webargs validates the API's input with marshmallow, which words its refusals in English from
fixed templates ("Missing data for required field.", "Longer than maximum length 200.").
Each template is matched here and answered with the app's own message, translated like the
pages'; a message that matches none (one the app wrote, already translated) stays as it is.
The templates are read from marshmallow itself, so a reworded one still matches.
"""

from __future__ import annotations

import re
from functools import cache

import marshmallow as ma
from flask_babel import gettext as _

from casework.i18n import gettext_noop

_fields = ma.fields
_Range = ma.validate.Range
_Length = ma.validate.Length


def _of(kind: type[_fields.Field], key: str, **names: str) -> str:
    """A field's message template (``{obj_type}`` and the like filled in with ``names``)."""
    return str(kind.default_error_messages[key]).format_map(_Keep(names))


class _Keep(dict[str, str]):
    """Formats the names given and keeps the others (``{min}``) for the pattern."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _templates() -> list[tuple[str, str]]:
    """marshmallow's template → the app's message (``%(name)s`` for each ``{name}``)."""
    gte, lte = _Range.message_gte, _Range.message_lte
    gt, lt = _Range.message_gt, _Range.message_lt
    schema = ma.Schema._default_error_messages
    return [
        (_of(_fields.Field, "required"), gettext_noop("This field is required.")),
        (_of(_fields.Field, "null"), gettext_noop("This field may not be null.")),
        (_of(_fields.Field, "validator_failed"), gettext_noop("This value is not valid.")),
        (_of(_fields.Integer, "invalid"), gettext_noop("Enter a whole number.")),
        (_of(_fields.Number, "invalid"), gettext_noop("Enter a number.")),
        (_of(_fields.Number, "too_large"), gettext_noop("This number is too large.")),
        (_of(_fields.String, "invalid"), gettext_noop("Enter text.")),
        (_of(_fields.Boolean, "invalid"), gettext_noop("Enter true or false.")),
        (_of(_fields.Date, "invalid"), gettext_noop("Enter a date as YYYY-MM-DD.")),
        (_of(_fields.Time, "invalid", obj_type="time"), gettext_noop("Enter a time as HH:MM.")),
        (
            _of(_fields.DateTime, "invalid", obj_type="datetime"),
            gettext_noop("Enter a date and time (ISO 8601)."),
        ),
        (_of(_fields.List, "invalid"), gettext_noop("Send a list here.")),
        (_of(_fields.Mapping, "invalid"), gettext_noop("Send an object here.")),
        (_of(_fields.Nested, "type"), gettext_noop("Send an object here.")),
        (str(schema["type"]), gettext_noop("Send an object here.")),
        (str(schema["unknown"]), gettext_noop("This field is not known here.")),
        (_Length.message_max, gettext_noop("Too long: at most %(max)s.")),
        (_Length.message_min, gettext_noop("Too short: at least %(min)s.")),
        (_Length.message_all, gettext_noop("The length must be from %(min)s to %(max)s.")),
        (_Length.message_equal, gettext_noop("The length must be %(equal)s.")),
        (
            _Range.message_all.format(min_op=gte, max_op=lte),
            gettext_noop("Enter a number from %(min)s to %(max)s."),
        ),
        (_Range.message_min.format(min_op=gte), gettext_noop("Enter %(min)s or more.")),
        (_Range.message_max.format(max_op=lte), gettext_noop("Enter %(max)s or less.")),
        (_Range.message_min.format(min_op=gt), gettext_noop("Enter more than %(min)s.")),
        (_Range.message_max.format(max_op=lt), gettext_noop("Enter less than %(max)s.")),
        (ma.validate.OneOf.default_message, gettext_noop("Choose one of: %(choices)s.")),
        # webargs' own, for a body that does not parse (flaskparser writes it out)
        ("Invalid JSON body.", gettext_noop("The body is not valid JSON.")),
    ]


def _pattern(template: str) -> re.Pattern[str]:
    """``Longer than maximum length {max}.`` → a pattern that captures ``max``."""
    parts = re.split(r"\{(\w+)\}", template)
    # re.split with a group alternates text and names: text, name, text, ...
    regex = "".join(
        f"(?P<{part}>.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$", re.DOTALL)


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(_pattern(template), message) for template, message in _templates()]


def translated(message: str) -> str:
    """``message`` in the request's language if it is one of marshmallow's, else as it is."""
    for pattern, ours in _patterns():
        match = pattern.match(message)
        if match is not None:
            return _(ours, **match.groupdict())
    return message
