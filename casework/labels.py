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
