"""Text as a person types it: no control characters.

A NUL byte cannot be stored in a PostgreSQL text column (the statement fails: a 500), a lone
surrogate cannot be encoded as UTF-8, and the other control characters are never typed by a
person, only sent by a script or pasted from a broken file. They are refused at the edge, once:
a form's field (``forms_common.PlainForm``), an API body (``casework.api.views``) and an import
cell (``imports.parsing.rows_of``) name the field that holds one and store nothing. A query
string changes nothing, so its control characters are dropped instead (``PlainTextRequest``):
a search for ``"Ана\\x00"`` is a search for ``"Ана"``.

Tab, line feed and carriage return are text in a multi-line field (a note, a reason); a
single-line form field refuses them too (a browser's text box never sends a line break).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Request
from flask_babel import gettext as _
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property

# C0 but tab, line feed and carriage return; DEL; lone surrogates (never valid UTF-8).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same and the line breaks and tabs: what a single-line field may not hold.
SINGLE_LINE_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# ``CONTROL`` as the OpenAPI document states it, a JSON Schema ``pattern`` (ECMA 262 escapes,
# no control character in the document itself) on every text field: a client, or a fuzzer,
# reads the rule there. Lone surrogates are left out: JSON text in UTF-8 cannot hold one.
JSON_SCHEMA_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


def has_control(text: str, *, multiline: bool = True) -> bool:
    return (CONTROL if multiline else SINGLE_LINE_CONTROL).search(text) is not None


def strip_control(text: str) -> str:
    return SINGLE_LINE_CONTROL.sub("", text)


def control_refused(field: str) -> str:
    """The one refusal, naming the field, in the user's language."""
    return _(
        "%(field)s holds a control character (such as a NUL byte), which cannot be stored: "
        "remove it.",
        field=field,
    )


def first_control(data: Any, path: str = "") -> str | None:
    """The dotted path (``members.0.first_name``, as the API names fields) of the first
    string in a JSON body (a key or a value) holding a control character, else None."""
    if isinstance(data, str):
        return (path or "_") if has_control(data) else None
    if isinstance(data, dict):
        items: list[tuple[Any, Any]] = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        return None
    for key, value in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and has_control(key):
            return name
        found = first_control(value, name)
        if found is not None:
            return found
    return None


class PlainTextRequest(Request):
    """A request whose query string holds no control characters (a search, a filter, a page
    number): they are dropped as the string is read, before any view or schema sees it."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        raw = super().args
        return ImmutableMultiDict(
            [(strip_control(k), strip_control(v)) for k, v in raw.items(multi=True)]
        )
