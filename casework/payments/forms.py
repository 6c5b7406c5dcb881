"""Forms for arrears, payment requests and payments. The services check every rule again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from casework.bounds import form_id
from casework.forms_common import DayField, KeyedForm, MoneyField


class CreditorForm(KeyedForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    short_name = StringField(_l("Short name"), validators=[Optional(), Length(max=60)])


class AccountForm(KeyedForm):
    creditor_id = SelectField(_l("Creditor"), coerce=form_id)
    customer_number = StringField(
        _l("Customer number"), validators=[DataRequired(), Length(max=40)]
    )


class ArrearForm(KeyedForm):
    account_id = SelectField(_l("Utility account"), coerce=form_id)
    period_from = DayField(_l("Debt period from"), validators=[DataRequired()])
    period_to = DayField(_l("Debt period to"), validators=[DataRequired()])
    principal = MoneyField(_l("Principal (ден.)"), validators=[InputRequired()])
    penalty = MoneyField(_l("Penalty interest (ден.)"), validators=[Optional()])
    statement_ref = StringField(
        _l("Statement or invoice number"), validators=[DataRequired(), Length(max=120)]
    )
    received_on = DayField(_l("Received on"), validators=[DataRequired()])


class RequestForm(KeyedForm):
    arrear_id = SelectField(_l("Debt"), coerce=form_id)
    amount = MoneyField(_l("Amount to pay (ден.)"), validators=[InputRequired()])
    justification = TextAreaField(_l("Justification"), validators=[Optional(), Length(max=2000)])
    submit_now = BooleanField(_l("Submit to the municipality now"), default=True)


class EditRequestForm(KeyedForm):
    amount = MoneyField(_l("Amount to pay (ден.)"), validators=[InputRequired()])
    justification = TextAreaField(_l("Justification"), validators=[Optional(), Length(max=2000)])


class ReasonForm(KeyedForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class PaymentForm(KeyedForm):
    paid_on = DayField(_l("Paid on"), validators=[DataRequired()])
    reference = StringField(
        _l("Bank or receipt reference"), validators=[DataRequired(), Length(max=120)]
    )
    amount = MoneyField(_l("Amount settled (ден.)"), validators=[InputRequired()])


class ReversalForm(KeyedForm):
    reversed_on = DayField(_l("Reversed on"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class ActionForm(KeyedForm):
    """A button that only needs the CSRF token (submit, approve)."""


class ReplaceArrearForm(ArrearForm):
    """The statement entered in place of a wrong one: on the same account, with the reason."""

    account_id = None
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class CustomerNumberForm(KeyedForm):
    customer_number = StringField(
        _l("Customer number"), validators=[DataRequired(), Length(max=40)]
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
