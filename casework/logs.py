"""Structured logs: one line per request and per background job, as text or JSON.

A line carries the request id, the method, the endpoint (the route's name, never the path or
its query string, which may hold a name searched for), the status, the duration and the
user's id — never a name or a national ID. Errors are logged by casework.errors, which keeps
the exception's types and frames but never its message."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect as sa_inspect

# The fields a line may carry beyond time, level, logger and message.
FIELDS = (
    "request_id",
    "method",
    "endpoint",
    "status",
    "duration_ms",
    "user_id",
    "job_id",
    "job_kind",
    "state",
    "programme_id",
)

requests_log = logging.getLogger("casework.requests")


class TextFormatter(logging.Formatter):
    """``2026-12-01 10:00:00,123 INFO casework.requests request method=GET …``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)
        )
        return f"{line} {extras}" if extras else line


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            ["asctime", "levelname", "name", "message"],
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return TextFormatter()


_HANDLER_NAME = "casework"


def configure(log_format: str) -> None:
    """One handler on the root logger, to standard error (systemd's journal, a container's
    log). Calling it again replaces it, so several apps in one process log once."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The development server's own line per request holds the path and query string.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _loaded_user_id() -> int | None:
    """The id of the user this request loaded, read from the identity map: after the view's
    commit the row is expired, and reading ``user.id`` would begin a new transaction (on
    SQLite one that queues behind a worker's write lock) just to write a log line."""
    user = g.get("_login_user")  # only if this request loaded it: logging reads nothing
    state = sa_inspect(user, raiseerr=False) if user is not None else None  # anonymous: None
    if state is None or state.identity is None:
        return None
    return int(state.identity[0])


def init_app(app: Flask) -> None:
    from casework.errors import current_request_id

    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started")
        fields: dict[str, Any] = {
            "request_id": current_request_id(),
            "method": request.method,
            "endpoint": request.endpoint or "-",
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }
        user_id = _loaded_user_id()
        if user_id is not None:
            fields["user_id"] = user_id
        requests_log.info("request", extra=fields)
        return response
