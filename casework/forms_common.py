"""Helpers every area's forms share."""

from __future__ import annotations

from typing import Any

from wtforms import Form

from casework.config import LOCALES
from casework.errors import DomainError
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
