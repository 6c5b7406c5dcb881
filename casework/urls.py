"""Where a form may send the user back to."""

from __future__ import annotations

from flask import url_for


def safe_next(target: str | None) -> str:
    """Only a path on this site (never an open redirect), else the user's home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")
