"""Marshmallow schemas shared by the API's areas (the caller, small reusable pieces)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import has_request_context, request
from sqlalchemy import inspect

from casework.extensions import db


class RecordSchema(ma.Schema):
    """A row as a write operation answers it: as the database now holds it.

    A service's last changes may sit unflushed, and a relationship set by id (a correcting
    entry's ``reverses_id``) is not yet seen from the other side: before the answer is made,
    the session is flushed and the row read again, once, here, instead of by every operation.
    Reads are dumped as they are (their rows are fresh, and lists would pay per row)."""

    @ma.pre_dump
    def _as_stored(self, record: Any, **_kwargs: Any) -> Any:
        if has_request_context() and request.method not in ("GET", "HEAD"):
            state = inspect(record, raiseerr=False)
            if state is not None and (state.persistent or state.pending):
                db.session.flush()
                db.session.refresh(record)
        return record


class RoleSchema(ma.Schema):
    role = ma.fields.String(required=True)
    municipality_id = ma.fields.Integer(allow_none=True)
    organization_id = ma.fields.Integer(allow_none=True)


class MeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True)
    locale = ma.fields.String(allow_none=True)
    roles = ma.fields.List(ma.fields.Nested(RoleSchema), required=True)
