"""Imports every area's models, so that the metadata (and Alembic) sees every table."""

from casework.audit.models import AuditEvent
from casework.balances.models import Alert, BalanceRun, BalanceSnapshot
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
from casework.imports.models import ImportUpload
from casework.mail.models import OutboxMessage
from casework.organizations.models import Municipality, Organization
from casework.payments.models import (
    Approval,
    Arrear,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestEvent,
    UtilityAccount,
)
from casework.programmes.models import Programme, ProgrammeCreditor
from casework.security.models import RoleAssignment, User
from casework.work.models import WorkLog, WorkSite

__all__ = [
    "Agreement",
    "AgreementSignatory",
    "Alert",
    "Approval",
    "Arrear",
    "AuditEvent",
    "BalanceRun",
    "BalanceSnapshot",
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
    "ImportUpload",
    "Member",
    "Municipality",
    "Obligation",
    "Organization",
    "OutboxMessage",
    "Payment",
    "PaymentRequest",
    "PaymentReversal",
    "Programme",
    "ProgrammeCreditor",
    "RequestEvent",
    "RoleAssignment",
    "User",
    "UtilityAccount",
    "WorkLog",
    "WorkSite",
]
