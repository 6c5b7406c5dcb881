"""Marshmallow schemas shared by the API's areas (the caller, small reusable pieces)."""

from __future__ import annotations

import marshmallow as ma


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
