"""``/healthz`` and ``/readyz``: public, JSON, and free of data."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from casework.db import read_only_view, utcnow
from casework.ops import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: touches nothing, so a slow database does not restart the app."""
    return jsonify(status="ok")


@bp.get("/readyz")
@read_only_view
def readyz() -> Response:
    """The database answers, its schema is at the code's migration head, and the background
    processes that should run have beaten recently: send this process traffic."""
    found = services.readiness(current_app.config["CASEWORK"], utcnow())
    response = jsonify(status="ready" if found.ready else "not ready", checks=found.checks)
    response.status_code = 200 if found.ready else 503
    return response
