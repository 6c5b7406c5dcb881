"""WTForms' built-in messages, marked so that ``casework translations update`` extracts them.

WTForms words its refusals in English ("This field is required.", "Not a valid choice.") and
ships no Macedonian or Albanian catalogue. Every form asks the app's catalogue for them
(``casework.forms_common.CatalogueTranslations``) by the very msgid WTForms uses; this list is
what puts those msgids in the catalogue (copied from WTForms' ``wtforms.pot``). A test checks
that it still names every message WTForms asks for, so an upgrade that adds one is noticed.
"""

from __future__ import annotations

from casework.i18n import gettext_noop, ngettext_noop

MESSAGES: tuple[str, ...] = (
    gettext_noop("Invalid field name '%s'."),
    gettext_noop("Field must be equal to %(other_name)s."),
    gettext_noop("Field must be between %(min)d and %(max)d characters long."),
    gettext_noop("Number must be at least %(min)s."),
    gettext_noop("Number must be at most %(max)s."),
    gettext_noop("Number must be between %(min)s and %(max)s."),
    gettext_noop("Date must be at least %(min)s."),
    gettext_noop("Date must be at most %(max)s."),
    gettext_noop("Date must be between %(min)s and %(max)s."),
    gettext_noop("This field is required."),
    gettext_noop("Invalid input."),
    gettext_noop("Invalid email address."),
    gettext_noop("Invalid IP address."),
    gettext_noop("Invalid Mac address."),
    gettext_noop("Invalid URL."),
    gettext_noop("Invalid UUID."),
    gettext_noop("Invalid value, must be one of: %(values)s."),
    gettext_noop("Invalid value, can't be any of: %(values)s."),
    gettext_noop("This field cannot be edited."),
    gettext_noop("This field is disabled and cannot have a value."),
    gettext_noop("Invalid CSRF Token."),
    gettext_noop("CSRF token missing."),
    gettext_noop("CSRF failed."),
    gettext_noop("CSRF token expired."),
    gettext_noop("Invalid Choice: could not coerce."),
    gettext_noop("Choices cannot be None."),
    gettext_noop("Not a valid choice."),
    gettext_noop("Invalid choice(s): one or more data inputs could not be coerced."),
    gettext_noop("Not a valid datetime value."),
    gettext_noop("Not a valid date value."),
    gettext_noop("Not a valid time value."),
    gettext_noop("Not a valid week value."),
    gettext_noop("Not a valid integer value."),
    gettext_noop("Not a valid decimal value."),
    gettext_noop("Not a valid float value."),
)

PLURAL_MESSAGES: tuple[tuple[str, str], ...] = (
    ngettext_noop(
        "Field must be at least %(min)d character long.",
        "Field must be at least %(min)d characters long.",
    ),
    ngettext_noop(
        "Field cannot be longer than %(max)d character.",
        "Field cannot be longer than %(max)d characters.",
    ),
    ngettext_noop(
        "Field must be exactly %(max)d character long.",
        "Field must be exactly %(max)d characters long.",
    ),
    ngettext_noop(
        "'%(value)s' is not a valid choice for this field.",
        "'%(value)s' are not valid choices for this field.",
    ),
)
