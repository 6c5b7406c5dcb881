"""Setting up municipalities and organisations (admins only)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from casework.audit.services import record
from casework.config import LOCALES
from casework.errors import PermissionDenied, ValidationError
from casework.extensions import db
from casework.organizations.models import Municipality, Organization, OrganizationKind
from casework.security import policies
from casework.security.models import User


def create_municipality(
    actor: User | None,
    code: str,
    name: str,
    *,
    name_sq: str | None = None,
    default_locale: str = "mk",
) -> Municipality:
    """``actor`` None: set-up from the command line before any admin exists."""
    if actor is not None and not policies.is_global_admin(actor):
        raise PermissionDenied()
    code = code.strip().upper()
    if not code.isalnum() or not 2 <= len(code) <= 8:
        raise ValidationError(_("A municipality code has 2 to 8 letters or digits."), "code")
    if not name.strip():
        raise ValidationError(_("Enter the municipality's name."), "name")
    if default_locale not in LOCALES:
        raise ValidationError(_("Choose one of the offered languages."), "default_locale")
    if db.session.scalar(select(Municipality.id).where(Municipality.code == code)):
        raise ValidationError(_("This code is taken."), "code")
    municipality = Municipality(
        code=code, name=name.strip(), name_sq=name_sq, default_locale=default_locale
    )
    db.session.add(municipality)
    db.session.flush()
    record(
        actor,
        "municipality.create",
        "municipality",
        municipality.id,
        municipality_id=municipality.id,
        changes={"code": code, "name": municipality.name},
    )
    return municipality


def create_organization(
    actor: User | None,
    kind: OrganizationKind,
    name: str,
    *,
    municipality: Municipality | None = None,
    short_name: str | None = None,
) -> Organization:
    if actor is not None and not policies.is_global_admin(actor):
        raise PermissionDenied()
    if not name.strip():
        raise ValidationError(_("Enter the organisation's name."), "name")
    organization = Organization(
        kind=kind,
        name=name.strip(),
        short_name=short_name,
        municipality_id=municipality.id if municipality else None,
    )
    db.session.add(organization)
    db.session.flush()
    record(
        actor,
        "organization.create",
        "organization",
        organization.id,
        municipality_id=organization.municipality_id,
        changes={"kind": kind, "name": organization.name},
    )
    return organization
