"""Imports every area's models, so that the metadata (and Alembic) sees every table."""

from casework.audit.models import AuditEvent
from casework.households.models import Exemption, Household, Member
from casework.organizations.models import Municipality, Organization
from casework.programmes.models import Programme
from casework.security.models import RoleAssignment, User

__all__ = [
    "AuditEvent",
    "Exemption",
    "Household",
    "Member",
    "Municipality",
    "Organization",
    "Programme",
    "RoleAssignment",
    "User",
]
