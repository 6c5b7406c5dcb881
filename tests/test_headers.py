"""Response headers on pages with personal data, and templates that a strict Content Security
Policy can serve: no inline script, no event-handler attributes, no inline style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from casework.config import PROJECT_ROOT
from casework.security.models import Role
from tests.conftest import Factory

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))


def test_a_household_page_carries_every_protective_header(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    response = browser.get(f"/households/{household.id}")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # only in production


def test_files_with_personal_data_are_not_cached_either(
    make: Factory,
    login_as,  # type: ignore[no-untyped-def]
) -> None:
    household = make.household()
    browser, _ = login_as(Role.COORDINATOR)
    for url in (f"/households/{household.id}/statement.pdf", "/exports/households.csv"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_templates_have_no_inline_script_handler_or_style(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "event-handler attribute"
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    assert "<style" not in text, "inline <style>"
    assert "|safe" not in text.replace(" ", ""), "unescaped output"
