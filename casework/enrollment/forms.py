"""Forms for the steps of an enrollment. The services check every rule again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from casework.bounds import form_id
from casework.forms_common import DayField, KeyedForm
from casework.labels import CLOSE_REASON_LABELS, SEAT_LABELS, VOTE_LABELS


class ApplyForm(KeyedForm):
    programme_id = SelectField(_l("Programme"), coerce=form_id)
    applied_on = DayField(_l("Application received on"), validators=[DataRequired()])


class DecisionForm(KeyedForm):
    """Votes are read from ``vote-<member id>`` fields, one per commission member."""

    decided_on = DayField(_l("Decided on"), validators=[DataRequired()])
    outcome = SelectField(
        _l("Decision"),
        choices=[("approved", _l("Approved")), ("rejected", _l("Rejected"))],
    )
    reference = StringField(
        _l("Minutes or decision number"), validators=[Optional(), Length(max=120)]
    )
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


def vote_choices() -> list[tuple[str, str]]:
    return [("", str(_l("Absent"))), *((k, str(v)) for k, v in VOTE_LABELS.items())]


class AgreementForm(KeyedForm):
    signed_on = DayField(_l("Signed on"), validators=[DataRequired()])
    reference = StringField(_l("Agreement number"), validators=[DataRequired(), Length(max=120)])
    signatories = SelectMultipleField(
        _l("Signed by"),
        coerce=form_id,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )


class CloseForm(KeyedForm):
    effective_on = DayField(_l("Effective on"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class CloseEarlyForm(KeyedForm):
    """Ending an enrollment with hours still owed; the page shows the balance first."""

    effective_on = DayField(_l("Effective on"), validators=[DataRequired()])
    close_reason = SelectField(
        _l("Reason"), choices=[("", "—"), *((k, v) for k, v in CLOSE_REASON_LABELS.items())]
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    confirm = BooleanField(
        _l("I have checked the balance above: the enrollment ends with these hours left."),
        validators=[DataRequired(_l("Confirm that the enrollment ends with hours left."))],
    )


class ReopenForm(KeyedForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class CommissionMemberForm(KeyedForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    seat = SelectField(_l("Seat"), choices=[(k, v) for k, v in SEAT_LABELS.items()])
