"""The subject access export: everything stored about one household, as JSON and as PDF.

Load through the scoped query (outside the user's scope is a 404), check the policy (403),
ask for the password again if it was not typed recently, record the export in the access log,
commit, and send the file.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort
from flask_login import current_user
from werkzeug.wrappers import Response

from casework.audit.models import AccessAction
from casework.audit.services import log_access
from casework.extensions import db
from casework.households.models import Household
from casework.households.queries import get_visible_household
from casework.privacy import services
from casework.security import policies
from casework.security.views import fresh_login_required

bp = Blueprint("privacy", __name__)


def _household(household_id: int) -> Household:
    household = get_visible_household(current_user, household_id)
    if household is None:
        abort(404)
    if not policies.can_export_household_data(current_user, household):
        abort(403)
    return household


def _attachment(household: Household, extension: str) -> dict[str, str]:
    # Case numbers are the municipality code and a number; anything else would not be a safe
    # header value.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", household.case_number)
    return {"Content-Disposition": f'attachment; filename="household-{safe}-data.{extension}"'}


def _record(household: Household, fmt: str) -> None:
    log_access(
        current_user,
        AccessAction.SUBJECT_EXPORT,
        household_id=household.id,
        municipality_id=household.municipality_id,
        detail=fmt,
    )
    db.session.commit()


@bp.get("/households/<int:household_id>/data.json")
@fresh_login_required
def data_json(household_id: int) -> Response:
    household = _household(household_id)
    body = services.household_data_json(services.household_data(household))
    _record(household, "json")
    return Response(body, mimetype="application/json", headers=_attachment(household, "json"))


@bp.get("/households/<int:household_id>/data.pdf")
@fresh_login_required
def data_pdf(household_id: int) -> Response:
    household = _household(household_id)
    body = services.household_data_pdf(services.household_data(household))
    _record(household, "pdf")
    return Response(body, mimetype="application/pdf", headers=_attachment(household, "pdf"))
