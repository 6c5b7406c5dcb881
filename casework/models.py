"""Imports every area's models, so that the metadata (and Alembic) sees every table."""

from casework.api.models import ApiRateWindow, ApiToken, IdempotentRequest
from casework.audit.models import AccessRecord, AuditEvent
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
from casework.formkeys.models import FormKey
from casework.households.models import (
    CaseloadAssignment,
    CaseNote,
    DuplicateReview,
    Exemption,
    Household,
    Member,
)
from casework.imports.models import ImportUpload
from casework.jobs.models import Job
from casework.mail.models import OutboxMessage
from casework.ops.models import Heartbeat
from casework.organizations.models import Municipality, Organization
from casework.payments.models import (
    Approval,
    Arrear,
    CustomerNumberCorrection,
    Obligation,
    Payment,
    PaymentRequest,
    PaymentReversal,
    RequestEvent,
    UtilityAccount,
)
from casework.programmes.models import Programme, ProgrammeCreditor
from casework.security.models import LoginAttempt, RoleAssignment, User, UserSession
from casework.work.models import WorkLog, WorkSite

__all__ = [
    "AccessRecord",
    "Agreement",
    "AgreementSignatory",
    "Alert",
    "ApiRateWindow",
    "ApiToken",
    "Approval",
    "Arrear",
    "AuditEvent",
    "BalanceRun",
    "BalanceSnapshot",
    "CaseNote",
    "CaseloadAssignment",
    "CommissionDecision",
    "CommissionMember",
    "CustomerNumberCorrection",
    "DecisionVote",
    "DuplicateReview",
    "Enrollment",
    "EnrollmentEvent",
    "Exemption",
    "FormKey",
    "Heartbeat",
    "Household",
    "IdempotentRequest",
    "ImportUpload",
    "Job",
    "LoginAttempt",
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
    "UserSession",
    "UtilityAccount",
    "WorkLog",
    "WorkSite",
]
