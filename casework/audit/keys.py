"""Personal fields of the audit trail, sealed with a key per household (crypto-shredding).

The audit trail is append-only and hash-chained, so anonymisation cannot rewrite it. Instead
``record`` seals every personal field of an event (``PERSONAL_FIELDS``) with its household's
own key before the event is stored: the chain hashes what is stored, the ciphertext. When
retention anonymises the household, ``shred`` destroys its key; the ciphertext stays, the
chain still verifies, and nobody can read those fields again.

Each household's key is a Fernet key (AES-128-CBC with HMAC-SHA256, from ``cryptography``)
kept in ``household_keys``, wrapped with the instance's master key: ``CASEWORK_AUDIT_KEY``, or
else one derived from the secret key with HKDF. A sealed field is stored as
``{"$sealed": <token>, "household": <id>}`` in place of its value (which may be an
``[old, new]`` pair).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Table, select
from sqlalchemy.orm import Mapper

from casework.audit.models import HouseholdKey
from casework.db import Base
from casework.extensions import db

# The one list of what in an audit payload is a family's personal data: names, birth dates,
# contact details, the utilities' customer numbers (a utility could name the family from
# one), national IDs (which never enter the trail, but would be sealed if they did) and free
# text, which may say anything about the family (reasons, notes, justifications). The same
# line as anonymisation's (privacy.services.ANONYMISATION): what it keeps (work tasks, the
# programme's document references, amounts, dates) stays readable here too. Matched by key
# at any depth of the payload ("after": {"first_name": ...}).
PERSONAL_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "birth_date",
        "address",
        "phone",
        "national_id",
        "customer_number",
        "reason",
        "note",
        "justification",
        "rejection_reason",
        "text",
        # the search typed before an export (it may be a family's name): about no one
        # household, so hidden from auditors but not sealed
        "q",
    }
)

SEALED = "$sealed"
_HKDF_INFO = b"casework audit household keys"
OPENED = "audit_household_keys"  # in session.info: unwrapped keys of this transaction


def is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and SEALED in value


def master_key() -> Fernet:
    """The key that wraps the households' keys: configured, or derived from the secret key."""
    settings = current_app.config["CASEWORK"]
    if settings.audit_key:
        return Fernet(settings.audit_key.encode("ascii"))
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        settings.secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _opened(row: HouseholdKey) -> Fernet | None:
    """The household's key, unwrapped once per transaction; None once shredded or unreadable."""
    if row.wrapped_key is None:
        return None
    cache: dict[str, Fernet] = db.session.info.setdefault(OPENED, {})
    if row.wrapped_key not in cache:
        try:
            cache[row.wrapped_key] = Fernet(master_key().decrypt(row.wrapped_key.encode()))
        except InvalidToken:  # another master key: the fields cannot be read, say so
            current_app.logger.warning("audit: a household key does not open with this key")
            return None
    return cache[row.wrapped_key]


def _key_to_seal_with(household_id: int) -> Fernet:
    """The household's key, made on its first personal field (or anew after a shredding:
    what was sealed before stays unreadable, the new key opens only what comes after)."""
    row = db.session.get(HouseholdKey, household_id)
    if row is None:
        row = HouseholdKey(household_id=household_id)
        db.session.add(row)
    if row.wrapped_key is None:
        row.wrapped_key = master_key().encrypt(Fernet.generate_key()).decode("ascii")
    key = _opened(row)
    if key is None:
        raise RuntimeError("audit: the household's key does not open with the master key")
    return key


def has_personal_fields(changes: Mapping[str, Any]) -> bool:
    return any(
        k in PERSONAL_FIELDS or (isinstance(v, Mapping) and has_personal_fields(v))
        for k, v in changes.items()
    )


def seal(changes: dict[str, Any], household_id: int) -> dict[str, Any]:
    """``changes`` with every personal field sealed with the household's key."""
    key = _key_to_seal_with(household_id)

    def walk(part: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in part.items():
            if name in PERSONAL_FIELDS and value is not None and not is_sealed(value):
                token = key.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8"))
                out[name] = {SEALED: token.decode("ascii"), "household": household_id}
            elif isinstance(value, Mapping):
                out[name] = walk(value)
            else:
                out[name] = value
        return out

    return walk(changes)


class Removed:
    """What a sealed field opens to once its household's key is gone."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED = Removed()
REMOVED_TEXT = "removed (retention)"  # in JSON documents, which are not translated


def household_keys(household_ids: Iterable[int]) -> dict[int, HouseholdKey]:
    """The keys of a page's households, in one query."""
    ids = sorted(set(household_ids))
    if not ids:
        return {}
    rows = db.session.scalars(select(HouseholdKey).where(HouseholdKey.household_id.in_(ids)))
    return {row.household_id: row for row in rows}


def sealed_households(changes: Mapping[str, Any]) -> set[int]:
    """The households whose keys sealed fields of ``changes``."""
    found: set[int] = set()
    for value in changes.values():
        if is_sealed(value):
            found.add(int(value["household"]))
        elif isinstance(value, Mapping):
            found |= sealed_households(value)
    return found


def open_value(value: Mapping[str, Any], keys: Mapping[int, HouseholdKey]) -> Any:
    """A sealed field's value, or ``REMOVED`` when its household's key was destroyed."""
    row = keys.get(int(value["household"]))
    key = _opened(row) if row is not None else None
    if key is None:
        return REMOVED
    try:
        return json.loads(key.decrypt(str(value[SEALED]).encode("ascii")))
    except InvalidToken:  # sealed with a key shredded since (the household was re-keyed)
        return REMOVED


def opened(changes: Mapping[str, Any], keys: Mapping[int, HouseholdKey]) -> dict[str, Any]:
    """``changes`` with its sealed fields opened (``REMOVED`` where the key is gone)."""
    return {
        name: open_value(value, keys)
        if is_sealed(value)
        else opened(value, keys)
        if isinstance(value, Mapping)
        else value
        for name, value in changes.items()
    }


def jsonable_opened(changes: Mapping[str, Any], keys: Mapping[int, HouseholdKey]) -> Any:
    """``opened`` for a JSON document: a destroyed field reads ``"removed (retention)"``."""

    def plain(value: Any) -> Any:
        if value is REMOVED:
            return REMOVED_TEXT
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(opened(changes, keys))


def shred(household_id: int, *, now: datetime) -> None:
    """Destroy the household's key: its sealed audit fields become unreadable for good."""
    row = db.session.get(HouseholdKey, household_id)
    if row is None:
        return
    db.session.info.get(OPENED, {}).pop(row.wrapped_key or "", None)
    row.wrapped_key = None
    row.shredded_at = now
    db.session.flush()


# --- whose household an event is about -------------------------------------------------------

_PATHS: dict[str, list[tuple[Mapper[Any], str]] | None] = {}


def _mapper_of(entity_type: str) -> Mapper[Any] | None:
    for mapper in Base.registry.mappers:
        name = mapper.class_.__name__
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
        if snake == entity_type:
            return mapper
    return None


def _path_to_households(entity_type: str) -> list[tuple[Mapper[Any], str]] | None:
    """The foreign keys from the entity's table to ``households``, shortest first: each step
    a mapper and the attribute that holds the next row's id (found once per entity type)."""
    if entity_type in _PATHS:
        return _PATHS[entity_type]
    start = _mapper_of(entity_type)
    by_table = {
        m.local_table.name: m for m in Base.registry.mappers if isinstance(m.local_table, Table)
    }
    frontier: list[tuple[Mapper[Any], list[tuple[Mapper[Any], str]]]] = (
        [(start, [])] if start is not None else []
    )
    seen: set[str] = set()
    found: list[tuple[Mapper[Any], str]] | None = None
    while frontier and found is None:
        step: list[tuple[Mapper[Any], list[tuple[Mapper[Any], str]]]] = []
        for mapper, path in frontier:
            table = mapper.local_table
            if not isinstance(table, Table):  # every model here maps one table
                continue
            seen.add(table.name)
            for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
                target = fk.column.table.name
                attribute = mapper.get_property_by_column(fk.parent).key
                if target == "households":
                    found = [*path, (mapper, attribute)]
                    break
                if target not in seen and target in by_table:
                    step.append((by_table[target], [*path, (mapper, attribute)]))
            if found is not None:
                break
        frontier = step
    _PATHS[entity_type] = found
    return found


def household_of(entity_type: str, entity_id: int | None, changes: Mapping[str, Any]) -> int | None:
    """The household an event is about: its entity, the payload's ``household_id``, or the
    foreign keys from the entity's row to a household (through the session's rows)."""
    if entity_type == "household":
        return entity_id
    if isinstance(changes.get("household_id"), int):
        return int(changes["household_id"])
    path = _path_to_households(entity_type) if entity_id is not None else None
    value: Any = entity_id
    for mapper, attribute in path or []:
        row = db.session.get(mapper.class_, value)
        value = getattr(row, attribute, None) if row is not None else None
        if value is None:
            return None
    return int(value) if path else None
