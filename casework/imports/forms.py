"""The upload form: what the file holds, and the file."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import RadioField

from casework.forms_common import KeyedForm
from casework.imports.models import Kind


class UploadForm(KeyedForm):
    kind = RadioField(
        _l("The file holds"),
        choices=[
            (Kind.HOUSEHOLDS.value, _l("Households and their members (applicant list)")),
            (Kind.ARREARS.value, _l("Debts per customer number (creditor's list)")),
        ],
        default=Kind.HOUSEHOLDS.value,
    )
    file = FileField(
        _l("File (CSV or XLSX)"),
        validators=[
            FileRequired(_l("Choose the file to import.")),
            FileAllowed(["csv", "xlsx", "txt"], _l("Upload a CSV or an XLSX file.")),
        ],
    )


class ConfirmForm(KeyedForm):
    """The button that imports what the dry run showed (CSRF only)."""
