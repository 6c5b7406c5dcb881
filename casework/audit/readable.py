"""Audit events as the Audit page shows them: the action in words and each change as a field,
its old and its new value (or the value recorded), formatted like the rest of the app.

Personal fields (``keys.PERSONAL_FIELDS``) are opened only for the readers who see the
family's data anyway (``policies.audit_personal_data_municipalities``): auditors and admins
read case numbers, never names, birth dates, addresses or reasons. A field whose household's
key was destroyed by retention reads "removed (retention)" for everyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from casework import formatting, labels
from casework.audit import keys
from casework.audit.models import AuditEvent, HouseholdKey
from casework.audit.queries import anonymised_households, case_numbers
from casework.security import policies
from casework.security.models import User

# Pairs that are one value, not an old and a new one.
VALUE_PAIRS = frozenset({"period", "roles"})
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class _Hidden:
    """A personal field the reader may not see."""


HIDDEN = _Hidden()

# How a reader sees an event's personal fields.
OPEN, CLOSED, ERASED = "open", "closed", "erased"


@dataclass(frozen=True)
class Difference:
    label: str
    old: str | None  # None: the payload records one value, not a change
    new: str


@dataclass(frozen=True)
class ReadableEvent:
    event: AuditEvent
    action: str
    record: str
    differences: list[Difference]


@dataclass
class _Reading:
    """What one page of events needs: who reads, the case numbers, the households' keys."""

    open_in: set[int]
    erased: set[int]  # households anonymised by retention
    cases: dict[int, str]
    keys: dict[int, HouseholdKey]
    locale: str
    shown: set[int] = field(default_factory=set)  # households whose personal data was opened


def household_of(event: AuditEvent) -> int | None:
    """The household an event is about, as far as its row tells without a query."""
    if event.entity_type == "household":
        return event.entity_id
    changes = event.changes or {}
    if isinstance(changes.get("household_id"), int):
        return int(changes["household_id"])
    sealed = keys.sealed_households(changes)
    return min(sealed) if sealed else None


def readable_events(
    events: Iterable[AuditEvent], reader: User
) -> tuple[list[ReadableEvent], set[int]]:
    """The page's events in words, and the households whose personal fields it shows."""
    events = list(events)
    open_in = policies.audit_personal_data_municipalities(reader)
    households = {h for h in (household_of(e) for e in events) if h is not None}
    for e in events:
        households |= _mentioned_households(e.changes or {})
    sealed = {
        h
        for e in events
        if e.municipality_id in open_in
        for h in keys.sealed_households(e.changes or {})
    }
    reading = _Reading(
        open_in,
        anonymised_households(households),
        case_numbers(households),
        keys.household_keys(sealed),
        str(get_locale() or "mk"),
    )
    rows = [
        ReadableEvent(
            e, labels.action_label(e.action), _record(e, reading), _differences(e, reading)
        )
        for e in events
    ]
    return rows, reading.shown


def _mentioned_households(changes: Mapping[str, Any]) -> set[int]:
    return {
        int(v)
        for k, v in changes.items()
        if k in ("household_id", "other_household_id") and isinstance(v, int)
    }


def _record(event: AuditEvent, reading: _Reading) -> str:
    kind = event.entity_type.replace("_", " ")
    case = reading.cases.get(household_of(event) or 0)
    if event.entity_type == "household":
        return f"{kind} {case or event.entity_id or ''}".strip()
    record = f"{kind} {event.entity_id or ''}".strip()
    return f"{record} · {case}" if case else record


def _differences(event: AuditEvent, reading: _Reading) -> list[Difference]:
    changes = event.changes or {}
    found = _snapshots(changes, _sight(event, reading), reading)
    for name, value in changes.items():
        if name in ("before", "after") and isinstance(value, Mapping):
            continue
        shown = _revealed(name, value, _sight(event, reading), reading)
        if isinstance(shown, list) and len(shown) == 2 and name not in VALUE_PAIRS:
            old_text, new_text = (_text(name, v, reading) for v in shown)
            found.append(Difference(_label(name), old_text, new_text))
        else:
            found.append(Difference(_label(name), None, _text(name, shown, reading)))
    return found


def _sight(event: AuditEvent, reading: _Reading) -> str:
    """Erased once retention anonymised the household (for events written before fields
    were sealed, too); open to the readers who see the family's data; closed to the rest."""
    if household_of(event) in reading.erased:
        return ERASED
    return OPEN if event.municipality_id in reading.open_in else CLOSED


def _snapshots(changes: Mapping[str, Any], sight: str, reading: _Reading) -> list[Difference]:
    """``{"after": {...}}`` (the values recorded) or ``{"before": ..., "after": ...}``."""
    before, after = changes.get("before"), changes.get("after")
    if not isinstance(after, Mapping):
        return []
    old = before if isinstance(before, Mapping) else None
    found = []
    for name in [*after, *(k for k in (old or {}) if k not in after)]:
        text = _text(name, _revealed(name, after.get(name), sight, reading), reading)
        old_text = (
            None
            if old is None
            else _text(name, _revealed(name, old.get(name), sight, reading), reading)
        )
        found.append(Difference(_label(name), old_text, text))
    return found


def _revealed(name: str, value: Any, sight: str, reading: _Reading) -> Any:
    """The value the reader may see: opened, hidden, or removed with its household's key."""
    personal = keys.is_sealed(value) or (name in keys.PERSONAL_FIELDS and value is not None)
    if personal and sight == ERASED:
        return keys.REMOVED
    if personal and sight == CLOSED:
        return HIDDEN
    if keys.is_sealed(value):
        opened = keys.open_value(value, reading.keys)
        if opened is not keys.REMOVED:
            reading.shown.add(int(value["household"]))
        return opened
    if isinstance(value, Mapping):
        return {k: _revealed(k, v, sight, reading) for k, v in value.items()}
    return value


def _label(name: str) -> str:
    text = labels.AUDIT_FIELD_LABELS.get(name)
    return str(text) if text is not None else name.replace("_", " ")


def _text(name: str, value: Any, reading: _Reading) -> str:
    """One value as the rest of the app shows it."""
    if value is HIDDEN:
        return _("personal data, not shown")
    if value is keys.REMOVED:
        return _("removed (retention)")
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return _number(name, value, reading)
    if isinstance(value, list):
        joiner = " – " if name == "period" else ", "
        return joiner.join(_text(name, v, reading) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{_label(k)}: {_text(k, v, reading)}" for k, v in value.items())
    return _coded(name, str(value))


def _number(name: str, value: int, reading: _Reading) -> str:
    """Money in deni, minutes as hours, households by case number."""
    if name.endswith("_deni"):
        return formatting.money(value, reading.locale)
    if name == "minutes" or name.endswith("_minutes"):
        return formatting.hours(value, reading.locale)
    if name in ("household_id", "other_household_id"):
        return reading.cases.get(value, f"#{value}")
    return str(value)


# The words of a field's codes; a status is an enrollment's, a payment request's or a work
# log's (their shared codes, such as "approved", read the same).
_CODES: dict[str, tuple[dict[str, Any], ...]] = {
    "sex": (labels.SEX_LABELS,),
    "relation": (labels.RELATION_LABELS,),
    "status": (
        labels.ENROLLMENT_STATUS_LABELS,
        labels.REQUEST_STATUS_LABELS,
        labels.LOG_STATUS_LABELS,
    ),
    "close_reason": (labels.CLOSE_REASON_LABELS,),
    "seat": (labels.SEAT_LABELS,),
    "trigger": (labels.TRIGGER_LABELS,),
}


def _coded(name: str, text: str) -> str:
    """Codes in words (sex, relation, statuses, reasons), ISO dates and moments as dd.mm.yyyy."""
    for table in _CODES.get(name, ()):
        if text in table:
            return labels.label(table, text)
    if _DAY.match(text):
        return formatting.day(date.fromisoformat(text), "mk")
    if _MOMENT.match(text):
        return datetime.fromisoformat(text).strftime("%d.%m.%Y %H:%M")
    return text
