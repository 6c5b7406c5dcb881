"""Helpers every area's forms share."""

from __future__ import annotations

from typing import Any

from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)

from casework.bounds import MAX_AMOUNT_DENI, too_large_amount
from casework.config import LOCALES
from casework.errors import DomainError
from casework.formatting import NoSuchDay, no_such_day, parse_day, parse_money
from casework.formkeys.services import new_key
from casework.i18n import language_name
from casework.plain_text import control_refused, has_control

# The name of the hidden field that carries a rendered form's one-time key.
FORM_KEY = "form_key"

# The first option of a select that must be chosen, never guessed (a person, a relation).
CHOOSE = _l("Choose…")

# Languages are named in their own language, so everyone finds theirs.
LANGUAGE_NAMES = {code: language_name(code) for code in LOCALES}


def show_domain_error(error: DomainError, *forms: Any) -> None:
    """Put each of a service's refusals next to the field it names (in the first form that
    has it), or above the first form."""
    for name, message in error.errors:
        _show(name, message, forms)


def _show(name: str | None, message: str, forms: tuple[Any, ...]) -> None:
    if name:
        for form in forms:
            field = getattr(form, name, None)
            if field is not None and hasattr(field, "errors"):
                if message not in field.errors:
                    field.errors = [*field.errors, message]
                return
    first: Form = forms[0]
    if message not in first.form_errors:
        first.form_errors.append(message)


class DayField(DateField):
    """A date from the browser's date picker (``2026-11-23``), or typed as written here
    (``23.11.2026``) where a browser shows a plain text box. A day the calendar does not have
    (``1984-02-31``) is named as such, as the import names it (``formatting.parse_day``)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as unreadable:  # WTForms' own words, in the user's language
            raw = " ".join(str(v) for v in valuelist).strip()
            try:
                self.data = parse_day(raw)
            except NoSuchDay:
                raise ValueError(no_such_day(raw)) from None
            except ValueError:
                raise unreadable from None

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        """A date written but unreadable says why, not "required" (``DataRequired`` clears
        the field's errors when its data is empty)."""
        written = any(str(value).strip() for value in self.raw_data or ())
        if written and self.process_errors:
            self.errors = list(self.process_errors)


def form_key_input() -> Markup:
    """The hidden one-time key of one rendered form (``{{ form_key() }}`` in a template that
    writes its form by hand). A fresh key at every call, so that a page drawing the same form
    once per row (confirm this log, that log) gives every copy its own key."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_KEY, new_key())


class CatalogueTranslations:
    """WTForms' own messages ("This field is required.") looked up in the app's catalogue.

    WTForms ships no Macedonian or Albanian catalogue, and Flask-WTF's ``WTF_I18N_ENABLED``
    only reads WTForms' own: without this the library's refusals stay English on a
    Macedonian page. ``casework.form_messages`` marks each of WTForms' msgids so that
    ``casework translations update`` extracts them. Only the lookup is done here: WTForms
    fills in its placeholders (``%(min)d``) itself."""

    def gettext(self, string: str) -> str:
        return str(get_translations().ugettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(get_translations().ungettext(singular, plural, n))


CATALOGUE = CatalogueTranslations()


class CatalogueMeta:
    """The ``Meta`` of every form, sub-forms (``FormField``) included: WTForms' messages in
    the request's language."""

    def get_translations(self, form: Any) -> CatalogueTranslations:
        return CATALOGUE


class SubForm(Form):
    """A group of fields nested in a page's form (``FormField``): a plain WTForms form, but
    its messages translated like the page's."""

    Meta = CatalogueMeta


class QueryForm(Form):
    """A form read from the URL (a list's filters): a GET changes nothing, so no CSRF token and
    no one-time key, but its messages are translated like every other form's."""

    Meta = CatalogueMeta


def named_errors(form: Any) -> list[str]:
    """Each of the form's refusals with the label of its field ("Note: This field is
    required."), for a page that can only show them above everything (a flash)."""
    named = [
        _("%(field)s: %(message)s", field=str(field.label.text), message=str(message))
        for field in form
        if isinstance(field.errors, list | tuple)
        for message in field.errors
    ]
    return named + [str(message) for message in form.form_errors]


class PlainForm(FlaskForm):
    """Every form of the app: a field holding a control character (a NUL byte, which
    PostgreSQL cannot store) is refused beside the field, naming it, whatever else the form
    checks; nothing reaches a service. A password is only hashed, never stored: it is left
    alone. Multi-line fields (``TextAreaField``) may hold tabs and line breaks. WTForms' own
    messages come from the app's catalogue (``CatalogueMeta``)."""

    class Meta(CatalogueMeta):
        # Defined here too, not only inherited: a form that also derives from a ``SubForm``
        # (the member's page form) puts Flask-WTF's ``Meta`` before ``CatalogueMeta``.
        def get_translations(self, form: Any) -> CatalogueTranslations:
            return CATALOGUE

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        refused = [field for field in _text_fields(self) if _holds_control(field)]
        for field in refused:
            message = control_refused(str(field.label.text))
            field.errors = [*(e for e in field.errors if e != message), message]
        return valid and not refused


def _text_fields(form: Any) -> list[Field]:
    """The form's fields, those of its sub-forms and lists included."""
    found: list[Field] = []
    for field in form:
        if isinstance(field, FormField):
            found.extend(_text_fields(field.form))
        elif isinstance(field, FieldList):
            for entry in field.entries:
                found.extend(_text_fields(entry.form) if isinstance(entry, FormField) else [entry])
        elif not isinstance(field, PasswordField):
            found.append(field)
    return found


def _holds_control(field: Field) -> bool:
    # A hidden field is the page's own (the place to return to, which ``safe_next`` judges
    # as a browser reads it, tabs and line breaks dropped): only what can never be text.
    multiline = isinstance(field, TextAreaField | HiddenField)
    return any(
        isinstance(value, str) and has_control(value, multiline=multiline)
        for value in field.raw_data or ()
    )


class KeyedForm(PlainForm):
    """A state-changing form: ``hidden_tag()`` also draws its one-time key, which
    ``casework.actions`` claims when the form is sent, so that it records once. Forms that
    change nothing (a search, a period) and logging in derive from ``PlainForm`` itself."""

    def hidden_tag(self, *fields: Any) -> Markup:
        drawn: Markup = super().hidden_tag(*fields)  # the CSRF token, already escaped
        return drawn + form_key_input()


class MoneyField(StringField):
    """An amount typed as on a bill (``15.000,00``), held as deni in ``.data``."""

    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        raw = (valuelist[0] if valuelist else "") or ""
        self.raw_data = valuelist
        if not raw.strip():
            return
        try:
            self.data = parse_money(raw)
        except ValueError as error:
            if str(error) == "more than two decimals":
                raise ValueError(str(_l("An amount has at most two decimals."))) from None
            raise ValueError(str(_l("Enter an amount such as 15.000,00."))) from None
        if self.data > MAX_AMOUNT_DENI:
            raise ValueError(too_large_amount(str(self.label.text)))

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if self.data is None:
            return ""
        return f"{self.data // 100}.{self.data % 100:02d}" if self.data >= 0 else str(self.data)
