"""Imports every area's models, so that the metadata (and Alembic) sees every table."""

from casework.audit.models import AuditEvent
from casework.enrollment.models import (
    Agreement,
    AgreementSignatory,
    CommissionDecision,
    CommissionMember,
    DecisionVote,
    Enrollment,
    EnrollmentEvent,
)
from casework.households.models import (
    CaseloadAssignment,
    CaseNote,
    DuplicateReview,
    Exemption,
    Household,
    Member,
)
from casework.organizations.models import Municipality, Organization
from casework.programmes.models import Programme, ProgrammeCreditor
from casework.security.models import RoleAssignment, User

__all__ = [
    "Agreement",
    "AgreementSignatory",
    "AuditEvent",
    "CaseNote",
    "CaseloadAssignment",
    "CommissionDecision",
    "CommissionMember",
    "DecisionVote",
    "DuplicateReview",
    "Enrollment",
    "EnrollmentEvent",
    "Exemption",
    "Household",
    "Member",
    "Municipality",
    "Organization",
    "Programme",
    "ProgrammeCreditor",
    "RoleAssignment",
    "User",
]
