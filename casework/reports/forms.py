"""The report's period (a GET form: bookmarkable, no CSRF needed) and the programme's targets."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField
from wtforms.validators import NumberRange, Optional

from casework.bounds import MAX_ID
from casework.forms_common import KeyedForm, MoneyField, PlainForm


class PeriodForm(PlainForm):
    class Meta:
        csrf = False  # read-only: the period only filters what is shown

    period_from = DateField(_l("From"), validators=[Optional()])
    period_to = DateField(_l("Until"), validators=[Optional()])


class TargetsForm(KeyedForm):
    target_families = IntegerField(
        _l("Families to enroll"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
    target_debt = MoneyField(_l("Debt to pay (ден.)"), validators=[Optional()])
    target_hours = IntegerField(
        _l("Hours of community work"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
