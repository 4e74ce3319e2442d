"""Contacts from a CSV file, streamed row by row (SPEC A5).

This module owns the CSV boundary of the contact model: mapping a header to
:class:`~omnimsg.contacts.Contact` fields and typed custom fields, validating each
row (pydantic-core, one validator per column), normalising phones to E.164,
merging duplicate rows, and reporting every rejected row with its physical line.
A record whose quoting is broken costs only its first line: the lines after it are
read again as records of their own. It also writes rejected rows back out as CSV for
correction, with spreadsheet formulas neutralised, and undoes that neutralisation
when such a file is imported again.

Memory stays bounded by design: the importer holds one record at a time and hands
every contact to a :class:`ContactSink` at once. What it keeps is the dedupe index
(one entry per distinct id, phone and e-mail; turn dedupe off, or pass a
disk-backed mapping, to keep even that out of memory) and the rejected rows it
reports (``keep_rejected=False`` streams them to ``on_rejected`` instead).

The importer reads an already-open text stream or any iterable of lines and does
no file I/O; only the two ``*_file`` functions at the bottom open files.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from functools import lru_cache
from hashlib import blake2b
from os import PathLike
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import phonenumbers
from dateutil.parser import isoparse
from pydantic_core import PydanticCustomError, SchemaValidator, ValidationError, core_schema

from omnimsg.contacts import Contact, CustomValue
from omnimsg.errors import AudienceError, InputError, PhoneNumberError
from omnimsg.phones import normalize_phone
from omnimsg.segments.audience import _BOM, id_problem
from omnimsg.segments.fields import CUSTOM_PREFIX, INT64_BOUND, FieldType

__all__ = [
    "CONTACT_FIELDS",
    "REJECT_REASON_COLUMN",
    "ContactSink",
    "CsvImportOptions",
    "CsvImportReport",
    "MemoryContactSink",
    "RejectedRow",
    "RejectedRowWriter",
    "RowProblem",
    "RowRejection",
    "UnknownColumns",
    "derive_contact_id",
    "import_contacts_csv",
    "import_contacts_csv_file",
    "merge_contacts",
    "neutralize_formula",
    "write_rejected_rows",
    "write_rejected_rows_file",
]


class UnknownColumns(StrEnum):
    """What to do with a header column that is neither mapped nor recognised."""

    ERROR = "error"
    """Refuse the file before reading any row (the default: a typo never goes unseen)."""
    CUSTOM = "custom"
    """Import the column as a string custom field named by the header text."""
    IGNORE = "ignore"
    """Drop the column."""


class RowRejection(StrEnum):
    """Why a CSV row was not imported (A5). Values are stable strings."""

    MALFORMED_CSV = "malformed_csv"
    """The record breaks CSV quoting (a stray quote, or a quote never closed).

    Only the record's first line is rejected; the lines after it are read again as
    rows of their own, so an unclosed quote never swallows the rows that follow.
    """
    WRONG_FIELD_COUNT = "wrong_field_count"
    """The row has fewer fields than the header, or more that are not empty."""
    UNDECODABLE = "undecodable"
    """A cell holds bytes that are not valid text in the file's encoding, or a NUL."""
    INVALID_ID = "invalid_id"
    INVALID_PHONE = "invalid_phone"
    INVALID_EMAIL = "invalid_email"
    INVALID_VALUE = "invalid_value"
    """A typed value (number, boolean, date-time, time zone) does not parse."""
    UNNAMED_COLUMN = "unnamed_column"
    """A value sits under a column whose header cell is empty."""
    MISSING_KEY = "missing_key"
    """The row has no id, no phone and no e-mail, so it cannot name a contact."""


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
"""The column :func:`write_rejected_rows` adds; a re-import ignores it automatically."""

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
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_MAX_EMAIL_LENGTH = 254
_INTEGER = re.compile(r"[+-]?\d+")
# 2**63 has 19 digits: a longer integer is out of range without converting it (int()
# refuses strings of more than 4,300 digits).
_INT64_DIGITS = 19
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLEANS = MappingProxyType(
    {
        **dict.fromkeys(("true", "t", "yes", "y", "1", "on"), True),
        **dict.fromkeys(("false", "f", "no", "n", "0", "off"), False),
    }
)
# Lone surrogates are what errors="surrogateescape" turns undecodable bytes into.
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")
_FORMULA_START = "=+-@\t\r"
# A cell is split at these (and at the file's delimiter) by a reader that ignores
# CSV quoting, so every piece after one is guarded like the start of a cell.
_PIECE_SEPARATORS = ",;\t\r\n"


def _normalize_name(name: str) -> str:
    """``"E-mail"`` → ``"e_mail"``, ``"First name"`` → ``"first_name"``."""
    return _NOT_NAME_CHARS.sub("_", name.casefold()).strip("_")


# --------------------------------------------------------------------------- options


def _check_target(target: str | None, where: str) -> None:
    if target is None or target in CONTACT_FIELDS:
        return
    if target.startswith(CUSTOM_PREFIX) and target[len(CUSTOM_PREFIX) :].strip():
        return
    fields = ", ".join(sorted(CONTACT_FIELDS))
    raise InputError(
        f"{where}: unknown target {target!r}; expected one of {fields}, "
        f"'{CUSTOM_PREFIX}<name>' or None (ignore the column)"
    )


def _to_mapping(value: Mapping[str, str | None]) -> Mapping[str, str | None]:
    mapping = {str(column): target for column, target in value.items()}
    for column, target in mapping.items():
        _check_target(target, f"mapping[{column!r}]")
    return MappingProxyType(mapping)


def _to_types(value: Mapping[str, FieldType | str]) -> Mapping[str, FieldType]:
    types: dict[str, FieldType] = {}
    for name, kind in value.items():
        try:
            types[str(name)] = FieldType(kind)
        except ValueError:
            known = ", ".join(t.value for t in FieldType)
            raise InputError(
                f"custom_types[{name!r}]: expected one of {known}, got {kind!r}"
            ) from None
    return MappingProxyType(types)


def _to_unknown_columns(value: UnknownColumns | str) -> UnknownColumns:
    try:
        return UnknownColumns(value)
    except ValueError:
        known = ", ".join(u.value for u in UnknownColumns)
        raise InputError(f"unknown_columns: expected one of {known}, got {value!r}") from None


def _to_region(value: str | None) -> str | None:
    if value is None:
        return None
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(f"default_region: {value!r} is not an ISO 3166 region phonenumbers knows")
    return region


def _check_delimiter(_: object, __: object, value: str) -> None:
    if len(value) != 1 or value in '"\r\n':
        raise InputError(f"delimiter: expected one character other than a quote, got {value!r}")


@attrs.frozen
class CsvImportOptions:
    """How to read a contacts CSV; build once, reuse for many files.

    Args:
        mapping: header text → target: a name in :data:`CONTACT_FIELDS`,
            ``"custom.<name>"``, or ``None`` to ignore the column. Matched exactly,
            then ignoring case, spaces and punctuation. Columns it does not name are
            mapped automatically from common spellings (``Phone``, ``phone_number``,
            ``E-mail``, ``First name`` ...) or from a ``custom_types`` name.
        custom_types: custom field name → :class:`FieldType` (or its string value).
            Custom fields not listed are strings.
        unknown_columns: what to do with columns that are still unmapped
            (:class:`UnknownColumns`; default ``"error"``).
        default_region: ISO 3166 region for phones written without ``+country``.
        dedupe: merge rows that are the same contact (see :func:`import_contacts_csv`).
        naive_timezone: attached to date-times written without an offset; when
            ``None`` such values reject the row.
        delimiter: the field separator (``","``; ``";"`` for many European exports).
        tag_separators: characters that split a tags cell into tags.
        keep_rejected: keep rejected rows in the report (``False`` keeps only the count;
            pass ``on_rejected`` to receive them instead).

    Raises:
        InputError: an option is malformed (an unknown target, type or region).
    """

    mapping: Mapping[str, str | None] = attrs.field(factory=dict, converter=_to_mapping)
    custom_types: Mapping[str, FieldType] = attrs.field(factory=dict, converter=_to_types)
    unknown_columns: UnknownColumns = attrs.field(
        default=UnknownColumns.ERROR, converter=_to_unknown_columns
    )
    default_region: str | None = attrs.field(default=None, converter=_to_region)
    dedupe: bool = True
    naive_timezone: tzinfo | None = None
    delimiter: str = attrs.field(default=",", validator=_check_delimiter)
    tag_separators: str = ",;"
    keep_rejected: bool = True


# --------------------------------------------------------------------------- results


@attrs.frozen
class RowProblem:
    """One reason a row was rejected: a code, the column (if any) and words."""

    code: RowRejection
    message: str
    column: str | None = None

    def __str__(self) -> str:
        return f"{self.column}: {self.message}" if self.column else self.message


@attrs.frozen
class RejectedRow:
    """A CSV row that was not imported (A5).

    ``line`` is the physical line the record starts on (the header is line 1) and
    ``end_line`` the one it ends on, which differ when a quoted field spans lines.
    ``cells`` are the original cells; for a record that breaks CSV quoting it is the
    raw text of its first line, as one cell. ``header`` is the file's header and
    ``delimiter`` its field separator (shared by all rows), so a row can be written
    back out on its own.
    """

    line: int
    end_line: int
    cells: tuple[str, ...]
    problems: tuple[RowProblem, ...]
    header: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)
    delimiter: str = attrs.field(default=",", eq=False, repr=False)

    @property
    def code(self) -> RowRejection:
        """The code of the first problem."""
        return self.problems[0].code

    @property
    def reason(self) -> str:
        """Every problem, in words, ``; ``-separated."""
        return "; ".join(str(p) for p in self.problems)

    @property
    def where(self) -> str:
        """``"line 7"``, or ``"lines 7-9"`` for a record spanning lines."""
        if self.end_line > self.line:
            return f"lines {self.line}-{self.end_line}"
        return f"line {self.line}"


@attrs.frozen
class CsvImportReport:
    """What a CSV import did (A5).

    ``rows_read`` counts data records (blank lines and rows of empty cells are
    counted apart in ``blank_rows``). Always
    ``rows_read == imported + merged + rejected_count``: ``imported`` rows went to
    :meth:`ContactSink.add` and ``merged`` rows to :meth:`ContactSink.merge` (into a
    contact an earlier row of this file added). ``imported`` counts new contacts only
    with ``dedupe`` on; with it off every accepted row is ``imported``, even when the
    sink upserts it into a contact it already holds. ``rejected`` lists the rejected
    rows in file order unless the options said ``keep_rejected=False``.
    ``columns`` shows how each named header column was mapped; ``delimiter`` is the
    field separator the file was read with.
    """

    header: tuple[str, ...]
    columns: Mapping[str, str | None]
    rows_read: int
    imported: int
    merged: int
    rejected_count: int
    blank_rows: int
    rejected: tuple[RejectedRow, ...]
    delimiter: str = ","

    @property
    def ok(self) -> bool:
        """``True`` when no row was rejected."""
        return self.rejected_count == 0


# --------------------------------------------------------------------------- sinks


class ContactSink(Protocol):
    """Where imported contacts go, one at a time (a store, a queue, a list).

    ``add`` receives each new contact. ``merge`` receives a later row that is the
    same contact as one added before; its ``id`` is ``existing_id``. A sink combines
    the two, normally with :func:`merge_contacts` (the documented rule), or with an
    equivalent update in its own storage.
    """

    def add(self, contact: Contact, /) -> None: ...

    def merge(self, existing_id: str, contact: Contact, /) -> None: ...


_MERGED_SCALARS = (
    "first_name",
    "last_name",
    "email",
    "timezone",
    "language",
    "lifecycle",
    "last_interacted_channel",
    "conversation_status",
    "assignee",
    "created_at",
)


def merge_contacts(existing: Contact, incoming: Contact) -> Contact:
    """Fold ``incoming`` into ``existing``: the earlier contact wins, the later one fills.

    Fields set on ``existing`` are kept; empty ones (``None``) take ``incoming``'s
    value (the phone together with its region). Tags are unioned; custom fields,
    identities and subscriptions ``existing`` lacks are added. The id stays
    ``existing.id``.
    """
    changes: dict[str, Any] = {}
    for name in _MERGED_SCALARS:
        if getattr(existing, name) is None:
            value = getattr(incoming, name)
            if value is not None:
                changes[name] = value
    if existing.phone is None and incoming.phone is not None:
        changes["phone"] = incoming.phone
        changes["phone_region"] = incoming.phone_region
    if not incoming.tags <= existing.tags:
        changes["tags"] = existing.tags | incoming.tags
    custom = dict(existing.custom)
    for key, value in incoming.custom.items():
        if custom.get(key) is None and value is not None:
            custom[key] = value
    if custom != existing.custom:
        changes["custom"] = custom
    known = {(i.account_id, i.external_id) for i in existing.identities}
    extra = tuple(i for i in incoming.identities if (i.account_id, i.external_id) not in known)
    if extra:
        changes["identities"] = existing.identities + extra
    subscriptions = {**incoming.subscriptions, **existing.subscriptions}
    if subscriptions != existing.subscriptions:
        changes["subscriptions"] = subscriptions
    return attrs.evolve(existing, **changes) if changes else existing


class MemoryContactSink:
    """A :class:`ContactSink` that keeps contacts in a dict, in insertion order.

    ``add`` of an id it already holds merges (an upsert), so it also serves imports
    run with ``dedupe=False``.
    """

    __slots__ = ("_contacts",)

    def __init__(self) -> None:
        self._contacts: dict[str, Contact] = {}

    def add(self, contact: Contact, /) -> None:
        """Store a new contact (or merge it into the one with its id)."""
        existing = self._contacts.get(contact.id)
        self._contacts[contact.id] = (
            contact if existing is None else merge_contacts(existing, contact)
        )

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        """Fold ``contact`` into the stored contact ``existing_id`` (:func:`merge_contacts`).

        Raises:
            InputError: no contact ``existing_id`` was added.
        """
        existing = self._contacts.get(existing_id)
        if existing is None:
            raise InputError(f"merge: no contact {existing_id!r} was added to this sink")
        self._contacts[existing_id] = merge_contacts(existing, contact)

    def get(self, contact_id: str) -> Contact | None:
        """The stored contact ``contact_id``, or ``None``."""
        return self._contacts.get(contact_id)

    @property
    def contacts(self) -> tuple[Contact, ...]:
        """Every stored contact, in the order first added."""
        return tuple(self._contacts.values())

    def __len__(self) -> int:
        return len(self._contacts)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self._contacts.values())

    def __contains__(self, contact_id: object) -> bool:
        return contact_id in self._contacts


def derive_contact_id(phone: str | None, email: str | None) -> str:
    """The id given to a row without one: ``"c-"`` + 32 hex digits.

    Derived from the E.164 phone when there is one, else from the e-mail (case
    folded), so importing the same file again gives the same ids.

    Raises:
        InputError: both are empty.
    """
    if phone:
        key = "phone:" + phone
    elif email:
        key = "email:" + email.casefold()
    else:
        raise InputError("derive_contact_id: a phone or an e-mail is needed")
    return "c-" + blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


# --------------------------------------------------------------------------- columns


def _fail(code: RowRejection, message: str) -> PydanticCustomError:
    return PydanticCustomError(code.value, "{message}", {"message": message})


def _text(value: str) -> str | None:
    return value.strip() or None


def _contact_id(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    problem = id_problem(text)
    if problem is not None:
        raise _fail(RowRejection.INVALID_ID, problem)
    return text


def _email(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if len(text) > _MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(text):
        raise _fail(RowRejection.INVALID_EMAIL, f"{text!r} is not an e-mail address")
    return text


def _phone_parser(default_region: str | None) -> Callable[[str], str | None]:
    def parse(value: str) -> str | None:
        text = value.strip()
        if not text:
            return None
        try:
            return normalize_phone(text, default_region)
        except PhoneNumberError as exc:
            raise _fail(RowRejection.INVALID_PHONE, str(exc)) from None

    return parse


@lru_cache(maxsize=1024)
def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _time_zone(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if not _is_time_zone(text):
        raise _fail(RowRejection.INVALID_VALUE, f"{text!r} is not an IANA time zone name")
    return text


def _tags_parser(separators: str) -> Callable[[str], tuple[str, ...]]:
    splitter = re.compile("[" + re.escape(separators) + "]") if separators else None

    def parse(value: str) -> tuple[str, ...]:
        pieces = splitter.split(value) if splitter is not None else (value,)
        return tuple(tag for tag in (p.strip() for p in pieces) if tag)

    return parse


def _number(value: str) -> int | float | None:
    text = value.strip()
    if not text:
        return None
    if _INTEGER.fullmatch(text):
        # The 64-bit rule of segments (parse.py) and of the SQL store (sql.py).
        if len(text.lstrip("+-").lstrip("0")) <= _INT64_DIGITS:
            integer = int(text)
            if -INT64_BOUND <= integer < INT64_BOUND:
                return integer
        raise _fail(
            RowRejection.INVALID_VALUE,
            f"integers must fit in 64 bits (between -2**63 and 2**63 - 1), got {text!r}",
        )
    if _DECIMAL.fullmatch(text):
        number = float(text)
        if number not in (float("inf"), float("-inf")):
            return number
    raise _fail(RowRejection.INVALID_VALUE, f"expected a number, got {text!r}")


def _boolean(value: str) -> bool | None:
    text = value.strip()
    if not text:
        return None
    parsed = _BOOLEANS.get(text.casefold())
    if parsed is None:
        raise _fail(
            RowRejection.INVALID_VALUE,
            f"expected a boolean (true/false, yes/no, 1/0), got {text!r}",
        )
    return parsed


def _datetime_parser(naive_timezone: tzinfo | None) -> Callable[[str], datetime | None]:
    def parse(value: str) -> datetime | None:
        text = value.strip()
        if not text:
            return None
        try:
            parsed = isoparse(text)
        except (ValueError, OverflowError):
            raise _fail(
                RowRejection.INVALID_VALUE, f"expected an ISO 8601 date-time, got {text!r}"
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            if naive_timezone is None:
                raise _fail(
                    RowRejection.INVALID_VALUE,
                    f"date-time {text!r} has no time zone; write an offset such as "
                    "+00:00 or Z, or set naive_timezone",
                )
            parsed = parsed.replace(tzinfo=naive_timezone)
        try:
            parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            # Segments and stores compare instants in UTC and refuse this value.
            raise _fail(
                RowRejection.INVALID_VALUE,
                f"date-time {text!r} is outside the range of UTC dates",
            ) from None
        return parsed

    return parse


def _unnamed(value: str) -> None:
    if value.strip():
        raise _fail(
            RowRejection.UNNAMED_COLUMN,
            f"value {value.strip()!r} under a column with no header name",
        )


@attrs.frozen
class _Plan:
    """How each column of one file is read, derived once from its header."""

    header: tuple[str, ...]
    labels: tuple[str, ...]
    columns: Mapping[str, str | None]
    validator: SchemaValidator
    fields: tuple[tuple[int, str], ...]
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]
    id_index: int | None
    phone_index: int | None
    email_index: int | None


def _resolve_targets(header: tuple[str, ...], options: CsvImportOptions) -> list[str | None]:
    """The target of every column, or :class:`AudienceError` listing what is wrong."""
    explicit_by_norm: dict[str, str] = {}
    for column in options.mapping:
        explicit_by_norm.setdefault(_normalize_name(column), column)
    custom_by_norm = {_normalize_name(name): name for name in options.custom_types}
    used: set[str] = set()
    targets: list[str | None] = []
    unknown: list[str] = []
    for position, name in enumerate(header, start=1):
        if not name:
            targets.append(None)
            continue
        norm = _normalize_name(name)
        key = name if name in options.mapping else explicit_by_norm.get(norm)
        if key is not None:
            used.add(key)
            targets.append(options.mapping[key])
        elif norm in _ALIASES:
            targets.append(_ALIASES[norm])
        elif norm in custom_by_norm:
            targets.append(CUSTOM_PREFIX + custom_by_norm[norm])
        elif name == REJECT_REASON_COLUMN:
            targets.append(None)
        elif options.unknown_columns is UnknownColumns.CUSTOM:
            targets.append(CUSTOM_PREFIX + name)
        elif options.unknown_columns is UnknownColumns.IGNORE:
            targets.append(None)
        else:
            targets.append(None)
            unknown.append(f"{name!r} (column {position})")
    problems: list[str] = []
    missing = [column for column in options.mapping if column not in used]
    if missing:
        problems.append(
            "the mapping names columns the header does not have: "
            + ", ".join(repr(m) for m in missing)
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
                f"columns {seen[target]!r} and {name!r} both map to {target!r}; "
                "map one of them to another target or to None"
            )
        seen.setdefault(target, name)
    if problems:
        raise AudienceError(f"CSV header {list(header)!r}: " + "; ".join(problems))
    if not {"id", "phone", "email"} & seen.keys():
        raise AudienceError(
            f"CSV header {list(header)!r}: no id, phone or e-mail column, so no row could "
            "name a contact; map one with mapping={column: 'phone'} (or 'email', 'id')"
        )
    return targets


def _plan(header: tuple[str, ...], options: CsvImportOptions) -> _Plan:
    duplicates: dict[str, list[int]] = {}
    for position, name in enumerate(header, start=1):
        if name:
            duplicates.setdefault(name, []).append(position)
    repeated = {name: at for name, at in duplicates.items() if len(at) > 1}
    if repeated:
        listed = "; ".join(f"{name!r} at columns {at}" for name, at in repeated.items())
        raise AudienceError(f"CSV header repeats column names: {listed}")
    targets = _resolve_targets(header, options)

    parsers: dict[str, Callable[[str], Any]] = {
        "id": _contact_id,
        "email": _email,
        "phone": _phone_parser(options.default_region),
        "timezone": _time_zone,
        "tags": _tags_parser(options.tag_separators),
        "created_at": _datetime_parser(options.naive_timezone),
    }
    by_type: dict[FieldType, Callable[[str], Any]] = {
        FieldType.STRING: _text,
        FieldType.NUMBER: _number,
        FieldType.BOOLEAN: _boolean,
        FieldType.DATETIME: _datetime_parser(options.naive_timezone),
    }
    items: list[core_schema.CoreSchema] = []
    fields: list[tuple[int, str]] = []
    tags: list[int] = []
    custom: list[tuple[int, str]] = []
    where: dict[str, int] = {}
    for index, (name, target) in enumerate(zip(header, targets, strict=True)):
        if target is None:
            items.append(
                core_schema.no_info_plain_validator_function(_unnamed)
                if not name
                else core_schema.any_schema()
            )
            continue
        if target.startswith(CUSTOM_PREFIX):
            field = target[len(CUSTOM_PREFIX) :]
            kind = options.custom_types.get(field, FieldType.STRING)
            parser = by_type[kind]
            custom.append((index, field))
        else:
            parser = parsers.get(target, _text)
            if target == "tags":
                tags.append(index)
            else:
                fields.append((index, target))
                where[target] = index
        items.append(core_schema.no_info_plain_validator_function(parser))
    return _Plan(
        header=header,
        labels=tuple(name or f"column {i}" for i, name in enumerate(header, start=1)),
        columns=MappingProxyType(
            {name: target for name, target in zip(header, targets, strict=True) if name}
        ),
        validator=SchemaValidator(core_schema.tuple_schema(items)),
        fields=tuple(fields),
        tags=tuple(tags),
        custom=tuple(custom),
        id_index=where.get("id"),
        phone_index=where.get("phone"),
        email_index=where.get("email"),
    )


# --------------------------------------------------------------------------- import


def _without_bom(source: Iterable[str]) -> Iterator[str]:
    lines = iter(source)
    for first in lines:
        yield first.removeprefix(_BOM)
        break
    yield from lines


@attrs.frozen
class _Broken:
    """A record that breaks CSV quoting: its first line and where the reader gave up."""

    text: str
    line: int
    last_line: int
    error: str

    @property
    def problem(self) -> RowProblem:
        if self.last_line > self.line:
            message = (
                "unclosed quote: a quoted field opened on this line is not closed properly "
                f"(line {self.last_line}: {self.error}); the lines after it are read as rows "
                "of their own"
            )
        elif "unexpected end of data" in self.error:
            message = f"unclosed quote: the quoted field is never closed ({self.error})"
        else:
            message = f"malformed CSV: {self.error}"
        return RowProblem(RowRejection.MALFORMED_CSV, message)


class _Records:
    """The CSV records of a stream, each with the physical lines it spans.

    A record that breaks CSV quoting gives back every line after its first, and
    those lines are read again as records of their own: an unclosed quote costs its
    own line, never the rows after it. Lines given back are at most the ones the
    failed record read, which the csv field-size limit bounds.
    """

    def __init__(self, source: Iterable[str], delimiter: str) -> None:
        self._source = _without_bom(source)
        self._delimiter = delimiter
        self._pending: deque[str] = deque()
        self._raw: list[str] = []
        self._reader = self._open()
        self.start = 1
        """The physical line the record last read starts on."""
        self.end = 0
        """The physical line the record last read ends on (lines consumed so far)."""

    def _open(self) -> Iterator[list[str]]:
        return csv.reader(self._lines(), delimiter=self._delimiter, strict=True)

    def _lines(self) -> Iterator[str]:
        while True:
            line: str | None = self._pending.popleft() if self._pending else None
            if line is None:
                line = next(self._source, None)
                if line is None:
                    return
            self._raw.append(line)
            yield line

    def read(self) -> list[str] | _Broken | None:
        """The next record's cells, a :class:`_Broken` record, or ``None`` at the end.

        Raises:
            AudienceError: the stream itself cannot decode its text.
        """
        self._raw.clear()
        self.start = self.end + 1
        try:
            cells = next(self._reader, None)
        except csv.Error as exc:
            raw = self._raw
            self.end = self.start
            # The reader is reset because the old one may have seen the end of the stream.
            self._pending.extendleft(reversed(raw[1:]))
            self._reader = self._open()
            first = raw[0].rstrip("\r\n") if raw else ""
            return _Broken(first, self.start, self.start + max(len(raw) - 1, 0), str(exc))
        except UnicodeDecodeError as exc:
            raise _undecodable(self.start + len(self._raw), exc) from exc
        self.end += len(self._raw)
        return cells


class _Importer:
    """State of one import run; :func:`import_contacts_csv` is its only user."""

    def __init__(
        self,
        sink: ContactSink,
        options: CsvImportOptions,
        on_rejected: Callable[[RejectedRow], object] | None,
        index: MutableMapping[str, str] | None,
        shared_index: bool,
    ) -> None:
        self.sink = sink
        self.options = options
        self.on_rejected = on_rejected
        self.index = index
        self.shared_index = shared_index
        self.record_derived_ids = shared_index
        self.restore = _guard_patterns(options.delimiter)[1]
        self.header: tuple[str, ...] = ()
        self.rows_read = 0
        self.imported = 0
        self.merged = 0
        self.rejected_count = 0
        self.blank_rows = 0
        self.rejected: list[RejectedRow] = []

    def reject(
        self, line: int, end: int, cells: Sequence[str], problems: Sequence[RowProblem]
    ) -> None:
        row = RejectedRow(
            line, end, tuple(cells), tuple(problems), self.header, self.options.delimiter
        )
        self.rejected_count += 1
        if self.options.keep_rejected:
            self.rejected.append(row)
        if self.on_rejected is not None:
            self.on_rejected(row)

    def run(self, source: Iterable[str]) -> CsvImportReport:
        records = _Records(source, self.options.delimiter)
        plan: _Plan | None = None
        while (cells := records.read()) is not None:
            if isinstance(cells, _Broken):
                if plan is None:
                    raise AudienceError(
                        f"line {records.start}: cannot read the header row: {cells.error}"
                    )
                self.rows_read += 1
                self.reject(records.start, records.end, (cells.text,), (cells.problem,))
            elif plan is not None:
                self._row(plan, cells, records.start, records.end)
            elif "".join(cells).strip():
                self.header = tuple(self._restored(cell).strip() for cell in cells)
                plan = _plan(self.header, self.options)
                # Only an id column (here, or in another file sharing the caller's
                # index) can name a derived id; without one the phone and e-mail keys
                # find every contact a derived id would, without one more key each.
                self.record_derived_ids = self.shared_index or plan.id_index is not None
        if plan is None:
            raise AudienceError("the CSV is empty: there is no header row")
        return CsvImportReport(
            header=self.header,
            columns=plan.columns,
            rows_read=self.rows_read,
            imported=self.imported,
            merged=self.merged,
            rejected_count=self.rejected_count,
            blank_rows=self.blank_rows,
            rejected=tuple(self.rejected),
            delimiter=self.options.delimiter,
        )

    def _restored(self, cell: str) -> str:
        """``cell`` without the apostrophes :func:`neutralize_formula` adds."""
        return self.restore.sub("", cell) if "'" in cell else cell

    def _row(self, plan: _Plan, cells: list[str], line: int, end: int) -> None:
        joined = "".join(cells)
        if not joined.strip():
            self.blank_rows += 1
            return
        self.rows_read += 1
        width = len(plan.header)
        if len(cells) != width:
            if len(cells) < width or "".join(cells[width:]).strip():
                problem = RowProblem(
                    RowRejection.WRONG_FIELD_COUNT,
                    f"expected {width} fields (as in the header), got {len(cells)}",
                )
                self.reject(line, end, cells, (problem,))
                return
            cells = cells[:width]
        if _UNREADABLE.search(joined):
            self.reject(line, end, cells, _unreadable_problems(plan, cells))
            return
        restored = [self._restored(cell) for cell in cells] if "'" in joined else cells
        try:
            values = plan.validator.validate_python(restored)
        except ValidationError as exc:
            self.reject(line, end, cells, _cell_problems(plan, exc))
            return
        explicit_id: str | None = None if plan.id_index is None else values[plan.id_index]
        phone: str | None = None if plan.phone_index is None else values[plan.phone_index]
        email: str | None = None if plan.email_index is None else values[plan.email_index]
        if explicit_id is None and phone is None and email is None:
            problem = RowProblem(RowRejection.MISSING_KEY, "the row has no id, phone or e-mail")
            self.reject(line, end, cells, (problem,))
            return
        existing, target = self._identify(explicit_id, phone, email)
        fields: dict[str, Any] = {name: values[i] for i, name in plan.fields}
        fields["id"] = target
        if plan.tags:
            fields["tags"] = frozenset(tag for i in plan.tags for tag in values[i])
        if plan.custom:
            custom: dict[str, CustomValue] = {}
            for i, name in plan.custom:
                if values[i] is not None:
                    custom[name] = values[i]
            fields["custom"] = custom
        contact = Contact(**fields)
        if existing is None:
            self.sink.add(contact)
            self.imported += 1
        else:
            self.sink.merge(existing, contact)
            self.merged += 1

    def _identify(
        self, explicit_id: str | None, phone: str | None, email: str | None
    ) -> tuple[str | None, str]:
        """``(earlier contact's id or None, the row's contact id)``, recording its keys.

        This is the dedupe rule of :func:`import_contacts_csv`, in one place. Every
        contact added is recorded under ``i:<its id>`` (a derived id whenever an id
        column could name it later), so a later row naming that id merges instead of
        adding the id a second time.
        """
        index = self.index
        if index is None:
            return None, explicit_id or derive_contact_id(phone, email)
        email_key = None if email is None else "e:" + email.casefold()
        phone_key = None if phone is None else "p:" + phone
        existing: str | None
        if explicit_id is not None:
            target = explicit_id
            existing = index.get("i:" + target)
        else:
            derived = derive_contact_id(phone, email)
            existing = index.get("i:" + derived)
            if existing is None and phone_key is not None:
                existing = index.get(phone_key)
            if existing is None and email_key is not None:
                existing = index.get(email_key)
            target = existing or derived
        if existing is None and (explicit_id is not None or self.record_derived_ids):
            index["i:" + target] = target
        if phone_key is not None:
            index.setdefault(phone_key, target)
        if email_key is not None:
            index.setdefault(email_key, target)
        return existing, target


def _undecodable(line: int, exc: UnicodeDecodeError) -> AudienceError:
    return AudienceError(
        f"line {line} or later: the text cannot be decoded as {exc.encoding} ({exc.reason}); "
        "open the file with errors='surrogateescape' to have such rows reported and "
        "the rest imported"
    )


def _unreadable_problems(plan: _Plan, cells: Sequence[str]) -> tuple[RowProblem, ...]:
    problems = []
    for label, cell in zip(plan.labels, cells, strict=True):
        found = _UNREADABLE.search(cell)
        if found is None:
            continue
        what = "a NUL character" if found.group() == "\x00" else "bytes that are not valid text"
        problems.append(RowProblem(RowRejection.UNDECODABLE, f"the cell holds {what}", label))
    return tuple(problems)


def _cell_problems(plan: _Plan, exc: ValidationError) -> tuple[RowProblem, ...]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        column = error["loc"][0]
        label = plan.labels[column] if isinstance(column, int) else None
        try:
            code = RowRejection(error["type"])
        except ValueError:
            code = RowRejection.INVALID_VALUE
        problems.append(RowProblem(code, error["msg"], label))
    return tuple(problems)


def import_contacts_csv(
    source: Iterable[str],
    sink: ContactSink,
    options: CsvImportOptions | None = None,
    *,
    on_rejected: Callable[[RejectedRow], object] | None = None,
    dedupe_index: MutableMapping[str, str] | None = None,
) -> CsvImportReport:
    """Stream contacts from a CSV into ``sink`` and report every row (A5).

    The first non-blank record is the header; it is mapped to contact fields once
    (see :class:`CsvImportOptions`) and a header that cannot be used is refused
    before any row is read. Each data row is then validated on its own: a bad row is
    reported with its physical line and the reasons, and the rows around it are
    imported all the same. A record whose quoting is broken (a quote never closed)
    is rejected as its first line only, and the lines after it are read again. Before
    validation every cell loses the apostrophes :func:`neutralize_formula` adds, so
    a file from :func:`write_rejected_rows` imports as the original cells.

    Duplicates (with ``dedupe`` on): a row with an id is the contact with that id.
    A row without one is the contact with the id :func:`derive_contact_id` gives it,
    if an earlier row added that id; else the contact that an earlier row gave the
    same phone, or else the same e-mail (case-insensitive). A row that is an earlier
    contact goes to :meth:`ContactSink.merge` (the earlier values win, later rows
    fill empty fields, tags are unioned: :func:`merge_contacts`); any other row goes
    to :meth:`ContactSink.add`, with its id, or one from :func:`derive_contact_id`.
    No id is given to ``add`` twice.

    Args:
        source: an open text stream (open files with ``newline=""``) or any iterable
            of lines; CSV text goes in as ``io.StringIO(text, newline="")``. A byte
            order mark at the start is dropped.
        sink: receives the contacts.
        options: how to read the file; defaults to :class:`CsvImportOptions()`.
        on_rejected: called with each :class:`RejectedRow` as it is found.
        dedupe_index: the mapping that remembers ids (derived ones too), phones and
            e-mails seen (``{"i:<id>" | "p:<phone>" | "e:<email>": contact id}``); a
            fresh dict by default. Pass a disk-backed mapping (e.g. :mod:`shelve`) to
            keep it out of memory. Ignored when ``dedupe`` is off.

    Returns:
        A :class:`CsvImportReport`.

    Raises:
        AudienceError: the file cannot be read at all: no header, an unusable
            header (repeated, unknown or conflicting columns; no id, phone or e-mail
            column), or text the stream cannot decode.
        InputError: ``source`` is a ``str`` (a path or CSV text; see above).
    """
    if isinstance(source, str):
        raise InputError(
            "import_contacts_csv reads an open text stream or an iterable of lines, not a "
            "str: wrap CSV text in io.StringIO(text, newline=''), or call "
            "import_contacts_csv_file(path) for a file"
        )
    options = options or CsvImportOptions()
    index = (dedupe_index if dedupe_index is not None else {}) if options.dedupe else None
    shared = dedupe_index is not None
    return _Importer(sink, options, on_rejected, index, shared).run(source)


# --------------------------------------------------------------------------- export


class _TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


@lru_cache(maxsize=16)
def _guard_patterns(delimiter: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """``(where neutralize_formula adds an apostrophe, the apostrophes it added)``."""
    separators = re.escape("".join(sorted(set(_PIECE_SEPARATORS + delimiter))))
    piece_start = f"(?:^|(?<=[{separators}]))"
    # Apostrophes already there are part of the run, so adding one is always undoable:
    # "'=x" is written "''=x" and reads back as "'=x".
    formula = f"(?='*[{re.escape(_FORMULA_START)}])"
    return re.compile(piece_start + formula), re.compile(piece_start + "'" + formula)


def neutralize_formula(cell: str, delimiter: str = ",") -> str:
    """Guard a cell a spreadsheet could run as a formula, the OWASP way, with ``'``.

    A *piece start* is the start of the cell and every position right after a ``,``,
    ``;``, tab, carriage return, line feed or ``delimiter``: where a spreadsheet that
    splits the cell (ignoring CSV quoting, or using another separator) starts a cell
    of its own. At each piece start where the text is ``=``, ``+``, ``-``, ``@``, a
    tab or a carriage return, possibly after apostrophes, one ``'`` is inserted:
    ``"=1+1"`` → ``"'=1+1"``, ``"Ann;@SUM(A1)"`` → ``"Ann;'@SUM(A1)"``,
    ``"'-5"`` → ``"''-5"``. Other text is returned as is.

    The import undoes exactly this: at every piece start where ``'`` is followed by
    that text, it drops one ``'``. So importing ``neutralize_formula(cell)`` reads
    ``cell`` for every cell, and a cell never guarded (``"'hello"``) keeps its
    apostrophe.
    """
    return _guard_patterns(delimiter)[0].sub("'", cell) if cell else cell


class RejectedRowWriter:
    """Write rejected rows as CSV for correction, one at a time.

    Columns are :data:`REJECT_REASON_COLUMN` (``"line 7: Phone: ..."``) followed
    by the original header; each row is its original cells. Every cell is quoted
    and passed through :func:`neutralize_formula`. Usable as ``on_rejected``: the
    header is written before the first row (taken from the row when not given here).

    Args:
        stream: an open text stream (open files with ``newline=""``; use
            ``errors="surrogateescape"`` to write undecodable bytes back as read).
        header: the original header, if known before the first row.
        delimiter: the field separator to write; by default the one the rows were
            imported with (``","`` when nothing is known).

    Raises:
        InputError: ``delimiter`` is not one character other than a quote or line break.
    """

    def __init__(
        self,
        stream: _TextSink,
        header: Sequence[str] | None = None,
        *,
        delimiter: str | None = None,
    ) -> None:
        if delimiter is not None:
            _check_delimiter(None, None, delimiter)
        self._stream = stream
        self._header = None if header is None else tuple(header)
        self._delimiter = delimiter
        self._writerow: Callable[[Iterable[str]], object] | None = None
        self.written = 0
        """How many rows were written (not counting the header)."""

    def write_header(self, header: Sequence[str] | None = None) -> None:
        """Write the header row now (once); later calls do nothing."""
        self._start(header, None)

    def _start(
        self, header: Sequence[str] | None, delimiter: str | None
    ) -> Callable[[Iterable[str]], object]:
        """The row writer, made (and the header written) on first use."""
        if self._writerow is not None:
            return self._writerow
        # Known only now when the writer serves as on_rejected: the row carries it.
        self._delimiter = self._delimiter or delimiter or ","
        writer = csv.writer(self._stream, delimiter=self._delimiter, quoting=csv.QUOTE_ALL)
        self._writerow = writer.writerow
        names = tuple(header) if header is not None else (self._header or ())
        self._writerow(self._guarded((REJECT_REASON_COLUMN, *names)))
        return self._writerow

    def _guarded(self, cells: Iterable[str]) -> list[str]:
        delimiter = self._delimiter or ","
        return [neutralize_formula(cell, delimiter) for cell in cells]

    def __call__(self, row: RejectedRow) -> None:
        """Write one rejected row (and the header first, if not yet written)."""
        header = self._header if self._header is not None else row.header
        writerow = self._start(header, row.delimiter)
        writerow(self._guarded((f"{row.where}: {row.reason}", *row.cells)))
        self.written += 1


def write_rejected_rows(
    report: CsvImportReport, stream: _TextSink, *, delimiter: str | None = None
) -> int:
    """Write ``report.rejected`` as CSV to ``stream`` (see :class:`RejectedRowWriter`).

    The header is written even when no row was rejected. The field separator is
    ``delimiter``, by default the one the file was imported with. Returns the rows
    written.
    """
    chosen = report.delimiter if delimiter is None else delimiter
    writer = RejectedRowWriter(stream, report.header, delimiter=chosen)
    writer.write_header()
    for row in report.rejected:
        writer(row)
    return writer.written


# --------------------------------------------------------------------------- files
# The only functions of this module that open files: thin shells over the two above.


def import_contacts_csv_file(
    path: str | PathLike[str],
    sink: ContactSink,
    options: CsvImportOptions | None = None,
    *,
    encoding: str = "utf-8-sig",
    on_rejected: Callable[[RejectedRow], object] | None = None,
    dedupe_index: MutableMapping[str, str] | None = None,
) -> CsvImportReport:
    """Open ``path`` and run :func:`import_contacts_csv` on it.

    The file is read with ``newline=""`` and ``errors="surrogateescape"``, so rows
    with bytes that are not valid ``encoding`` are rejected one by one
    (:attr:`RowRejection.UNDECODABLE`) instead of stopping the import.
    """
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as stream:
        return import_contacts_csv(
            stream, sink, options, on_rejected=on_rejected, dedupe_index=dedupe_index
        )


def write_rejected_rows_file(
    report: CsvImportReport, path: str | PathLike[str], *, encoding: str = "utf-8-sig"
) -> int:
    """Write :func:`write_rejected_rows` output to a new file at ``path``.

    ``utf-8-sig`` (with a byte order mark) is what spreadsheets need to read UTF-8;
    undecodable bytes of the source are written back as they were read.
    """
    with open(path, "w", encoding=encoding, errors="surrogateescape", newline="") as stream:
        return write_rejected_rows(report, stream)
