"""The hours form is made for a phone at the work site: few fields, sensible defaults."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from casework.bounds import form_id
from casework.forms_common import DayField, KeyedForm

# The value of the "Choose…" option of a select of ids (no row has id 0).
NOBODY = 0

DURATION_RE = re.compile(r"^\s*(\d{1,2})(?:[:.,h]\s*(\d{1,2}))?\s*$")


class DurationField(StringField):
    """``3:30`` or ``3`` (hours) → minutes in ``.data``."""

    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_data = valuelist
        raw = (valuelist[0] if valuelist else "") or ""
        self.data = None
        if not raw.strip():
            return
        match = DURATION_RE.match(raw)
        if not match or int(match.group(2) or 0) >= 60:
            raise ValueError(str(_l("Enter hours and minutes, such as 3:30.")))
        self.data = int(match.group(1)) * 60 + int(match.group(2) or 0)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{self.data // 60}:{self.data % 60:02d}"


class LogForm(KeyedForm):
    # The service says why a member may not work; a plain "not a valid choice" would not.
    # Nobody is preselected (``NOBODY`` first): hours on the wrong person are worse than none.
    member_id = SelectField(
        _l("Who worked"),
        coerce=form_id,
        validate_choice=False,
        validators=[DataRequired(_l("Choose who worked."))],
    )
    site_id = SelectField(_l("Work site"), coerce=form_id, validate_choice=False)
    work_date = DayField(_l("Date"), validators=[DataRequired()])
    start_time = TimeField(_l("From"), validators=[Optional()])
    end_time = TimeField(_l("To"), validators=[Optional()])
    duration = DurationField(_l("Or how long (h:mm)"), validators=[Optional()])
    task = StringField(_l("Task"), validators=[Optional(), Length(max=200)])


class ReasonForm(KeyedForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ActionForm(KeyedForm):
    """A button that only needs the CSRF token."""


class SiteForm(KeyedForm):
    enterprise_id = SelectField(_l("Public enterprise"), coerce=form_id)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    kind_of_work = StringField(_l("Kind of work"), validators=[Optional(), Length(max=200)])
