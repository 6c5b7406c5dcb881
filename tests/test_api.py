"""The API's frame: personal tokens (made once, stored hashed, revocable, acting with exactly
their user's roles), the OpenAPI document generated from the code, the error shape, and the
limit on requests per minute."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from casework.api import messages
from casework.api.models import ApiRateWindow, ApiToken
from casework.extensions import db
from casework.i18n import translate
from casework.security.models import Role, User
from tests.conftest import ApiClient, Factory, error_of


def test_the_openapi_document_is_public_and_describes_every_api_route(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"  # path parameters shared by the operations
    }
    routed = {
        (re.sub(r"<(?:[^<>]*:)?(\w+)>", r"<\1>", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api-docs.openapi_json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed == documented
    assert {"bearerAuth": []} in document["security"]
    assert "ErrorEnvelope" in document["components"]["schemas"]


def test_no_token_or_a_wrong_one_is_a_401_in_the_api_shape(client, api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    for headers in (
        {},
        {"Authorization": "Bearer cw_not-a-real-token"},
        {"Authorization": "Basic x"},
    ):
        response = client.http.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/me").status_code == 200


def test_a_token_acts_with_exactly_its_users_roles(api_as) -> None:  # type: ignore[no-untyped-def]
    api, officer = api_as(Role.OFFICER)
    me = api.get("/me").get_json()
    assert (me["id"], me["username"]) == (officer.id, officer.username)
    assert [r["role"] for r in me["roles"]] == ["officer"]


def test_a_token_is_stored_hashed_and_shown_once_on_the_profile(
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    browser, user = login_as(Role.SOCIAL_WORKER)
    created = browser.post("/profile/tokens", {"name": "field tablet"})
    secret = re.search(r"(cw_[A-Za-z0-9_-]{20,})", created.get_data(as_text=True))
    assert secret, "the new token is shown"
    [token] = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert token.name == "field tablet"
    assert secret.group(1) not in (token.token_hash, token.prefix)
    assert len(token.token_hash) == 64
    profile = browser.get("/profile").get_data(as_text=True)
    assert token.prefix in profile and secret.group(1) not in profile


def test_a_revoked_token_is_refused_at_once(
    app: Flask,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    browser, user = login_as(Role.SOCIAL_WORKER)
    created = browser.post("/profile/tokens", {"name": "field tablet"}).get_data(as_text=True)
    secret = re.search(r"(cw_[A-Za-z0-9_-]{20,})", created)
    assert secret
    api = ApiClient(app.test_client(), secret.group(1))
    assert api.get("/me").status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token is not None and token.last_used_at is not None
    browser.post(f"/profile/tokens/{token.id}/revoke")
    assert api.get("/me").status_code == 401
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None  # type: ignore[union-attr]


def test_nobody_revokes_another_users_token(api_as, login_as) -> None:  # type: ignore[no-untyped-def]
    api, owner = api_as(Role.OFFICER)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    assert token is not None
    browser, _ = login_as(Role.COORDINATOR)
    assert browser.post(f"/profile/tokens/{token.id}/revoke").status_code == 404
    assert api.get("/me").status_code == 200


def test_a_deactivated_users_token_stops_working(api_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    from casework.db import utcnow
    from casework.security.services import set_active

    api, user = api_as(Role.OFFICER)
    assert api.get("/me").status_code == 200
    set_active(make.user(Role.ADMIN), user, False, now=utcnow())
    assert api.get("/me").status_code == 401


def test_more_requests_in_a_minute_than_allowed_get_429(app: Flask, api_as) -> None:  # type: ignore[no-untyped-def]
    settings = app.config["CASEWORK"]
    app.config["CASEWORK"] = replace(settings, api_requests_per_minute=3)
    try:
        api, user = api_as(Role.OFFICER)
        codes = [api.get("/me").status_code for _ in range(4)]
    finally:
        app.config["CASEWORK"] = settings
    assert codes == [200, 200, 200, 429]
    counted = db.session.scalar(select(ApiRateWindow.count).where(ApiRateWindow.user_id == user.id))
    assert counted == 4


def test_an_unknown_api_address_is_a_json_404(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.OFFICER)
    response = api.get("/no/such/thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_malformed_paging_is_a_422_naming_the_field(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_as(Role.COORDINATOR)
    response = api.get("/programmes?per_page=1000")
    assert response.status_code == 422
    assert "per_page" in response.get_json()["error"]["fields"]


def test_a_programme_outside_the_callers_municipalities_is_a_404(api_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    mine = make.programme()
    theirs = make.programme(municipality=make.municipality("OHR", "Охрид"))
    api, _ = api_as(Role.COORDINATOR)
    assert api.get(f"/programmes/{mine.id}").get_json()["budget_deni"] == mine.budget_deni
    assert api.get(f"/programmes/{theirs.id}").status_code == 404
    listed = api.get("/programmes").get_json()
    assert [p["id"] for p in listed["items"]] == [mine.id]
    assert (listed["page"], listed["pages"], listed["total"]) == (1, 1, 1)


def test_the_programme_report_has_the_pages_figures(api_as, make: Factory) -> None:  # type: ignore[no-untyped-def]
    programme = make.programme()
    make.paid(make.active_enrollment(programme), 12_000_00)
    api, _ = api_as(Role.AUDITOR)
    report = api.get(
        f"/programmes/{programme.id}/report?period_from=2021-11-01&period_to=2022-01-31"
    ).get_json()
    assert report["paid_deni"] == 12_000_00
    assert report["owed_minutes"] == 120 * 60
    assert report["activated"] == 1
    backwards = api.get(
        f"/programmes/{programme.id}/report?period_from=2022-01-31&period_to=2021-11-01"
    )
    assert backwards.status_code == 422
    assert "period_to" in backwards.get_json()["error"]["fields"]


def test_the_command_prints_a_working_token(tmp_path: Path) -> None:
    from tests.test_cli import run as casework

    password = "a long secret passphrase for the test"
    assert casework(["init", "--admin-password", password], tmp_path).returncode == 0
    made = casework(["token", "create", "admin", "--name", "reconciliation"], tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("cw_")
    nobody = casework(["token", "create", "nobody"], tmp_path)
    assert nobody.returncode != 0 and "no user" in nobody.stderr
    from casework import create_app
    from tests.conftest import make_settings

    other = create_app(make_settings(f"sqlite:///{tmp_path / 'casework.sqlite'}", tmp_path))
    response = other.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json()["username"] == "admin"
    revoked = casework(["token", "revoke", "1"], tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    again = other.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 401
    assert db.session.scalar(select(User).where(User.username == "admin")) is None  # other db


# --- the language of the answers -------------------------------------------------------------


def in_language(msgid: str, locale: str, **values: object) -> str:
    """``msgid`` as the catalogue of ``locale`` words it (English until it is translated)."""
    return translate(msgid, locale) % values if values else translate(msgid, locale)


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_the_apis_refusals_speak_the_language_the_request_asks_for(  # type: ignore[no-untyped-def]
    app: Flask, api_as, locale: str
) -> None:
    asked = {"Accept-Language": locale}
    api, user = api_as(Role.OFFICER)  # its profile says English: the request's header wins
    assert user.locale == "en"
    missing = error_of(api.call("GET", "/no/such/thing", **asked))
    nothing_here = "There is nothing here, or it is not yours to see."
    assert missing["message"] == in_language(nothing_here, locale) != nothing_here
    forbidden = error_of(api.call("POST", "/work-logs", json={}, **asked))
    assert forbidden["code"] == "invalid"  # the body is read before the role is checked
    assert forbidden["fields"]["member_id"] == in_language("This field is required.", locale)
    assert "Missing data for required field." not in str(forbidden)
    paging = error_of(api.call("GET", "/programmes?per_page=x", **asked))
    assert paging["fields"]["per_page"] == in_language("Enter a whole number.", locale)
    settings = app.config["CASEWORK"]
    app.config["CASEWORK"] = replace(settings, api_requests_per_minute=1)
    try:
        api.call("GET", "/me", **asked)
        limited = error_of(api.call("GET", "/me", **asked))
    finally:
        app.config["CASEWORK"] = settings
    assert limited["message"] == in_language(
        "More than %(limit)s requests in a minute: wait a little.", locale, limit=1
    )


def test_without_a_header_the_api_speaks_the_users_language(api_as) -> None:  # type: ignore[no-untyped-def]
    api, _user = api_as(Role.OFFICER, locale="sq")
    missing = error_of(api.get("/no/such/thing"))
    assert missing["message"] == "Këtu nuk ka asgjë, ose nuk keni të drejtë ta shihni."
    anonymous = error_of(
        ApiClient(api.http, "wrong").call("GET", "/me", **{"Accept-Language": "mk"})
    )
    assert anonymous["message"] == in_language(
        "Send a valid token: Authorization: Bearer <token>.", "mk"
    )


@pytest.mark.parametrize("template", [t for t, _ in messages._templates()])
def test_every_validation_message_of_marshmallow_is_answered_in_the_apps_words(
    app: Flask, template: str
) -> None:
    """marshmallow's English templates never reach a caller: each has the app's message."""
    said = re.sub(r"\{\w+\}", "7", template)
    with app.test_request_context("/api/v1/me"):
        answer = messages.translated(said)
    assert answer != said and "%(" not in answer
    with app.test_request_context("/api/v1/me"):
        assert messages.translated("Дата на исплата: внесете ја.") == "Дата на исплата: внесете ја."
