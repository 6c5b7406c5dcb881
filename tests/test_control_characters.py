"""A NUL byte (or another control character) in any text is refused at the edge, naming the
field, and nothing is stored; never a 500 (PostgreSQL cannot store a NUL, SQLite can).

Forms: every text field of every form of the app (walked from the form classes) and the main
pages (a household with its head, a note, the log-in). The API: every write operation's body,
walked from the OpenAPI document, each string property in turn. Query strings (the search)
drop control characters. Import cells: reported on the row and column.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from sqlalchemy import select

import casework
from casework.audit.models import AuditEvent
from casework.extensions import db
from casework.forms_common import PlainForm
from casework.households.models import CaseNote, Household
from casework.imports.models import ImportUpload
from casework.plain_text import first_control, has_control, strip_control
from casework.security.models import Role, UserSession
from tests.conftest import PASSWORD, Factory, count
from tests.test_api_households import new_household
from tests.test_households import _new_household_form
from tests.test_imports import csv_bytes, run, upload

NUL = "\x00"
REFUSED = "control character"


def _all_forms() -> list[type[PlainForm]]:
    for module in pkgutil.walk_packages(casework.__path__, "casework."):
        if module.name.endswith(("forms", "views")):
            importlib.import_module(module.name)
    found: list[type[PlainForm]] = []
    todo = [PlainForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def test_the_characters_refused_and_kept() -> None:
    for bad in (NUL, "\x01", "\x1b", "\x7f", "\ud800"):
        assert has_control(f"a{bad}b") and has_control(f"a{bad}b", multiline=False)
    assert not has_control("ред\nи\tред\r\n") and has_control("a\nb", multiline=False)
    assert strip_control("Ана\x00\t") == "Ана"
    assert first_control({"members": [{"first_name": "ok"}, {"last_name": "x\x00"}]}) == (
        "members.1.last_name"
    )
    assert first_control({"a\x00": 1}) == "a\x00" and first_control([1, "ok", None]) is None


def test_every_form_of_the_app_derives_from_the_plain_text_base() -> None:
    _all_forms()  # imports every form module
    todo, forms = [FlaskForm], set()
    while todo:
        for sub in todo.pop().__subclasses__():
            forms.add(sub)
            todo.append(sub)
    ours = {f for f in forms if f.__module__.startswith("casework.")}
    assert ours and all(issubclass(f, PlainForm) for f in ours), ours


def test_every_text_field_of_every_form_refuses_a_nul_byte_by_its_name(app: Flask) -> None:
    forms = _all_forms()
    assert len(forms) > 20  # the walk found the app's forms
    for form_class in forms:
        with app.test_request_context(method="POST", data={}):
            probe = form_class(meta={"csrf": False})
            names = [
                f.name
                for f in _fields(probe)
                if f.type not in ("PasswordField", "CSRFTokenField", "FileField")
            ]
        data = {name: f"x{NUL}y" for name in names}
        with app.test_request_context(method="POST", data=data):
            form = form_class(meta={"csrf": False})
            assert not form.validate() or not names, form_class
            for field in _fields(form):
                if field.name in names:
                    assert any(REFUSED in e and str(field.label.text) in e for e in field.errors), (
                        form_class.__name__,
                        field.name,
                        field.errors,
                    )


def _fields(form: Any) -> list[Any]:
    from casework.forms_common import _text_fields

    return _text_fields(form)


def test_a_multi_line_note_keeps_its_line_breaks_but_not_a_nul(login_as, enrollment) -> None:  # type: ignore[no-untyped-def]
    browser, _coordinator = login_as(Role.COORDINATOR, enrollment.programme.municipality)
    household_id = enrollment.household_id
    url = f"/households/{household_id}/notes"
    base = {"written_on": "2021-11-10", "visibility": "ngo"}
    refused = browser.post(url, {**base, "text": f"Посета{NUL} на домот"}, follow_redirects=True)
    assert refused.status_code in (200, 422), refused.status_code
    body = refused.get_data(as_text=True)
    assert REFUSED in body and "Note" in body
    assert count(CaseNote) == 0
    kept = browser.post(url, {**base, "text": "Посета\r\nна домот\tутре"})
    assert kept.status_code == 302
    assert db.session.scalars(select(CaseNote.text)).one() == "Посета\r\nна домот\tутре"


@pytest.mark.parametrize(
    "field",
    ["address", "settlement", "phone", "head-first_name", "head-last_name", "head-national_id"],
)
def test_a_nul_byte_in_a_household_field_is_named_and_nothing_stored(login_as, field) -> None:  # type: ignore[no-untyped-def]
    browser, coordinator = login_as(Role.COORDINATOR)
    form = _new_household_form(municipality_id=str(coordinator.roles[0].municipality_id))
    form[field] = form[field][:3] + NUL + form[field][3:]
    response = browser.post("/households/new", form)
    assert response.status_code == 200, response.status_code
    assert REFUSED in response.get_data(as_text=True)
    assert count(Household) == 0


def test_a_nul_byte_in_the_log_in_name_is_refused_and_checks_no_password(client, make) -> None:  # type: ignore[no-untyped-def]
    user = make.user(Role.COORDINATOR)
    db.session.commit()
    client.get("/login")
    response = client.post("/login", {"username": user.username + NUL, "password": "x"})
    assert response.status_code == 200, response.status_code
    assert REFUSED in response.get_data(as_text=True)
    assert client.login(user.username).status_code == 302  # not counted as a failed attempt


def test_a_nul_byte_in_the_user_agent_is_dropped_from_the_stored_session(client, make) -> None:  # type: ignore[no-untyped-def]
    user = make.user(Role.COORDINATOR)
    db.session.commit()
    client.get("/login")
    response = client.post(
        "/login",
        {"username": user.username, "password": PASSWORD},
        headers={"User-Agent": f"Mozilla{NUL}/5.0"},
    )
    assert response.status_code == 302
    assert db.session.scalars(select(UserSession.user_agent)).one() == "Mozilla/5.0"


def test_a_nul_byte_in_the_search_is_dropped(login_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR)
    make.household(head_name=("Ердован", "Јашаровски"))
    found = browser.get("/households/", query_string={"q": f"Јаша{NUL}ров"})
    assert found.status_code == 200
    assert "Јашаровски" in found.get_data(as_text=True)
    for url in ("/audit/", "/reports/", "/households/"):
        assert browser.get(url, query_string={"q": NUL, "page": f"1{NUL}"}).status_code < 500


def test_a_forged_form_key_with_a_nul_byte_is_no_key(login_as, enrollment) -> None:  # type: ignore[no-untyped-def]
    browser, _ = login_as(Role.COORDINATOR, enrollment.programme.municipality)
    response = browser.post(
        f"/households/{enrollment.household_id}/notes",
        {"written_on": "2021-11-10", "visibility": "ngo", "text": "ok", "form_key": NUL},
    )
    assert response.status_code == 302
    assert count(CaseNote) == 1


# --- the API -------------------------------------------------------------------------------------


def test_a_nul_byte_in_the_api_household_is_named_and_nothing_stored(api_as, programme) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR, programme.municipality)
    body = new_household(programme)
    body["members"][1]["last_name"] = f"Мамуд{NUL}овска"
    response = api.post("/households", body, Idempotency_Key=f"k{NUL}")
    assert response.status_code in (400, 422)
    response = api.post("/households", body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"members.1.last_name"} and REFUSED in error["message"]
    assert count(Household) == 0
    lone = api.post("/households", {**new_household(programme), "address": "ул. \ud800"})
    assert lone.status_code == 422 and set(lone.get_json()["error"]["fields"]) == {"address"}
    assert count(Household) == 0


def test_a_nul_byte_in_an_api_query_string_is_dropped(api_as, make) -> None:  # type: ignore[no-untyped-def]
    api, user = api_as(Role.COORDINATOR)
    make.household(user.roles[0].municipality, head_name=("Ердован", "Јашаровски"))
    found = api.get("/households?q=Јаша%00ров&page=1%00")
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["total"] == 1


def _string_bodies(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, property, body) for each string property of each write's JSON body."""
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            if not ref:
                continue
            properties = schemas[ref.rsplit("/", 1)[-1]].get("properties", {})
            url = path.replace("{", "").replace("}", "")
            for name, prop in properties.items():
                if prop.get("type") == "string":
                    found.append((method, url, name, {name: f"x{NUL}"}))
    return found


def test_every_api_write_refuses_a_nul_byte_in_each_string_by_its_name(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.ADMIN)
    spec = api.get("/openapi.json").get_json()
    bodies = _string_bodies(spec)
    assert len(bodies) > 10  # the walk found the API's text fields
    before = count(AuditEvent)
    for method, path, name, body in bodies:
        url = path.removeprefix("/api/v1")
        url = "/".join("1" if part.endswith("_id") else part for part in url.split("/"))
        response = api.call(method.upper(), url, json=body)
        assert response.status_code == 422, (method, path, name, response.status_code)
        assert name in response.get_json()["error"]["fields"], (path, name)
    assert count(AuditEvent) == before


# --- import cells --------------------------------------------------------------------------------


def test_a_nul_byte_in_an_import_cell_is_reported_on_its_row(make: Factory) -> None:
    programme = make.programme()
    coordinator = make.user(Role.COORDINATOR, programme.municipality)
    db.session.commit()
    content = csv_bytes(
        f"1;Носител;Ана;Рис{NUL}товска;;01.01.1990;Ж;ул. 1;mk",
        "2;Носител;Бојан;Ристовски;;01.01.1991;М;ул. 2;mk",
    )
    report = run(coordinator, programme, content)
    errors = {r.line: r.errors for r in report.rows}
    assert REFUSED in errors[2]["last_name"] and not errors[3]
    assert count(Household) == 0  # one bad row among them stores nothing


def test_a_nul_byte_in_an_uploaded_file_name_is_dropped(login_as, make) -> None:  # type: ignore[no-untyped-def]
    programme = make.programme()
    browser, _ = login_as(Role.COORDINATOR, programme.municipality)
    row = "1;Носител;Ана;Ристовска;;01.01.1990;Ж;ул. 1;mk"
    response = upload(browser, programme, csv_bytes(row), f"list{NUL}.csv", "households")
    assert response.status_code == 302
    assert db.session.scalars(select(ImportUpload.filename)).one() == "list.csv"


def test_the_openapi_document_states_the_plain_text_rule_on_every_text_field(client) -> None:  # type: ignore[no-untyped-def]
    """A client (and the schemathesis run) reads the rule from the document: each free text
    property of every request body carries the pattern, and the pattern is the app's rule."""
    import re

    from casework.plain_text import JSON_SCHEMA_PATTERN

    document = client.get("/api/v1/openapi.json").get_json()
    assert "control character" in document["info"]["description"]
    schemas = document["components"]["schemas"]
    texts = [
        (name, field, prop)
        for name in _request_body_schemas(document)
        for field, prop in schemas[name].get("properties", {}).items()
        if prop.get("type") == "string" and not {"enum", "format"} & set(prop)
    ]
    assert len(texts) > 20, texts
    unstated = [(n, f) for n, f, prop in texts if prop.get("pattern") != JSON_SCHEMA_PATTERN]
    assert not unstated, unstated
    search = [
        parameter["schema"]
        for op in document["paths"]["/api/v1/households"].values()
        if isinstance(op, dict)
        for parameter in op.get("parameters", [])
        if parameter["name"] == "q"
    ]
    assert search and "pattern" not in search[0]  # a query string's are dropped, not refused
    pattern = re.compile(JSON_SCHEMA_PATTERN)
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # no lone surrogate in JSON text (UTF-8)
        char = chr(code)
        assert (pattern.match(f"a{char}b") is None) == has_control(f"a{char}b"), hex(code)


def _request_body_schemas(document: dict[str, Any]) -> set[str]:
    """The components sent in request bodies, with those they nest."""
    names: set[str] = set()
    todo = [
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    while todo:
        name = todo.pop().rsplit("/", 1)[1]
        if name in names:
            continue
        names.add(name)
        for prop in document["components"]["schemas"][name].get("properties", {}).values():
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
            if ref:
                todo.append(ref)
    return names
