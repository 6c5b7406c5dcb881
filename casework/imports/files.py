"""Reading a CSV or XLSX file into rows of text, and matching its headers to our columns.

Everything that can be wrong with the file as a whole (encoding, format, size, missing
columns) is refused here with a message naming the file; what is wrong with one cell is the
services' business. A file is whatever anyone uploads: an XLSX is a zip of XML, so before
openpyxl reads it its parts are unpacked and parsed here within limits (unpacked size, columns,
cells, time), with no document type or entity allowed, and every way it can be broken ends in a
message, never in an exception the page or the command line does not expect.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax import SAXException
from xml.sax.handler import ContentHandler, feature_namespaces
from xml.sax.xmlreader import AttributesNSImpl

from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser
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


# Limits no real list comes near (the templates have 12 columns, an import at most 20,000 rows);
# a file past one is refused before it costs the server its memory or a worker its minutes.
MAX_UNPACKED_BYTES = 50_000_000  # an XLSX's parts, unpacked
MAX_PARTS = 1_000  # the parts of an XLSX
MAX_COLUMNS = 256  # the cells of one row
MAX_CELLS = 1_000_000  # the cells of a workbook
MAX_CELL_CHARS = 10_000  # one cell's text
READ_SECONDS = 30.0  # reading the whole file
SHEET_ROWS = 1_048_576  # the last row of a sheet, in Excel as in the standard
_CHUNK = 64 * 1024


def read_table(filename: str, content: bytes, *, max_rows: int) -> Table:
    if not content.strip():
        raise ValidationError(_("The file is empty."), "file")
    deadline = time.monotonic() + READ_SECONDS
    name = filename.lower()
    if content.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        rows = _xlsx_rows(content, deadline)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise ValidationError(_("Upload a CSV or an XLSX file."), "file")
    table: Table | None = None
    for number, cells in rows:
        _check_row(number, cells, deadline)
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


def _check_row(number: int, cells: list[str], deadline: float) -> None:
    """A row within the limits of columns and of a cell's length, read in time."""
    _check_time(deadline)
    if len(cells) > MAX_COLUMNS:
        raise _too_many_columns(number)
    if any(len(cell) > MAX_CELL_CHARS for cell in cells):
        raise _too_long_cell(number)


def _check_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ValidationError(
            _(
                "Reading the file took longer than %(n)d seconds: split it into smaller files.",
                n=int(READ_SECONDS),
            ),
            "file",
        )


def _too_many_columns(row: int) -> ValidationError:
    return ValidationError(
        _(
            "Row %(row)d has more than %(n)d columns: remove the columns the import does not need.",
            row=row,
            n=MAX_COLUMNS,
        ),
        "file",
    )


def _too_long_cell(row: int) -> ValidationError:
    return ValidationError(
        _(
            "A cell of row %(row)d holds more than %(n)d characters, more than any column "
            "needs: shorten it (or close the quote left open before it).",
            row=row,
            n=MAX_CELL_CHARS,
        ),
        "file",
    )


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
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [cell.strip() for cell in row]
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            # the csv module's own bound on a cell (128 KB), met before ours: the same message
            raise _too_long_cell(number + 1) from None
        raise ValidationError(
            _("The file is not a readable CSV file (check its quotes)."), "file"
        ) from None


# --- XLSX ----------------------------------------------------------------------------------


def _not_readable() -> ValidationError:
    return ValidationError(_("The file is not a readable XLSX workbook."), "file")


def _damaged(part: str) -> ValidationError:
    return ValidationError(
        _(
            "The XLSX file is damaged or incomplete (its part “%(part)s” cannot be unpacked): "
            "save it again and upload the whole file.",
            part=part[:80],
        ),
        "file",
    )


def _not_xml(part: str) -> ValidationError:
    return ValidationError(
        _(
            "The part “%(part)s” of the workbook is not valid XML: open the file in Excel or "
            "LibreOffice and save it again.",
            part=part[:80],
        ),
        "file",
    )


def _too_large_unpacked() -> ValidationError:
    return ValidationError(
        _(
            "The workbook unpacks to more than %(mb)s MB: split it into smaller files.",
            mb=f"{MAX_UNPACKED_BYTES / 1_000_000:g}",
        ),
        "file",
    )


class _Cells(ContentHandler):
    """Counts a worksheet's cells as the XML streams by, to refuse a row of a million cells
    before openpyxl builds it (it makes a whole row at once)."""

    def __init__(self, counted: list[int], deadline: float) -> None:
        super().__init__()
        self.counted = counted  # [cells so far in the workbook], shared by its parts
        self.deadline = deadline
        self.row = 0
        self.in_row = 0

    def startElementNS(  # the SAX interface names it
        self, name: tuple[str | None, str], qname: str | None, attrs: AttributesNSImpl
    ) -> None:
        local = name[1]
        if local == "row":
            self.row = _row_number(attrs.get((None, "r")), self.row + 1)
            self.in_row = 0
            _check_time(self.deadline)
        elif local == "c":
            self.in_row = max(self.in_row + 1, _column_number(attrs.get((None, "r"))))
            self.counted[0] += 1
            if self.in_row > MAX_COLUMNS:
                raise _too_many_columns(self.row)
            if self.counted[0] > MAX_CELLS:
                raise ValidationError(
                    _(
                        "The workbook has more than %(n)d cells: split it into smaller files.",
                        n=MAX_CELLS,
                    ),
                    "file",
                )


def _row_number(reference: str | None, default: int) -> int:
    """The row's number; one past a sheet's last row would have openpyxl make empty rows
    without end."""
    if reference is None or not re.fullmatch(r"[0-9]+", reference):
        return default
    if len(reference) > 7 or int(reference) > SHEET_ROWS:
        raise ValidationError(
            _(
                "The sheet numbers a row past its last row (%(n)d): open the file in Excel or "
                "LibreOffice and save it again.",
                n=SHEET_ROWS,
            ),
            "file",
        )
    return int(reference)


def _column_number(reference: str | None) -> int:
    """``AB12`` → 28; 0 when the cell gives no reference."""
    letters = re.match(r"[A-Za-z]{1,4}", reference or "")
    number = 0
    for letter in letters.group(0).upper() if letters else "":
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _check_parts(archive: zipfile.ZipFile, deadline: float) -> None:
    """Unpack and parse every part within the limits, before openpyxl reads any of it: the
    sizes the zip declares and those it really unpacks to, no document type or entity in any
    XML part, and the cells of its sheets."""
    parts = archive.infolist()
    if len(parts) > MAX_PARTS or sum(p.file_size for p in parts) > MAX_UNPACKED_BYTES:
        raise _too_large_unpacked()
    unpacked, counted = 0, [0]
    for part in parts:
        unpacked += _check_part(archive, part, counted, deadline)
        if unpacked > MAX_UNPACKED_BYTES:
            raise _too_large_unpacked()


def _check_part(
    archive: zipfile.ZipFile, part: zipfile.ZipInfo, counted: list[int], deadline: float
) -> int:
    """The part's unpacked size, parsed on the way when it is XML."""
    parser: DefusedExpatParser | None = None
    size = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > part.file_size or size > MAX_UNPACKED_BYTES:
                    raise _too_large_unpacked()  # more than the zip says: a lying header
                if parser is None and size == len(chunk) and _is_xml(part, chunk):
                    parser = _xml_parser(counted, deadline)
                if parser is not None:
                    parser.feed(chunk)
            if parser is not None:
                parser.close()
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        raise _damaged(part.filename) from None  # cut off, a wrong checksum, encrypted
    except DefusedXmlException:
        raise _entities(part.filename) from None
    except SAXException:
        raise _not_xml(part.filename) from None
    return size


def _is_xml(part: zipfile.ZipInfo, start: bytes) -> bool:
    """XML parts are parsed; pictures and other binary parts only unpacked."""
    if part.filename.lower().endswith((".xml", ".rels")):
        return True
    return start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<", b"\xff\xfe", b"\xfe\xff"))


def _xml_parser(counted: list[int], deadline: float) -> DefusedExpatParser:
    # No document type at all: no part of an XLSX has one, and it is where entities hide.
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(_Cells(counted, deadline))
    return parser


def _entities(part: str) -> ValidationError:
    return ValidationError(
        _(
            "The part “%(part)s” of the workbook declares a document type or an XML entity, "
            "which an import never reads: save the file again from Excel or LibreOffice.",
            part=part[:80],
        ),
        "file",
    )


# What openpyxl may raise on a broken workbook that the checks above let through.
_BROKEN = (
    ParseError,
    SAXException,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
)


def _xlsx_rows(content: bytes, deadline: float) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # imported here: only imports need it

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError):
        if content.startswith(b"PK\x03\x04"):  # begins as a zip, but its directory is missing
            raise ValidationError(
                _(
                    "The XLSX file is incomplete: its end is missing (was the upload cut off?). "
                    "Upload the whole file."
                ),
                "file",
            ) from None
        raise _not_readable() from None
    with archive:
        _check_parts(archive, deadline)
    try:
        # read_only streams the sheet; data_only=False keeps formulas visible, to refuse them
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except _BROKEN:
        raise _not_readable() from None
    try:
        yield from _sheet_rows(workbook)
    finally:
        workbook.close()


def _sheet_rows(workbook: Any) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows, as wide as its cells (not as the size it claims)."""
    if not workbook.worksheets:
        raise ValidationError(
            _("The workbook has no sheet: put the rows on its first sheet."), "file"
        )
    sheet = workbook.worksheets[0]
    try:
        # A claimed A1:XFD1048576 would pad every row to 16,384 cells: each row is as wide as
        # its cells (at most MAX_COLUMNS, checked above), a row left out is empty.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        for number, values in enumerate(rows, start=1):
            yield number, [_cell_text(v) for v in _trim(values)]
    except _BROKEN:
        raise ValidationError(
            _(
                "The sheet “%(sheet)s” of the workbook cannot be read: open the file in Excel "
                "or LibreOffice and save it again.",
                sheet=str(sheet.title)[:80],
            ),
            "file",
        ) from None


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
