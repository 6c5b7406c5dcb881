"""Log-in form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from casework.forms_common import KeyedForm, PlainForm


class LoginForm(PlainForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=60)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class ReauthForm(PlainForm):
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class PasswordChangeForm(KeyedForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class TokenForm(KeyedForm):
    name = StringField(
        _l("What will use the token?"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("For example: the utility's reconciliation script."),
    )
