"""How a contacts CSV is read: :class:`CsvImportOptions`, checked once when built (SPEC A5).

Every option is validated (and strings converted: an IANA zone name becomes a
:class:`~zoneinfo.ZoneInfo`) when the options are built, so a wrong option is an
:class:`~omnimsg.errors.InputError` naming it before any row is read, never a
failure halfway through an import after rows reached the sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import phonenumbers

from omnimsg.audiences._text import show, type_name
from omnimsg.audiences.columns import check_target
from omnimsg.errors import InputError
from omnimsg.segments.fields import FieldType

__all__ = ["CsvImportOptions", "UnknownColumns", "check_delimiter"]

# A quote or a line break cannot separate CSV fields; "'" is the mark the formula
# guard adds (omnimsg.audiences.formula) and NUL is refused in every cell.
_NOT_DELIMITERS = "\"'\r\n\x00"


class UnknownColumns(StrEnum):
    """What to do with a header column that is neither mapped nor recognised."""

    ERROR = "error"
    """Refuse the file before reading any row (the default: a typo never goes unseen)."""
    CUSTOM = "custom"
    """Import the column as a string custom field named by the header text."""
    IGNORE = "ignore"
    """Drop the column."""


def check_delimiter(value: object, name: str = "delimiter") -> str:
    """Return ``value`` when it can separate CSV fields, else raise :class:`InputError`.

    A delimiter is one character other than a quote (``"`` or ``'``), a line break
    or NUL.
    """
    if not isinstance(value, str) or len(value) != 1 or value in _NOT_DELIMITERS:
        got = show(value) if isinstance(value, str) else type_name(value)
        raise InputError(
            f"{name}: expected one character other than a quote (\" or '), a line break "
            f"or NUL, got {got}"
        )
    return value


def _text_key(key: object, option: str) -> str:
    if not isinstance(key, str):
        raise InputError(f"{option}: keys must be text, got {type_name(key)}")
    return key


def _to_mapping(value: object) -> Mapping[str, str | None]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"mapping: expected a mapping of header text to a target, got {type_name(value)}"
        )
    mapping: dict[str, str | None] = {}
    for column, target in value.items():
        name = _text_key(column, "mapping")
        mapping[name] = check_target(target, f"mapping[{show(name)}]")
    return MappingProxyType(mapping)


def _to_types(value: object) -> Mapping[str, FieldType]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"custom_types: expected a mapping of custom field name to type, got {type_name(value)}"
        )
    types: dict[str, FieldType] = {}
    for name, kind in value.items():
        key = _text_key(name, "custom_types")
        try:
            # Only text is looked up: Enum's own error would repr anything else.
            if not isinstance(kind, str):
                raise TypeError
            types[key] = FieldType(kind)
        except (ValueError, TypeError):
            known = ", ".join(t.value for t in FieldType)
            got = show(kind) if isinstance(kind, str) else type_name(kind)
            raise InputError(
                f"custom_types[{show(key)}]: expected one of {known}, got {got}"
            ) from None
    return MappingProxyType(types)


def _to_unknown_columns(value: object) -> UnknownColumns:
    if isinstance(value, str):
        for choice in UnknownColumns:
            if value == choice.value:
                return choice
    known = ", ".join(u.value for u in UnknownColumns)
    got = show(value) if isinstance(value, str) else type_name(value)
    raise InputError(f"unknown_columns: expected one of {known}, got {got}")


def _to_region(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(
            f"default_region: expected an ISO 3166 region code such as 'US', got {type_name(value)}"
        )
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(
            f"default_region: {show(value)} is not an ISO 3166 region phonenumbers knows"
        )
    return region


def _probe_offset(zone: tzinfo) -> None:
    """Refuse a tzinfo that cannot make a date-time aware (``utcoffset`` gives no offset)."""
    try:
        offset = datetime(2000, 1, 1, tzinfo=zone).utcoffset()
    except (ArithmeticError, LookupError, NotImplementedError, TypeError, ValueError) as exc:
        raise InputError(
            f"naive_timezone: the {type_name(zone)} cannot give a UTC offset "
            f"({type_name(exc)} from utcoffset())"
        ) from None
    if offset is None:
        raise InputError(
            f"naive_timezone: the {type_name(zone)} gives no UTC offset (utcoffset() is "
            "None), so it cannot make a date-time aware"
        )


def _to_zone(value: object) -> tzinfo | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            zone: tzinfo = ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InputError(
                f"naive_timezone: {show(value)} is not an IANA time zone name "
                "(such as 'UTC' or 'Europe/Paris')"
            ) from None
    elif isinstance(value, tzinfo):
        zone = value
    else:
        raise InputError(
            f"naive_timezone: expected a tzinfo or an IANA time zone name, got {type_name(value)}"
        )
    _probe_offset(zone)
    return zone


def _to_separators(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"tag_separators: expected text, got {type_name(value)}")
    return value


def _check_bool(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if not isinstance(value, bool):
        raise InputError(f"{attribute.name}: expected True or False, got {type_name(value)}")


def _check_delimiter(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_delimiter(value, attribute.name)


@attrs.frozen
class CsvImportOptions:
    """How to read a contacts CSV; build once, reuse for many files.

    Attributes:
        mapping: header text → target: a name in
            :data:`~omnimsg.audiences.CONTACT_FIELDS`, ``"custom.<name>"``, or
            ``None`` to ignore the column. Matched exactly, then ignoring case,
            spaces and punctuation. Columns it does not name are mapped
            automatically from common spellings (``Phone``, ``phone_number``,
            ``E-mail``, ``First name`` ...) or from a ``custom_types`` name.
        custom_types: custom field name → :class:`FieldType` (or its string value).
            Custom fields not listed are strings.
        unknown_columns: what to do with columns that are still unmapped
            (:class:`UnknownColumns`; default ``"error"``).
        default_region: ISO 3166 region for phones written without ``+country``.
        dedupe: merge rows that are the same contact (see
            :func:`~omnimsg.audiences.import_contacts_csv`).
        naive_timezone: attached to date-times written without an offset: a
            :class:`~datetime.tzinfo`, or an IANA name (``"UTC"``,
            ``"Europe/Paris"``) turned into a :class:`~zoneinfo.ZoneInfo` here.
            When ``None`` such values reject the row.
        delimiter: the field separator (``","``; ``";"`` for many European exports).
            One character other than ``"``, ``'``, a line break or NUL.
        tag_separators: characters that split a tags cell into tags.
        keep_rejected: keep rejected rows in the report (``False`` keeps only the count;
            pass ``on_rejected`` to receive them instead).

    Raises:
        InputError: an option is malformed or of the wrong type (an unknown target,
            type, region or time zone; a flag that is not a bool ...); the message
            names the option.
    """

    mapping: Mapping[str, str | None] = attrs.field(factory=dict, converter=_to_mapping)
    custom_types: Mapping[str, FieldType] = attrs.field(factory=dict, converter=_to_types)
    unknown_columns: UnknownColumns = attrs.field(
        default=UnknownColumns.ERROR, converter=_to_unknown_columns
    )
    default_region: str | None = attrs.field(default=None, converter=_to_region)
    dedupe: bool = attrs.field(default=True, validator=_check_bool)
    naive_timezone: tzinfo | None = attrs.field(default=None, converter=_to_zone)
    delimiter: str = attrs.field(default=",", validator=_check_delimiter)
    tag_separators: str = attrs.field(default=",;", converter=_to_separators)
    keep_rejected: bool = attrs.field(default=True, validator=_check_bool)
