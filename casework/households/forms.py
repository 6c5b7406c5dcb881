"""Forms for households and members. The services check every rule again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from casework.bounds import form_id
from casework.config import LOCALES
from casework.forms_common import (
    CHOOSE,
    LANGUAGE_NAMES,
    DayField,
    KeyedForm,
    QueryForm,
    SubForm,
)
from casework.households.models import Relation
from casework.labels import EXEMPTION_LABELS, NOTE_VISIBILITY_LABELS, RELATION_LABELS, SEX_LABELS


def relation_choices() -> list[tuple[str, str]]:
    """Nothing chosen at first: a preselected "Head" is a second head, refused at the end."""
    return [("", str(CHOOSE)), *((r.value, str(RELATION_LABELS[r.value])) for r in Relation)]


def sex_choices() -> list[tuple[str, str]]:
    return [("", str(_l("From the national ID"))), *((k, str(v)) for k, v in SEX_LABELS.items())]


class MemberFields(SubForm):
    """The fields of one person; used alone and nested in the new-household form."""

    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=80)])
    national_id = StringField(
        _l("National ID (ЕМБГ)"),
        # 13 digits; a few characters more for the spaces people type in it
        validators=[
            Optional(),
            Length(min=13, max=16, message=_l("A national ID (ЕМБГ) has exactly 13 digits.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    birth_date = DayField(_l("Birth date"), validators=[Optional()])
    sex = SelectField(_l("Sex"), validators=[Optional()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.sex.choices = sex_choices()


class MemberForm(KeyedForm, MemberFields):
    relation = SelectField(
        _l("Relation to the head"),
        validators=[DataRequired(_l("Choose the member's relation to the head of the household."))],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.relation.choices = relation_choices()


class HouseholdForm(KeyedForm):
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=200)])
    settlement = StringField(
        _l("Settlement or neighbourhood"), validators=[Optional(), Length(max=120)]
    )
    phone = StringField(
        _l("Phone"), validators=[Optional(), Length(max=40)], render_kw={"inputmode": "tel"}
    )
    language = SelectField(
        _l("Language for letters and statements"),
        choices=[(code, LANGUAGE_NAMES[code]) for code in LOCALES],
    )
    consent_on = DayField(_l("Consent to data processing signed on"), validators=[Optional()])
    assigned_worker_id = SelectField(_l("Social worker"), coerce=form_id, validators=[Optional()])


class NewHouseholdForm(HouseholdForm):
    municipality_id = SelectField(_l("Municipality"), coerce=form_id)
    head = FormField(MemberFields, label=_l("Head of household"))


class ExemptionForm(KeyedForm):
    reason = SelectField(_l("Reason"))
    document_ref = StringField(
        _l("Supporting document (number and issuer)"),
        validators=[DataRequired(), Length(max=120)],
    )
    starts_on = DayField(_l("From"), validators=[DataRequired()])
    ends_on = DayField(_l("Until"), validators=[Optional()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.reason.choices = [(k, str(v)) for k, v in EXEMPTION_LABELS.items()]


class NoteForm(KeyedForm):
    written_on = DayField(_l("Date"), validators=[DataRequired()])
    text = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=5000)])
    visibility = SelectField(_l("Who may read it"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.visibility.choices = [(k, str(v)) for k, v in NOTE_VISIBILITY_LABELS.items()]


class DuplicateForm(KeyedForm):
    decision = SelectField(
        _l("Is it the same family?"),
        choices=[
            ("same", _l("Same family: use the existing case")),
            ("different", _l("A different family")),
        ],
    )


class RevealForm(KeyedForm):
    reason = StringField(
        _l("Why do you need the whole number?"),
        validators=[DataRequired(), Length(max=500)],
        description=_l("For example: the utility asks for it to match the account."),
    )


class ListFilterForm(QueryForm):
    """The household list's filters, read from the URL (a GET form: no CSRF, nothing changes).
    The choices are set by the view from the user's scope; a value that is none of them is
    ignored and named back (``refused``), never an error page."""

    q = StringField(_l("Search"), validators=[Length(max=100)])
    status = SelectField(_l("Status"))
    worker_id = SelectField(_l("Social worker"))
    settlement = SelectField(_l("Settlement"))
    programme_id = SelectField(_l("Programme"))
    check = SelectField(_l("Balance check"))
    sort = SelectField(_l("Sort by"))

    FILTERS = ("status", "worker_id", "settlement", "programme_id", "check", "sort")

    def chosen(self) -> dict[str, str | None]:
        """Each filter's value when it is one of its choices, else None ("any")."""
        values: dict[str, str | None] = {}
        for name in self.FILTERS:
            field = self[name]
            offered = {str(value) for value, _label in field.choices or () if value != ""}
            values[name] = field.data if field.data in offered else None
        return values

    def refused(self) -> list[str]:
        """The labels of the filters whose value in the URL is not one of their choices."""
        chosen = self.chosen()
        return [
            str(self[name].label.text)
            for name in self.FILTERS
            if self[name].data not in (None, "") and chosen[name] is None
        ]
