"""The subject access export: everything stored about one household, as JSON and as PDF.

Load through the scoped query (outside the user's scope is a 404), check the policy (403),
ask for the password again if it was not typed recently, record the export in the access log,
commit, and send the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.actions import allow, recorded, visible
from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.privacy import documents, services
from casework.security import policies
from casework.security.sessions import recent_password_required

bp = Blueprint("privacy", __name__)


def _attachment(household: Household, extension: str) -> dict[str, str]:
    # Case numbers are the municipality code and a number; anything else would not be a safe
    # header value.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", household.case_number)
    return {"Content-Disposition": f'attachment; filename="household-{safe}-data.{extension}"'}


def _send(
    household_id: int, fmt: str, render: Callable[[Mapping[str, Any]], str | bytes], mimetype: str
) -> Response:
    """The household's data as a file, recorded in the access log; the response is made
    before the commit (see ``casework.actions``)."""
    household = visible(get_visible_household(current_user, household_id))
    allow(policies.can_export_household_data(current_user, household))
    response = Response(
        render(services.household_data(household)),
        mimetype=mimetype,
        headers=_attachment(household, fmt),
    )
    return recorded(
        response,
        lambda: log_access(
            current_user,
            AccessAction.SUBJECT_EXPORT,
            household_id=household.id,
            municipality_id=household.municipality_id,
            detail=fmt,
        ),
    )


@bp.get("/households/<int:household_id>/data.json")
@recent_password_required
def data_json(household_id: int) -> Response:
    return _send(household_id, "json", documents.household_data_json, "application/json")


@bp.get("/households/<int:household_id>/data.pdf")
@recent_password_required
def data_pdf(household_id: int) -> Response:
    return _send(household_id, "pdf", documents.household_data_pdf, "application/pdf")
