"""Message catalogues. In a checkout they are compiled from the ``.po`` files when the app
starts, so that no manual step stands between editing a translation and seeing it; a built
wheel ships them compiled (``hatch_build.py``) and nothing is written into it at run time.
Adding a language is adding a catalogue."""

from __future__ import annotations

import os
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from casework.config import IS_CHECKOUT, PACKAGE_DIR, PROJECT_ROOT

SOURCE_DIR = PACKAGE_DIR / "translations"


def compile_catalogues(target: Path, source: Path = SOURCE_DIR) -> Path:
    """Write a ``.mo`` beside each ``.po`` under ``target`` unless it is already up to date.

    Returns the directory to give Flask-Babel. ``target`` may equal ``source`` (a developer
    checkout) or be the instance folder (a read-only install).
    """
    for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
        relative = po_path.relative_to(source)
        mo_path = (target / relative).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=relative.parts[0])
        tmp_path = mo_path.with_suffix(f".mo.{os.getpid()}")
        with tmp_path.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp_path.replace(mo_path)  # atomic: several workers may start at once
    return target


def translations_directory() -> Path:
    """The folder Flask-Babel reads: the installed package's compiled catalogues as shipped,
    or a checkout's own, compiled in place when a ``.po`` is newer than its ``.mo``."""
    if IS_CHECKOUT:
        return compile_catalogues(SOURCE_DIR)
    return SOURCE_DIR


def language_name(code: str) -> str:
    """A language's name in that language (Македонски, Shqip, English), as a chooser shows it."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


def gettext_noop(message: str) -> str:
    """Marks a string for extraction where it is translated later, with an explicit locale."""
    return message


def ngettext_noop(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural form for extraction (``casework.form_messages``)."""
    return singular, plural


@cache
def _translations(locale: str) -> NullTranslations:
    return Translations.load(str(SOURCE_DIR), [locale])


def translate(message: str, locale: str) -> str:
    """``message`` in ``locale``, outside any request (formats, letters to a household)."""
    return _translations(locale).gettext(message)


# The functions that mark a string for translation, as pybabel's -k options.
KEYWORDS = (
    "_",
    "gettext",
    "ngettext:1,2",
    "_l",
    "lazy_gettext",
    "gettext_noop",
    "ngettext_noop:1,2",
)


def update_catalogues() -> None:
    """Extract every marked string into ``messages.pot`` and merge it into each catalogue.

    New strings arrive untranslated; the test suite fails until someone translates them.
    """
    from babel.messages.frontend import CommandLineInterface

    pot = SOURCE_DIR / "messages.pot"
    cli = CommandLineInterface()
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    cli.run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(PROJECT_ROOT / "babel.cfg"),
            "--no-location",
            "--sort-output",
            "--project",
            "casework",
            *keywords,
            "-o",
            str(pot),
            str(PROJECT_ROOT),
        ]
    )
    cli.run(
        [
            "pybabel",
            "-q",
            "update",
            "-i",
            str(pot),
            "-d",
            str(SOURCE_DIR),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ]
    )
