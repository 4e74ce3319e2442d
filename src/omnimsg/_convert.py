"""Conversions for attrs value objects built from outside data.

Values stored by a backend come back as plain strings, lists and numbers; these turn
them into the enums, tuples and UTC datetimes the core compares with ``is`` and
does arithmetic on, and refuse anything else with an :class:`InputError` naming the
field. Modules wrap them in small named converters (the attrs mypy plugin checks
named functions only). They run when a value is built, never on a hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TypeVar

from omnimsg._time import require_aware
from omnimsg.errors import InputError

__all__ = [
    "EARLIEST",
    "LATEST",
    "out_of_range",
    "shown",
    "to_count",
    "to_enum",
    "to_flag",
    "to_instant",
    "to_optional_text",
    "to_sequence_of",
    "to_text",
    "to_timedelta",
    "to_utc",
]

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_SHOWN = 40


def shown(value: object) -> str:
    """A short, safe rendering of an outside value for an error message.

    Text is cut to 40 characters; small numbers, booleans and ``None`` are shown as
    written; anything else by its type only, since the ``repr`` of a deep or huge
    value can be slow or raise.
    """
    if isinstance(value, str):
        return repr(value[:_SHOWN]) + ("…" if len(value) > _SHOWN else "")
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int) and -(10**15) < value < 10**15:
        return repr(value)
    return f"a value of type {type(value).__name__}"


def to_enum(cls: type[E], value: object, name: str) -> E:
    """``value`` as a member of ``cls`` (a member or its value)."""
    if isinstance(value, cls):
        return value
    try:
        # Only text and numbers can be a member's value; anything else is not
        # looked up, since Enum's own error would repr it.
        if not isinstance(value, str | int | float):
            raise TypeError
        return cls(value)
    except (ValueError, TypeError):
        allowed = ", ".join(str(m.value) for m in cls)
        raise InputError(f"{name}: expected one of {allowed}; got {shown(value)}") from None


def to_utc(value: object, name: str) -> datetime | None:
    """An aware datetime as the same instant in UTC; ``None`` kept.

    Window arithmetic is done on UTC values so that a 24 h window is 24 real hours
    across a daylight-saving change.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InputError(f"{name}: expected a datetime, got {type(value).__name__}")
    aware = require_aware(value, name)
    try:
        instant = aware.astimezone(UTC)
    except OverflowError:
        raise out_of_range(name, aware) from None
    if not EARLIEST <= instant < LATEST:
        raise out_of_range(name, instant)
    return instant


def to_timedelta(value: object, name: str) -> timedelta | None:
    """A timedelta or ``None``; anything else is refused."""
    if value is None or isinstance(value, timedelta):
        return value
    raise InputError(f"{name}: expected a timedelta, got {type(value).__name__}")


def to_count(value: object, name: str) -> int:
    """A whole number >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: expected a whole number, got {shown(value)}")
    if value < 0:
        raise InputError(f"{name}: must be >= 0, got {shown(value)}")
    return value


def to_flag(value: object, name: str) -> bool:
    """True or False, nothing else."""
    if not isinstance(value, bool):
        raise InputError(f"{name}: expected True or False, got {shown(value)}")
    return value


def to_text(value: object, name: str) -> str:
    """A str."""
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__}")
    return value


def to_optional_text(value: object, name: str) -> str | None:
    """A str or ``None``."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"{name}: expected text or None, got {type(value).__name__}")
    return value


EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
"""The earliest instant omnimsg accepts in a state or a decision."""
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The first instant omnimsg no longer accepts.

Windows, periods and reminders are added to stored instants; keeping instants this
far from the ends of ``datetime``'s range means no such sum can overflow.
"""


def out_of_range(name: str, value: datetime) -> InputError:
    """The error for an instant outside [:data:`EARLIEST`, :data:`LATEST`)."""
    return InputError(
        f"{name}: {value.isoformat()} is outside the supported range "
        f"{EARLIEST.date().isoformat()} to {LATEST.date().isoformat()}"
    )


def to_instant(value: object, name: str) -> datetime:
    """An aware datetime in the supported range, as the same instant in UTC."""
    instant = to_utc(value, name)
    if instant is None:
        raise InputError(f"{name}: expected an aware datetime, got None")
    return instant


def to_sequence_of(value: object, cls: type[T], name: str) -> tuple[T, ...]:
    """``value`` as a tuple of ``cls`` instances; :class:`InputError` naming the item
    (``name[3]``) that is not one, or ``name`` when ``value`` is no sequence (text and
    mappings are not)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(
            f"{name}: expected a sequence of {cls.__name__}, got {type(value).__name__}"
        )
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            raise InputError(f"{name}[{i}]: expected {cls.__name__}, got {type(item).__name__}")
    return items
