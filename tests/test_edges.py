"""The validation edge: numbers past a column's range are refused where they come in.

An id of 2³¹ or more overflows PostgreSQL's INTEGER (SQLite takes it and finds nothing), so
every id in a URL, a query string, a form or an API body is bounded before it reaches the
database: a 404 for a URL, a 422 (or the form again) naming the field for a body. Money is
read strictly (no exponents), and counts stay within their columns. Run on both databases:
``CASEWORK_TEST_DATABASE_URL=postgresql+psycopg://… pytest tests/test_edges.py``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from casework.bounds import MAX_ID, query_int
from casework.enrollment.models import Enrollment
from casework.errors import ValidationError
from casework.formatting import parse_money
from casework.households.models import Household
from casework.payments.models import Arrear, PaymentRequest
from casework.programmes import services as programme_services
from casework.programmes.models import Programme
from casework.work.models import WorkLog
from tests.conftest import TODAY, count, error_of
from tests.test_access_matrix import (
    API_BODIES,
    BODY_IDS,
    QUERY_IDS,
    guarded_rules,
    methods_of,
    url_of,
)

PAST_INTEGER = 2**31  # one past PostgreSQL's INTEGER
PAST_BIGINT = 2**63  # one past its BIGINT (what the OpenAPI document used to allow)
HUGE = [PAST_INTEGER, PAST_BIGINT]


def id_bearing(app: Flask) -> list[tuple[Rule, str]]:
    """Every route and method that names an object by id in its path or its query string."""
    return [
        (rule, method)
        for rule in guarded_rules(app)
        if rule.endpoint in QUERY_IDS
        or any(isinstance(c, IntegerConverter) for c in rule._converters.values())
        for method in methods_of(rule)
    ]


@pytest.mark.parametrize("huge", HUGE, ids=["2**31", "2**63"])
def test_an_id_past_the_column_is_a_404_on_every_route_never_a_500(
    app: Flask, login_as: Any, api_as: Any, programme: Programme, huge: int
) -> None:
    browser, _user = login_as("coordinator", programme.municipality)
    api, _api_user = api_as("coordinator", programme.municipality)
    ids: dict[str, int] = defaultdict(lambda: huge)
    answered: dict[str, int] = {}
    for rule, method in id_bearing(app):
        url = url_of(rule, ids, role="coordinator", with_query_ids=True)
        if url.startswith("/api/v1/"):
            body = API_BODIES[rule.endpoint](ids) if method != "GET" else None
            response = api.call(method, url.removeprefix("/api/v1"), json=body)
        elif method == "GET":
            response = browser.get(url)
        else:
            response = browser.post(url)
        answered[f"{method} {url}"] = response.status_code
    assert len(answered) > 60, "the sweep reached too few routes"
    wrong = {request: status for request, status in answered.items() if status not in (404, 422)}
    assert not wrong, wrong
    assert count(Household) == 0 and count(Enrollment) == 0


@pytest.mark.parametrize("endpoint", sorted(BODY_IDS))
def test_an_api_body_naming_an_id_past_the_column_is_a_422_naming_the_field(
    app: Flask, api_as: Any, programme: Programme, endpoint: str
) -> None:
    api, _user = api_as("coordinator", programme.municipality)
    (rule,) = [r for r in guarded_rules(app) if r.endpoint == endpoint]
    for name in sorted(BODY_IDS[endpoint]):
        ids: dict[str, int] = defaultdict(lambda: 1)
        ids[name] = PAST_INTEGER
        url = url_of(rule, ids, role="coordinator").removeprefix("/api/v1")
        response = api.post(url, API_BODIES[endpoint](ids))
        assert response.status_code == 422, (endpoint, name, response.get_json())
        assert name in error_of(response)["fields"], (endpoint, name, response.get_json())
    assert count(Household) == 0 and count(PaymentRequest) == 0 and count(WorkLog) == 0


def test_the_openapi_document_states_the_id_bounds_of_paths_and_bodies(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = [
        parameter
        for item in document["paths"].values()
        for parameter in [
            *item.get("parameters", []),
            *(p for op in item.values() if isinstance(op, dict) for p in op.get("parameters", [])),
        ]
    ]
    path_ids = [p["schema"] for p in parameters if p["in"] == "path" and p["name"].endswith("_id")]
    assert path_ids, "no id in any path"
    assert all(schema["maximum"] == MAX_ID == 2**31 - 1 for schema in path_ids), path_ids
    log_work = document["components"]["schemas"]["WorkLogIn"]["properties"]
    assert log_work["member_id"]["maximum"] == MAX_ID


def test_a_query_string_id_past_the_column_is_as_absent() -> None:
    assert query_int("7") == 7
    for text in (str(PAST_INTEGER), str(PAST_BIGINT), "0", "-3"):
        with pytest.raises(ValueError):
            query_int(text)


# --- money in exponent form -------------------------------------------------------------------


@pytest.mark.parametrize("written", ["3e+28", "3E5", "1e2", "1_000", "NaN", "١٢٣"])
def test_an_amount_is_digits_and_separators_only(written: str) -> None:
    with pytest.raises(ValueError):
        parse_money(written)


def test_amounts_as_written_on_bills_still_read() -> None:
    assert parse_money("15.000,00") == 15_000_00
    assert parse_money("15000.5") == 15_000_50
    assert parse_money("15 000 ден.") == 15_000_00
    assert parse_money(",5") == 50


def test_an_arrear_of_3e28_is_refused_on_the_page_naming_the_amount(
    login_as: Any, enrollment: Enrollment, make: Any, today_is: Any
) -> None:
    today_is(TODAY)
    household = enrollment.household
    account = make.arrear(enrollment).account  # one arrear already
    browser, _user = login_as("coordinator", household.municipality)
    response = browser.post(
        f"/households/{household.id}/arrears",
        {
            "arrear-account_id": account.id,
            "arrear-period_from": "2020-11-01",
            "arrear-period_to": "2021-10-31",
            "arrear-principal": "3e+28",
            "arrear-penalty": "",
            "arrear-statement_ref": "Опомена 3",
            "arrear-received_on": "2021-11-20",
        },
    )
    assert response.status_code == 200
    assert "Enter an amount such as 15.000,00." in response.get_data(as_text=True)
    assert count(Arrear) == 1


THIRTY_DIGITS = "1" * 30  # past Decimal's 28 digits of precision


def test_an_amount_of_thirty_digits_reads_as_too_large_never_as_a_decimal_error() -> None:
    """Found by the forms' fuzzing: ``quantize`` of a 30-digit amount raised InvalidOperation
    (a 500); it is read exactly, and the bound refuses it."""
    assert parse_money(THIRTY_DIGITS) == int(THIRTY_DIGITS) * 100
    assert parse_money("9" * 27 + ",99") == int("9" * 29)
    with pytest.raises(ValueError, match="two decimals"):
        parse_money("1" * 30 + ",0001")


def test_an_arrear_of_thirty_digits_is_refused_on_the_page_as_too_large(
    login_as: Any, enrollment: Enrollment, make: Any, today_is: Any
) -> None:
    today_is(TODAY)
    household = enrollment.household
    account = make.arrear(enrollment).account  # one arrear already
    browser, _user = login_as("coordinator", household.municipality)
    response = browser.post(
        f"/households/{household.id}/arrears",
        {
            "arrear-account_id": account.id,
            "arrear-period_from": "2020-11-01",
            "arrear-period_to": "2021-10-31",
            "arrear-principal": THIRTY_DIGITS,
            "arrear-penalty": "",
            "arrear-statement_ref": "Опомена 4",
            "arrear-received_on": "2021-11-20",
        },
    )
    assert response.status_code == 200, response.status_code
    assert "is too large: at most" in response.get_data(as_text=True)
    assert count(Arrear) == 1


def test_an_arrear_of_3e28_is_refused_by_the_api_naming_the_amount(
    api_as: Any, enrollment: Enrollment, make: Any, today_is: Any
) -> None:
    today_is(TODAY)
    household = enrollment.household
    account = make.arrear(enrollment).account  # one arrear already
    api, _user = api_as("coordinator", household.municipality)
    body = API_BODIES["api_payments.add_arrear"]({})
    for amount in (3e28, "3e+28"):
        response = api.post(f"/accounts/{account.id}/arrears", {**body, "principal_deni": amount})
        assert response.status_code == 422, response.get_json()
        assert "principal_deni" in error_of(response)["fields"]
    assert count(Arrear) == 1


# --- counts ---------------------------------------------------------------------------------


def test_a_target_of_2_31_families_is_refused_by_the_service(
    make: Any, programme: Programme
) -> None:
    coordinator = make.user("coordinator", programme.municipality)
    targets = programme_services.Targets(families=PAST_INTEGER, debt_deni=None, minutes=None)
    with pytest.raises(ValidationError) as refused:
        programme_services.set_targets(coordinator, programme, targets)
    assert [name for name, _message in refused.value.errors] == ["target_families"]
    assert programme.target_families is None


def test_a_target_of_2_31_families_is_refused_on_the_page(
    login_as: Any, programme: Programme
) -> None:
    browser, _user = login_as("coordinator", programme.municipality)
    response = browser.post(
        f"/programmes/{programme.id}/report", {"target_families": str(PAST_INTEGER)}
    )
    assert response.status_code == 200, response.status_code
    assert count(Programme, Programme.target_families.is_not(None)) == 0


# --- ids in a page's form -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["member_id", "site_id"])
def test_a_work_log_form_naming_an_id_past_the_column_is_shown_again_nothing_stored(
    login_as: Any, enrollment: Enrollment, make: Any, today_is: Any, field: str
) -> None:
    """The form's choices are not checked (a member may be off today's list), so the bound
    is the field's own."""
    today_is(TODAY)
    site = make.site(enrollment.household.municipality)
    browser, _user = login_as("coordinator", enrollment.household.municipality)
    sent = {
        "member_id": enrollment.household.members[0].id,
        "site_id": site.id,
        "work_date": TODAY.isoformat(),
        "duration": "1:00",
    }
    page = browser.post("/work/log", sent | {field: str(PAST_INTEGER)})
    assert page.status_code == 200, page.status_code
    refusal = {  # WTForms' own for the site; the member is required, so it asks for one
        "member_id": "Choose who worked.",
        "site_id": "Invalid Choice: could not coerce.",
    }[field]
    assert refusal in page.get_data(as_text=True)
    assert count(WorkLog) == 0


def test_a_work_log_of_2_31_minutes_through_the_api_is_a_422_naming_the_minutes(
    api_as: Any, enrollment: Enrollment, make: Any, today_is: Any
) -> None:
    today_is(TODAY)
    site = make.site(enrollment.household.municipality)
    api, _user = api_as("coordinator", enrollment.household.municipality)
    ids = {"member_id": enrollment.household.members[0].id, "site_id": site.id}
    body = API_BODIES["api_work.log_work"](ids) | {"minutes": PAST_INTEGER}
    response = api.post("/work-logs", body)
    assert response.status_code == 422, response.get_json()
    assert "minutes" in error_of(response)["fields"]
    assert count(WorkLog) == 0


# --- integers are whole numbers in JSON, never truncated ---------------------------------------


def test_a_work_log_naming_its_member_as_a_fraction_is_a_422_not_the_member_truncated(
    api_as: Any, enrollment: Enrollment, make: Any, today_is: Any
) -> None:
    """``member_id: 7.9`` used to be read as member 7 (marshmallow truncates a float unless
    the field is strict): a script's rounding error logged hours for someone."""
    today_is(TODAY)
    site = make.site(enrollment.household.municipality)
    api, _user = api_as("coordinator", enrollment.household.municipality)
    ids = {"member_id": enrollment.household.members[0].id, "site_id": site.id}
    for field in ("member_id", "site_id"):
        body = API_BODIES["api_work.log_work"](ids) | {field: ids[field] + 0.9}
        response = api.post("/work-logs", body)
        assert response.status_code == 422, (field, response.get_json())
        assert field in error_of(response)["fields"], (field, response.get_json())
    assert count(WorkLog) == 0
    assert api.post("/work-logs", API_BODIES["api_work.log_work"](ids)).status_code == 201


FRACTION_IDS = {**BODY_IDS, "api_payments.add_account": {"creditor_id"}}


@pytest.mark.parametrize("endpoint", sorted(FRACTION_IDS))
@pytest.mark.parametrize("written", [1.5, 2.0], ids=["1.5", "2.0"])
def test_an_api_body_naming_an_id_as_a_json_float_is_a_422_naming_the_field(
    app: Flask, api_as: Any, programme: Programme, endpoint: str, written: float
) -> None:
    api, _user = api_as("coordinator", programme.municipality)
    (rule,) = [r for r in guarded_rules(app) if r.endpoint == endpoint]
    for name in sorted(FRACTION_IDS[endpoint]):
        ids: dict[str, int] = defaultdict(lambda: programme.id)
        url = url_of(rule, ids, role="coordinator").removeprefix("/api/v1")
        response = api.post(url, API_BODIES[endpoint](ids) | {name: written})
        assert response.status_code == 422, (endpoint, name, response.get_json())
        assert name in error_of(response)["fields"], (endpoint, name, response.get_json())
    assert count(Household) == 0 and count(PaymentRequest) == 0 and count(WorkLog) == 0


def test_every_integer_of_every_api_body_is_strict(client: Any) -> None:
    """Each integer a write operation reads from JSON (the document's request bodies) refuses
    a float: the rule is on the schema, so a new field is checked here too."""
    bodies = _request_schemas(client.http.application)
    assert len(bodies) > 10, bodies
    lax = [
        f"{type(schema).__name__}.{name}"
        for schema in bodies
        for name, field in schema.fields.items()
        if _integers(field) and not all(f.strict for f in _integers(field))
    ]
    assert not lax, lax


def _integers(field: Any) -> list[Any]:
    import marshmallow as ma

    if isinstance(field, ma.fields.Integer):
        return [field]
    if isinstance(field, ma.fields.List):
        return _integers(field.inner)
    if isinstance(field, ma.fields.Nested):
        schema = field.schema
        return [f for inner in schema.fields.values() for f in _integers(inner)]
    return []


def _request_schemas(app: Flask) -> list[Any]:
    """The body schema of every API operation (flask-smorest's ``arguments`` in the body)."""
    found = []
    for endpoint, view in app.view_functions.items():
        if not endpoint.startswith("api_"):
            continue
        for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if argument["in"] == "json":
                schema = argument["schema"]
                found.append(schema() if isinstance(schema, type) else schema)
    return found
