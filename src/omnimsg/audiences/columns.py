"""Which contact field each column of a CSV header fills (SPEC A5).

This module owns the header: the contact fields a column can map to, the common
spellings recognised without a mapping, and the checks that refuse a header no row
could be read under. It reads no rows and parses no values (see
:mod:`omnimsg.audiences.cells`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from omnimsg.audiences._text import UNREADABLE, show, type_name, unreadable_what
from omnimsg.errors import AudienceError, InputError
from omnimsg.segments.fields import CUSTOM_PREFIX

if TYPE_CHECKING:
    from omnimsg.audiences.options import CsvImportOptions

__all__ = ["CONTACT_FIELDS", "REJECT_REASON_COLUMN", "check_target", "map_header"]

CONTACT_FIELDS = frozenset(
    {
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "timezone",
        "language",
        "lifecycle",
        "tags",
        "created_at",
        "assignee",
    }
)
"""Contact fields a CSV column can map to; ``"custom.<name>"`` maps to a custom field."""

REJECT_REASON_COLUMN = "import_error"
"""The column the rejected-rows export adds; a re-import ignores it automatically."""

KEY_FIELDS = frozenset({"id", "phone", "email"})
"""A row names its contact by one of these; a header needs a column for one of them."""

_ALIAS_LISTS: dict[str, tuple[str, ...]] = {
    "id": ("id", "contact_id", "contactid", "visitor_id", "visitorid", "customer_id"),
    "first_name": ("first_name", "firstname", "first", "given_name", "givenname", "forename"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name", "familyname"),
    "email": ("email", "e_mail", "email_address", "e_mail_address", "emailaddress", "mail"),
    "phone": (
        "phone",
        "phone_number",
        "phonenumber",
        "phone_no",
        "telephone",
        "tel",
        "mobile",
        "mobile_phone",
        "mobile_number",
        "cell",
        "cell_phone",
        "cellphone",
        "msisdn",
        "whatsapp",
        "whatsapp_number",
    ),
    "timezone": ("timezone", "time_zone", "tz"),
    "language": ("language", "lang", "locale"),
    "lifecycle": ("lifecycle", "lifecycle_stage", "stage"),
    "tags": ("tags", "tag", "labels", "label"),
    "created_at": ("created_at", "created", "created_on", "creation_date"),
    "assignee": ("assignee", "assigned_to", "owner"),
}
_ALIASES = MappingProxyType(
    {alias: field for field, aliases in _ALIAS_LISTS.items() for alias in aliases}
)
_NOT_NAME_CHARS = re.compile(r"[\W_]+")


def normalize_name(name: str) -> str:
    """``"E-mail"`` → ``"e_mail"``, ``"First name"`` → ``"first_name"``."""
    return _NOT_NAME_CHARS.sub("_", name.casefold()).strip("_")


def check_target(target: object, where: str) -> str | None:
    """Return ``target`` when a column can map to it, else raise :class:`InputError`.

    A target is a name in :data:`CONTACT_FIELDS`, ``"custom.<name>"`` or ``None``
    (ignore the column).
    """
    if target is None:
        return None
    if isinstance(target, str):
        if target in CONTACT_FIELDS:
            return target
        if target.startswith(CUSTOM_PREFIX) and target[len(CUSTOM_PREFIX) :].strip():
            return target
        shown = show(target)
    else:
        shown = f"of type {type_name(target)}"
    fields = ", ".join(sorted(CONTACT_FIELDS))
    raise InputError(
        f"{where}: unknown target {shown}; expected one of {fields}, "
        f"'{CUSTOM_PREFIX}<name>' or None (ignore the column)"
    )


def _refuse_unreadable(header: Sequence[str], where: str) -> None:
    """A header cell with a NUL or undecodable bytes is refused, as it is in a row."""
    problems = []
    for position, name in enumerate(header, start=1):
        found = UNREADABLE.search(name)
        if found is not None:
            problems.append(f"column {position} holds {unreadable_what(found.group())}")
    if problems:
        raise AudienceError(
            f"{where}: " + "; ".join(problems) + "; a column name must be readable text "
            "(check the file's encoding)"
        )


def _refuse_repeats(header: Sequence[str], where: str) -> None:
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(header, start=1):
        if name:
            positions.setdefault(name, []).append(position)
    repeated = [(name, at) for name, at in positions.items() if len(at) > 1]
    if repeated:
        listed = "; ".join(f"{show(name)} at columns {at}" for name, at in repeated)
        raise AudienceError(f"{where}: repeats column names: {listed}")


def map_header(header: Sequence[str], options: CsvImportOptions, where: str) -> list[str | None]:
    """The target of every column of ``header`` (``None``: not read).

    ``where`` says which header it is in messages (``"CSV header (line 1)"``).

    Raises:
        AudienceError: a column name holds a NUL or undecodable bytes, repeats, is
            unknown (with ``unknown_columns="error"``), or two columns map to one
            field; the mapping names a column the header lacks; or no column maps
            to ``id``, ``phone`` or ``email``. Every problem is listed.
    """
    _refuse_unreadable(header, where)
    _refuse_repeats(header, where)
    explicit_by_norm: dict[str, str] = {}
    for column in options.mapping:
        explicit_by_norm.setdefault(normalize_name(column), column)
    custom_by_norm = {normalize_name(name): name for name in options.custom_types}
    used: set[str] = set()
    targets: list[str | None] = []
    unknown: list[str] = []
    for position, name in enumerate(header, start=1):
        if not name:
            targets.append(None)
            continue
        norm = normalize_name(name)
        key = name if name in options.mapping else explicit_by_norm.get(norm)
        if key is not None:
            used.add(key)
            targets.append(options.mapping[key])
        elif norm in _ALIASES:
            targets.append(_ALIASES[norm])
        elif norm in custom_by_norm:
            targets.append(CUSTOM_PREFIX + custom_by_norm[norm])
        elif name == REJECT_REASON_COLUMN or options.unknown_columns == "ignore":
            targets.append(None)
        elif options.unknown_columns == "custom":
            targets.append(CUSTOM_PREFIX + name)
        else:
            targets.append(None)
            unknown.append(f"{show(name)} (column {position})")
    problems: list[str] = []
    missing = [column for column in options.mapping if column not in used]
    if missing:
        problems.append(
            "the mapping names columns the header does not have: "
            + ", ".join(show(m) for m in missing)
        )
    if unknown:
        problems.append(
            "unknown columns "
            + ", ".join(unknown)
            + ": map them (mapping={name: 'custom.<name>' or a contact field, or None to "
            "ignore}) or set unknown_columns='custom' or 'ignore'"
        )
    seen: dict[str, str] = {}
    for name, target in zip(header, targets, strict=True):
        if target is None or target == "tags":
            continue
        if target in seen:
            problems.append(
                f"columns {show(seen[target])} and {show(name)} both map to {show(target)}; "
                "map one of them to another target or to None"
            )
        seen.setdefault(target, name)
    if problems:
        raise AudienceError(f"{where}: " + "; ".join(problems))
    if not KEY_FIELDS & seen.keys():
        raise AudienceError(
            f"{where}: no id, phone or e-mail column, so no row could name a contact; "
            "map one with mapping={column: 'phone'} (or 'email', 'id')"
        )
    return targets
