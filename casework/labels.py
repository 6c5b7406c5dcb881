"""Human names for the codes stored in the database, translated at display time."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "coordinator": _l("Coordinator"),
    "social_worker": _l("Social worker"),
    "officer": _l("Municipal officer"),
    "supervisor": _l("Site supervisor"),
    "auditor": _l("Auditor"),
}

RELATION_LABELS = {
    "head": _l("Head of household"),
    "spouse": _l("Spouse or partner"),
    "child": _l("Child"),
    "parent": _l("Parent"),
    "sibling": _l("Brother or sister"),
    "grandchild": _l("Grandchild"),
    "grandparent": _l("Grandparent"),
    "other": _l("Other relative"),
}

EXEMPTION_LABELS = {
    "pensioner": _l("Pensioner"),
    "pregnancy": _l("Pregnancy"),
    "maternity": _l("Maternity (up to 9 months)"),
    "unable_to_work": _l("Unable to work"),
    "other": _l("Other reason"),
}

SEX_LABELS = {"F": _l("Female"), "M": _l("Male")}


def label(table: dict[str, object], code: str | None) -> str:
    """The translated label for ``code``, or the code itself if it has none."""
    if code is None:
        return "—"
    return str(table.get(str(code), code))


ENROLLMENT_STATUS_LABELS = {
    "applied": _l("applied"),
    "approved": _l("approved"),
    "active": _l("active"),
    "completed": _l("completed"),
    "withdrawn": _l("withdrawn"),
    "rejected": _l("rejected"),
    "closed_early": _l("closed early"),
}

# Why an enrollment was closed before its hours were worked off (CloseReason).
CLOSE_REASON_LABELS = {
    "moved_away": _l("Moved away"),
    "died": _l("Died"),
    "unable_to_work": _l("Permanently unable to work"),
    "commission_decision": _l("Decision of the commission"),
    "other": _l("Other reason"),
}

REQUEST_STATUS_LABELS = {
    "draft": _l("draft"),
    "submitted": _l("submitted"),
    "rejected": _l("rejected"),
    "approved": _l("approved"),
    "cancelled": _l("cancelled"),
    "paid": _l("paid"),
    "reversed": _l("reversed"),
}

LOG_STATUS_LABELS = {
    "logged": _l("waiting for verification"),
    "verified": _l("verified"),
    "rejected": _l("rejected"),
    "withdrawn": _l("withdrawn"),
}

CHECK_STATUS_LABELS = {
    "no_obligation": _l("nothing owed"),
    "completed": _l("completed"),
    "on_track": _l("on track"),
    "behind": _l("behind"),
    "overdue": _l("overdue"),
}

TRIGGER_LABELS = {"scheduled": _l("on schedule"), "manual": _l("by hand")}

JOB_KIND_LABELS = {
    "import_check": _l("Checking an import file"),
    "import_apply": _l("Importing a file"),
    "balance_check": _l("Balance check"),
    "export": _l("Export"),
    "report_file": _l("Programme report"),
}

JOB_STATE_LABELS = {
    "queued": _l("waiting to start"),
    "running": _l("running"),
    "done": _l("done"),
    "failed": _l("failed"),
}

SEAT_LABELS = {
    "municipality": _l("Municipality"),
    "social_work_centre": _l("Centre for social work"),
    "roma_ngo": _l("Roma NGO"),
    "disability_ngo": _l("Disability NGO"),
    "lawyer": _l("Lawyer"),
    "other": _l("Other"),
}

VOTE_LABELS = {"for": _l("For"), "against": _l("Against"), "abstain": _l("Abstained")}

NOTE_VISIBILITY_LABELS = {
    "ngo": _l("NGO only"),
    "shared": _l("Shared with the municipality"),
}

# What each kind of audit event did, for the Audit page. A code missing here is shown as the
# code itself (``action_label``), so a new event is never hidden, only untranslated.
AUDIT_ACTION_LABELS = {
    "user.create": _l("User created"),
    "user.login": _l("Logged in"),
    "user.password": _l("Password changed"),
    "user.reauthenticate": _l("Password confirmed again"),
    "user.activate": _l("User activated"),
    "user.deactivate": _l("User deactivated"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "municipality.create": _l("Municipality created"),
    "organization.create": _l("Organisation created"),
    "creditor.create": _l("Creditor added"),
    "work_site.create": _l("Work site added"),
    "programme.create": _l("Programme created"),
    "programme.targets": _l("Programme targets set"),
    "commission.add_member": _l("Commission member added"),
    "household.create": _l("Household registered"),
    "household.update": _l("Household changed"),
    "household.assign_worker": _l("Social worker assigned"),
    "household.anonymise": _l("Household anonymised (retention)"),
    "member.create": _l("Member added"),
    "member.update": _l("Member changed"),
    "exemption.create": _l("Work exemption added"),
    "duplicate.decide": _l("Possible duplicate decided"),
    "note.create": _l("Case note written"),
    "enrollment.applied": _l("Application registered"),
    "enrollment.approved": _l("Application approved"),
    "enrollment.rejected": _l("Application rejected"),
    "enrollment.active": _l("Agreement signed, enrollment active"),
    "enrollment.completed": _l("Enrollment completed"),
    "enrollment.withdrawn": _l("Enrollment withdrawn"),
    "enrollment.closed_early": _l("Enrollment closed early"),
    "enrollment.reopened": _l("Enrollment reopened"),
    "utility_account.create": _l("Customer number added"),
    "utility_account.correct_number": _l("Customer number corrected"),
    "arrear.create": _l("Statement recorded"),
    "arrear.void": _l("Statement voided"),
    "arrear.replace": _l("Statement replaced"),
    "payment_request.draft": _l("Payment request drafted"),
    "payment_request.submitted": _l("Payment request submitted"),
    "payment_request.approved": _l("Payment request approved"),
    "payment_request.rejected": _l("Payment request rejected"),
    "payment_request.cancelled": _l("Payment request cancelled"),
    "payment_request.paid": _l("Payment request paid"),
    "payment_request.reversed": _l("Payment request reversed"),
    "payment_request.edit": _l("Payment request changed"),
    "payment.create": _l("Payment recorded"),
    "payment.reverse": _l("Payment reversed"),
    "work_log.create": _l("Work hours logged"),
    "work_log.verified": _l("Work hours confirmed"),
    "work_log.rejected": _l("Work hours rejected"),
    "work_log.edit": _l("Work log changed"),
    "work_log.correct": _l("Work hours corrected"),
    "work_log.withdraw": _l("Work hours withdrawn by whoever logged them"),
    "balance_check.run": _l("Balance check run"),
    "import.households": _l("Households imported"),
    "import.arrears": _l("Statements imported"),
    "export.households": _l("Households exported"),
    "export.payments": _l("Payments exported"),
    "export.work_logs": _l("Work logs exported"),
    "export.snapshots": _l("Balance checks exported"),
}


def action_label(code: str) -> str:
    """An audit event's action in words, or its code when it has none yet."""
    return str(AUDIT_ACTION_LABELS.get(code, code))


# The fields of audit payloads, for the Audit page; a field missing here shows its own name.
AUDIT_FIELD_LABELS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "birth_date": _l("Birth date"),
    "sex": _l("Sex"),
    "relation": _l("Relation"),
    "address": _l("Address"),
    "settlement": _l("Settlement"),
    "phone": _l("Phone"),
    "language": _l("Language"),
    "consent_on": _l("Consent to data processing signed on"),
    "national_id": _l("National ID"),
    "national_id_set": _l("National ID entered"),
    "customer_number": _l("Customer number"),
    "status": _l("Status"),
    "reason": _l("Reason"),
    "note": _l("Note"),
    "justification": _l("Justification"),
    "amount_deni": _l("Amount"),
    "principal_deni": _l("Principal"),
    "penalty_deni": _l("Penalty interest"),
    "period": _l("Period"),
    "reference": _l("Reference"),
    "paid_on": _l("Paid on"),
    "received_on": _l("Received on"),
    "reversed_on": _l("Reversed on"),
    "applied_on": _l("Applied on"),
    "effective_on": _l("Effective on"),
    "obligation_minutes": _l("Hours owed"),
    "starts_on": _l("From"),
    "ends_on": _l("Until"),
    "task": _l("Task"),
    "minutes": _l("Minutes"),
    "work_date": _l("Date"),
    "household_id": _l("Case number"),
    "other_household_id": _l("Case number"),
    "programme_id": _l("Programme"),
    "creditor_id": _l("Creditor"),
    "site_id": _l("Work site"),
    "decision": _l("Decision"),
    "name": _l("Name"),
    "username": _l("Username"),
    "roles": _l("Roles"),
    "file": _l("File"),
    "rows": _l("Rows"),
    "close_reason": _l("Reason for closing early"),
    "document_ref": _l("Document reference"),
    "minutes_owed": _l("Hours owed"),
    "minutes_verified": _l("Worked and verified"),
    "minutes_left": _l("Left to work"),
    "ended_on": _l("Ended on"),
    "statement_ref": _l("Statement or invoice number"),
    "arrear_id": _l("Statement"),
    "replaces_id": _l("Replaces statement"),
    "voided_on": _l("Voided on"),
    "account_id": _l("Utility account"),
    "hourly_value_deni": _l("Hourly value"),
    "total_deni": _l("Total"),
    "seat": _l("Seat"),
}
