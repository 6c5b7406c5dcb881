"""Helpers every area's forms share."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Form, StringField

from casework.config import LOCALES
from casework.errors import DomainError
from casework.formatting import parse_money
from casework.i18n import language_name

# Languages are named in their own language, so everyone finds theirs.
LANGUAGE_NAMES = {code: language_name(code) for code in LOCALES}


def show_domain_error(error: DomainError, *forms: Any) -> None:
    """Put a service's refusal next to the field it names (in the first form that has it),
    or above the first form."""
    if error.field:
        for form in forms:
            field = getattr(form, error.field, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, error.message]
                return
    first: Form = forms[0]
    first.form_errors.append(error.message)


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

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if self.data is None:
            return ""
        return f"{self.data // 100}.{self.data % 100:02d}" if self.data >= 0 else str(self.data)
