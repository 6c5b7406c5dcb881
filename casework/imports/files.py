"""Reading a CSV or XLSX file into rows of text, and matching its headers to our columns.

Everything that can be wrong with the file as a whole (encoding, format, size, missing
columns) is refused here with a message naming the file; what is wrong with one cell is the
services' business.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from casework.config import LOCALES
from casework.errors import ValidationError


@dataclass(frozen=True)
class Column:
    """One column of an import template: its key, its header, and other names people use."""

    key: str
    label: Any  # a lazy string: the header in the template, in the user's language
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: Any = ""


@dataclass
class Table:
    headers: list[str]
    # (row number as the spreadsheet shows it, cells as text); blank rows are left out
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


def normalise_header(text: str) -> str:
    """``First_Name *`` and ``first name`` are the same column."""
    return " ".join(re.sub(r"[_\-*:.()/]+", " ", text).casefold().split())


@lru_cache(maxsize=8)
def _names(columns: tuple[Column, ...]) -> dict[str, str]:
    """Every accepted header → column key: the key, the aliases, and the label in each language."""
    names: dict[str, str] = {}
    for column in columns:
        spellings = {column.key, *column.aliases}
        for locale in LOCALES:
            with force_locale(locale):
                spellings.add(str(column.label))
        for spelling in spellings:
            names.setdefault(normalise_header(spelling), column.key)
    return names


def map_columns(columns: tuple[Column, ...], headers: list[str]) -> dict[str, int]:
    """Column key → position in the file. Refuses missing required columns and a column given
    twice; headers we do not know are ignored."""
    names = _names(columns)
    positions: dict[str, int] = {}
    for index, header in enumerate(headers):
        key = names.get(normalise_header(header))
        if key is None:
            continue
        if key in positions:
            raise ValidationError(
                _(
                    "The columns “%(first)s” and “%(second)s” mean the same thing: keep one.",
                    first=headers[positions[key]],
                    second=header,
                ),
                "file",
            )
        positions[key] = index
    missing = [str(c.label) for c in columns if c.required and c.key not in positions]
    if missing:
        raise ValidationError(
            _(
                "The file has no column for: %(columns)s. Download the template to see the "
                "expected headers.",
                columns=", ".join(missing),
            ),
            "file",
        )
    return positions


def read_table(filename: str, content: bytes, *, max_rows: int) -> Table:
    if not content.strip():
        raise ValidationError(_("The file is empty."), "file")
    name = filename.lower()
    if content.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise ValidationError(_("Upload a CSV or an XLSX file."), "file")
    table: Table | None = None
    for number, cells in rows:
        if not any(cells):
            continue
        if table is None:
            table = Table(headers=cells)
            continue
        if len(table.rows) >= max_rows:
            raise ValidationError(
                _(
                    "The file has more than %(n)d rows: split it into smaller files.",
                    n=max_rows,
                ),
                "file",
            )
        table.rows.append((number, cells))
    if table is None:
        raise ValidationError(_("The file is empty."), "file")
    if not table.rows:
        raise ValidationError(_("The file has column headers but no rows."), "file")
    return table


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            _(
                "The file is not in UTF-8. In Excel or LibreOffice, save it as “CSV UTF-8” "
                "(or upload the XLSX file itself)."
            ),
            "file",
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [cell.strip() for cell in row]
    except csv.Error:
        raise ValidationError(
            _("The file is not a readable CSV file (check its quotes)."), "file"
        ) from None


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # imported here: only imports need it

    try:
        # read_only streams the sheet; data_only=False keeps formulas visible, to refuse them
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ValidationError(_("The file is not a readable XLSX workbook."), "file") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in _trim(values)]
    finally:
        workbook.close()


def _trim(values: Iterable[Any]) -> list[Any]:
    cells = list(values)
    while cells and cells[-1] in (None, ""):
        cells.pop()
    return cells


def _cell_text(value: Any) -> str:
    """A cell as the text a person would type: dates as 2026-11-23, whole numbers without .0."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
