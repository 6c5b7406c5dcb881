"""The search form over the audit trail and the access log."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from casework.audit.models import AccessAction
from casework.forms_common import PlainForm


class LogSearchForm(PlainForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    log = SelectField(
        _l("Log"),
        choices=[("changes", _l("Changes")), ("access", _l("Access to personal data"))],
        default="changes",
    )
    username = StringField(_l("User"), validators=[Optional(), Length(max=60)])
    household = StringField(_l("Case number"), validators=[Optional(), Length(max=20)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=60)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])


ACCESS_ACTIONS = [a.value for a in AccessAction]
