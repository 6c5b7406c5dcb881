"""Hostile import files: each is refused with a message naming what is wrong, through the
service, the page and the command line, and nothing is stored; none costs the server more
than a few megabytes or a moment."""

from __future__ import annotations

import io
import random
import re
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from openpyxl import Workbook

from casework.cli import import_file
from casework.errors import ValidationError
from casework.extensions import db
from casework.households.models import Household, Member
from casework.imports import files, services
from casework.imports.models import ImportUpload
from casework.programmes.models import Programme
from casework.security.models import Role, User
from tests.conftest import TODAY, Factory, count, run_jobs

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER = ("household", "relation", "first name", "last name")
SECRET = "s3cret-of-the-server"


def workbook(*rows: tuple[str, ...]) -> bytes:
    """A real XLSX of a household list, as Excel would save it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (HEADER, *(rows or [("1", "head", "Ана", "Петровска")])):
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replace(content: bytes, parts: dict[str, bytes | None]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = parts.get(info.filename, source.read(info.filename))
            if data is not None:
                archive.writestr(info.filename, data)
    return out.getvalue()


def sheet_xml(extra_rows: bytes, prologue: bytes = b"") -> bytes:
    cells = b"".join(
        b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>' % (letter, header.encode())
        for letter, header in zip((b"A", b"B", b"C", b"D"), HEADER, strict=True)
    )
    return (
        prologue
        + f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'.encode()
        + cells
        + b"</row>"
        + extra_rows
        + b"</sheetData></worksheet>"
    )


def truncated() -> bytes:
    content = workbook()
    return content[: len(content) // 2]


def damaged() -> bytes:
    """The zip's directory intact, the sheet's compressed bytes overwritten."""
    content = bytearray(workbook())
    info = zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo(SHEET)
    name_length, extra_length = struct.unpack("<HH", content[info.header_offset + 26 :][:4])
    start = info.header_offset + 30 + name_length + extra_length
    content[start + 10 : start + 40] = b"\xff" * 30
    return bytes(content)


def lying_header() -> bytes:
    """The directory says the sheet unpacks to 100 bytes; it unpacks to more."""
    content = bytearray(workbook())
    at = content.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack("<H", content[at + 28 : at + 30])[0]
        if content[at + 46 : at + 46 + name_length] == SHEET.encode():
            content[at + 24 : at + 28] = struct.pack("<I", 100)
            return bytes(content)
        at = content.index(b"PK\x01\x02", at + 4)


def not_xml() -> bytes:
    return replace(workbook(), {SHEET: b"\x00\x01 this is not XML at all"})


def no_sheet() -> bytes:
    content = workbook()
    book = zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml")
    return replace(
        content, {"xl/workbook.xml": re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", book)}
    )


def external_entity(secret_file: Path) -> bytes:
    doctype = f'<!DOCTYPE w [<!ENTITY e SYSTEM "file://{secret_file}">]>'.encode()
    row = b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>&e;</t></is></c></row>'
    return replace(workbook(), {SHEET: sheet_xml(row, doctype)})


def entity_bomb() -> bytes:
    laughs = b"".join(
        b'<!ENTITY l%d "%s">' % (n, (b"&l%d;" % (n - 1)) * 10 if n else b"lol") for n in range(9)
    )
    row = b'<row r="2"><c r="A2" t="inlineStr"><is><t>&l8;</t></is></c></row>'
    return replace(workbook(), {SHEET: sheet_xml(row, b"<!DOCTYPE w [" + laughs + b"]>")})


def huge_row() -> bytes:
    """One row of three million empty cells: 12 MB of XML in a small zip."""
    return replace(workbook(), {SHEET: sheet_xml(b'<row r="2">' + b"<c/>" * 3_000_000 + b"</row>")})


def far_column() -> bytes:
    """A sheet claiming A1:XFD1048576 with a cell in its last column."""
    row = b'<row r="2"><c r="XFD2"><v>1</v></c></row>'
    sheet = sheet_xml(row).replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
    return replace(workbook(), {SHEET: sheet})


def far_row() -> bytes:
    """A row numbered past a sheet's end: openpyxl would make empty rows up to it, forever."""
    row = b'<row r="9999999999999999999999"><c r="A2"><v>1</v></c></row>'
    return replace(workbook(), {SHEET: sheet_xml(row)})


def long_xlsx_cell() -> bytes:
    return workbook(("1", "head", "Ана" * 10_000, "Петровска"))


def long_csv_cell() -> bytes:
    """A 200 KB cell: past the csv module's own limit of 128 KB."""
    return (
        "household;relation;first name;last name\r\n1;head;" + "x" * 200_000 + ";Б\r\n"
    ).encode()


HOSTILE: dict[str, tuple[Callable[[Path], bytes], str, str]] = {
    # name: (the file, its name, what the message says)
    "truncated": (lambda _: truncated(), "list.xlsx", "its end is missing"),
    "damaged": (lambda _: damaged(), "list.xlsx", "damaged or incomplete"),
    "lying-header": (lambda _: lying_header(), "list.xlsx", "damaged or incomplete"),
    "not-xml": (lambda _: not_xml(), "list.xlsx", f"part “{SHEET}” of the workbook is not valid"),
    "no-sheet": (lambda _: no_sheet(), "list.xlsx", "The workbook has no sheet"),
    "external-entity": (external_entity, "list.xlsx", "declares a document type or an XML entity"),
    "entity-bomb": (lambda _: entity_bomb(), "list.xlsx", "declares a document type"),
    "huge-row": (lambda _: huge_row(), "list.xlsx", "Row 2 has more than 256 columns"),
    "far-column": (lambda _: far_column(), "list.xlsx", "Row 2 has more than 256 columns"),
    "far-row": (lambda _: far_row(), "list.xlsx", "numbers a row past its last row (1048576)"),
    "long-xlsx-cell": (lambda _: long_xlsx_cell(), "list.xlsx", "row 2 holds more than 10000"),
    "long-csv-cell": (lambda _: long_csv_cell(), "list.csv", "row 2 holds more than 10000"),
}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def setting(make: Factory) -> tuple[User, Programme]:
    programme = make.programme()
    coordinator = make.user(Role.COORDINATOR, programme.municipality, locale="en")
    db.session.commit()
    return coordinator, programme


def check(actor: User, programme: Programme, content: bytes, filename: str) -> None:
    services.run_import(
        actor,
        programme,
        "households",
        filename,
        content,
        dry_run=False,
        today=TODAY,
        max_bytes=5_000_000,
        max_rows=20_000,
    )


def nothing_stored() -> bool:
    return count(Household) == 0 and count(Member) == 0 and count(ImportUpload) == 0


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_refused_by_the_service_with_what_is_wrong(
    setting: Any, secret_file: Path, case: str
) -> None:
    build, filename, message = HOSTILE[case]
    coordinator, programme = setting
    with pytest.raises(ValidationError) as refused:
        check(coordinator, programme, build(secret_file), filename)
    assert refused.value.field == "file"
    assert message in refused.value.message and SECRET not in refused.value.message
    db.session.rollback()
    assert nothing_stored()


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_refused_on_the_page_next_to_the_file_field(
    login_as: Any, make: Factory, secret_file: Path, case: str
) -> None:
    build, filename, message = HOSTILE[case]
    programme = make.programme()
    browser, _user = login_as(Role.COORDINATOR, programme.municipality, locale="en")
    response = browser.post(
        f"/programmes/{programme.id}/import",
        {"kind": "households", "file": (io.BytesIO(build(secret_file)), filename)},
        content_type="multipart/form-data",
    )
    if response.status_code == 302:  # a large file is kept and checked by the worker
        assert "/jobs/" in response.headers["Location"] and count(ImportUpload) == 1
        run_jobs()
        response = browser.get(response.headers["Location"])
        db.session.query(ImportUpload).delete()  # kept, unchecked, as every large upload is
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and message in page.replace("&#34;", '"')
    assert SECRET not in page
    assert nothing_stored()


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_file_is_refused_on_the_command_line_without_a_traceback(
    app: Flask, setting: Any, secret_file: Path, tmp_path: Path, case: str
) -> None:
    build, filename, message = HOSTILE[case]
    coordinator, programme = setting
    path = tmp_path / filename
    path.write_bytes(build(secret_file))
    args = ["households", str(path), "--programme", str(programme.id)]
    result = app.test_cli_runner().invoke(import_file, [*args, "--user", coordinator.username])
    output = result.output + (result.stderr or "")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), output
    assert "Error: file: " in output and message in output and "Traceback" not in output
    db.session.rollback()
    assert nothing_stored()


def test_a_row_of_three_million_cells_costs_a_few_megabytes_and_a_moment(setting: Any) -> None:
    """It took 2,8 GB and 85 s of a web worker: openpyxl builds a whole row at once."""
    import time

    coordinator, programme = setting
    content = huge_row()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ValidationError, match="more than 256 columns"):
            check(coordinator, programme, content, "list.xlsx")
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB"
    assert time.monotonic() - started < 5


def test_openpyxl_itself_never_resolves_an_external_entity(secret_file: Path) -> None:
    """defusedxml installed makes openpyxl parse with it: the second wall behind our check."""
    from defusedxml import DefusedXmlException

    assert openpyxl.DEFUSEDXML is True
    with pytest.raises(ValueError, match="Unable to read workbook") as refused:
        openpyxl.load_workbook(io.BytesIO(external_entity(secret_file)), read_only=True)
    assert isinstance(refused.value.__cause__, DefusedXmlException)


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("MAX_UNPACKED_BYTES", 2_000, "unpacks to more than 0.002 MB"),
        ("MAX_PARTS", 3, "unpacks to more than"),
        ("MAX_CELLS", 5, "more than 5 cells"),
        ("READ_SECONDS", -1.0, "Reading the file took longer than"),
    ],
)
def test_a_workbook_past_a_limit_is_refused_before_it_is_read(
    setting: Any, monkeypatch: pytest.MonkeyPatch, limit: str, value: float, message: str
) -> None:
    coordinator, programme = setting
    monkeypatch.setattr(files, limit, value)
    content = workbook(*[(str(n), "head", "Ана", "Петровска") for n in range(3)])
    with pytest.raises(ValidationError, match=message):
        check(coordinator, programme, content, "list.xlsx")
    db.session.rollback()
    assert nothing_stored()


def test_a_workbook_within_the_limits_is_read_as_before(setting: Any) -> None:
    """Styles, shared strings and a claimed dimension are what Excel writes: all accepted."""
    coordinator, programme = setting
    content = workbook(("1", "head", "Ана", "Петровска"), ("1", "child", "Бојан", "Петровски"))
    report = services.run_import(
        coordinator,
        programme,
        "households",
        "list.xlsx",
        content,
        dry_run=True,
        today=TODAY,
        max_bytes=5_000_000,
        max_rows=20_000,
    )
    assert [r.line for r in report.rows] == [2, 3]


def mutated(content: bytes, rnd: random.Random) -> bytes:
    """The workbook with one part's attribute values, text or bytes changed at random."""
    parts = {i.filename: zipfile.ZipFile(io.BytesIO(content)).read(i) for i in
             zipfile.ZipFile(io.BytesIO(content)).infolist()}  # fmt: skip
    name = rnd.choice(sorted(parts))
    data = parts[name]
    for _ in range(rnd.randint(1, 3)):
        values = list(re.finditer(rb'="([^"]*)"|>([^<]+)<', data))
        if not values or rnd.random() < 0.2:
            at = rnd.randrange(len(data))
            data = data[:at] + bytes([rnd.randrange(256)]) + data[at + 1 :]
            continue
        value = rnd.choice(values)
        group = 1 if value.group(1) is not None else 2
        new = rnd.choice(
            [b"-1", b"0", b"999999", b"ZZ", b"", b"1e400", b"A0", b"XFD1048577", b"A1:B", b"s",
             b"d", b"e", b"inlineStr", b"str", b"b", b"/xl/none.xml", b"nan", b"#REF!", b"9" * 40]
        )  # fmt: skip
        data = data[: value.start(group)] + new + data[value.end(group) :]
    return replace(content, {name: data})


def test_a_workbook_broken_anywhere_is_read_or_refused_with_a_message(app: Flask) -> None:
    """Seeded mutations of a real workbook: a table or a ValidationError, never an exception
    the page or the command line does not expect."""
    content = workbook(("1", "head", "Ана", "Петровска"), ("1", "child", "=1+1", "Петровски"))
    rnd = random.Random(27)
    with app.test_request_context():
        for _ in range(300):
            try:
                files.read_table("list.xlsx", mutated(content, rnd), max_rows=100)
            except ValidationError as refused:
                assert refused.field == "file" and refused.message


def test_a_real_casework_process_refuses_a_hostile_file_without_a_traceback(
    demo_copy: Path, tmp_path: Path
) -> None:
    import sqlite3

    from tests.test_cli import run as casework

    def households() -> int:
        with sqlite3.connect(demo_copy) as conn:
            return int(conn.execute("SELECT count(*) FROM households").fetchone()[0])

    before = households()
    for name, content in (("not-xml.xlsx", not_xml()), ("no-sheet.xlsx", no_sheet())):
        path = tmp_path / name
        path.write_bytes(content)
        result = casework(
            ["import", "households", str(path), "--programme", "1", "--user", "coordinator"],
            tmp_path,
            CASEWORK_DATABASE_URL=f"sqlite:///{demo_copy}",
        )
        assert result.returncode == 1 and "Error: file: " in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    assert households() == before
