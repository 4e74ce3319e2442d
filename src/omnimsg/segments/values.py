"""The value of one condition: what each field accepts, read from JSON or from Python.

This module owns the rule for a condition's ``value`` (and a subscription's
``sender``): the type each kind of field accepts, the non-empty, NUL-free strings,
64-bit integers, aware date-times normalised to UTC, the shapes of lists, ranges and
periods. :func:`~omnimsg.segments.parse_segment` reads JSON with it and the shared walk
(:mod:`omnimsg.segments.walk`) reads hand-built conditions with it, so a segment is
held to the same rule however it was built. It imports no pydantic and does no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.contacts import ConversationStatus
from omnimsg.errors import SegmentError, UnknownChannelError
from omnimsg.segments.fields import (
    INT64_BOUND,
    FieldSpec,
    Operator,
    Period,
    PeriodUnit,
    ValueKind,
    ValueShape,
    shape_of,
)
from omnimsg.state import SubscriptionStatus

__all__ = [
    "MAX_LIST_ITEMS",
    "MISSING",
    "ConditionValue",
    "Scalar",
    "ValueProblem",
    "json_type",
    "path_step",
    "quote",
    "read_sender",
    "read_string",
    "read_value",
    "text_problem",
]

MAX_LIST_ITEMS = 1000
"""The longest list a condition's value may hold; larger lists belong in an id list (A3)."""

Scalar: TypeAlias = str | int | float | bool | datetime
"""One value of a condition. Channel kinds and statuses are ``str`` enums."""

ConditionValue: TypeAlias = Scalar | tuple[Scalar, ...] | Period | None
"""A condition's value: one scalar, a tuple (lists and ``[low, high]``), a period, or none."""

MISSING: Final[Any] = object()
"""Stands for a ``value`` key that is absent from segment JSON."""


class ValueProblem(Exception):
    """What is wrong with a value: ``(sub-path, message)`` pairs, the first in ``args``."""

    def __init__(self, message: str, subpath: str = "") -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = [(subpath, message)]


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def quote(text: str, limit: int = 40) -> str:
    """``text`` as a JSON string for a message, shortened to ``limit`` characters."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return json.dumps(shown, ensure_ascii=False)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def path_step(item: object) -> str:
    """``item`` as the next step of a JSON path: ``[3]``, ``.name`` or ``["odd key"]``."""
    if isinstance(item, int):
        return f"[{item}]"
    text = str(item)
    if _IDENT.fullmatch(text):
        return f".{text}"
    return f"[{quote(text, 80)}]"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as SQL text (NUL, a lone surrogate), or ``None``.

    PostgreSQL refuses both; one rule for every backend keeps Python and SQL agreeing.
    """
    if "\x00" in text:
        return "may not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "may not contain lone surrogate code points"
    return None


def _string(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueProblem(f"expected a string, got {json_type(raw)}")
    if not raw:
        raise ValueProblem("expected a non-empty string (use is_not_set to find missing values)")
    problem = text_problem(raw)
    if problem is not None:
        raise ValueProblem(f"a string {problem}")
    return str.__str__(raw)


def read_string(raw: object) -> str:
    """``raw`` as a plain, non-empty string without NUL or lone surrogates.

    Raises :class:`ValueProblem`.
    """
    return _string(raw)


def _number(raw: object) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueProblem(f"expected a number, got {json_type(raw)}")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueProblem("expected a finite number")
        return float(raw)
    if not -INT64_BOUND <= raw < INT64_BOUND:
        raise ValueProblem("integers must fit in 64 bits (between -2**63 and 2**63 - 1)")
    return int(raw)


def _boolean(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValueProblem(f"expected true or false, got {json_type(raw)}")
    return raw


def _datetime(raw: object) -> datetime:
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueProblem(
                f"expected an ISO 8601 date-time with a UTC offset, got {quote(raw)}"
            ) from None
    elif isinstance(raw, datetime):
        value = raw
    else:
        raise ValueProblem(f"expected an ISO 8601 date-time string, got {json_type(raw)}")
    try:
        offset = value.utcoffset()
    except Exception as exc:  # a hand-built value's tzinfo may fail in any way
        raise ValueProblem(f"the date-time's tzinfo failed to give a UTC offset: {exc}") from None
    if offset is None:
        raise ValueProblem(
            "a date-time needs a UTC offset (for example 2024-05-01T09:00:00+02:00 or ...Z)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueProblem("the date-time is outside the range of UTC dates") from None


def _channel(raw: object) -> ChannelKind:
    if not isinstance(raw, str):
        raise ValueProblem(f"expected a channel kind, got {json_type(raw)}")
    try:
        return parse_channel_kind(raw)
    except UnknownChannelError:
        known = ", ".join(kind.value for kind in ChannelKind)
        raise ValueProblem(f"unknown channel kind {quote(raw)}; expected one of: {known}") from None


def _choice(
    enum: type[ConversationStatus] | type[SubscriptionStatus], what: str
) -> Callable[[object], Scalar]:
    members = {member.value: member for member in enum}
    known = ", ".join(sorted(members))

    def parse(raw: object) -> Scalar:
        if not isinstance(raw, str):
            raise ValueProblem(f"expected a {what}, got {json_type(raw)}")
        member = members.get(raw.strip().lower())
        if member is None:
            raise ValueProblem(f"unknown {what} {quote(raw)}; expected one of: {known}")
        return member

    return parse


_COUNTRY = re.compile(r"[A-Za-z]{2}")


def _country(raw: object) -> str:
    if not isinstance(raw, str) or not _COUNTRY.fullmatch(raw):
        shown = quote(raw) if isinstance(raw, str) else json_type(raw)
        raise ValueProblem(f"expected a two-letter ISO 3166 country code such as US, got {shown}")
    return raw.upper()


_SCALAR_READERS: Mapping[ValueKind, Callable[[object], Scalar]] = {
    ValueKind.TEXT: _string,
    ValueKind.KEYWORD: _string,
    ValueKind.NUMBER: _number,
    ValueKind.BOOLEAN: _boolean,
    ValueKind.DATETIME: _datetime,
    ValueKind.TAGS: _string,
    ValueKind.CHANNELS: _channel,
    ValueKind.CHANNEL: _channel,
    ValueKind.CONVERSATION_STATUS: _choice(ConversationStatus, "conversation status"),
    ValueKind.COUNTRY: _country,
    ValueKind.SUBSCRIPTION: _choice(SubscriptionStatus, "subscription status"),
}


def _list(raw: object, read: Callable[[object], Scalar], *, exact: int = 0) -> tuple[Scalar, ...]:
    if not isinstance(raw, list | tuple):
        raise ValueProblem(f"expected an array, got {json_type(raw)}")
    if exact and len(raw) != exact:
        raise ValueProblem(f"expected an array of {exact} items, got {len(raw)}")
    if not raw:
        raise ValueProblem("expected a non-empty array")
    if len(raw) > MAX_LIST_ITEMS:
        raise ValueProblem(f"an array may hold at most {MAX_LIST_ITEMS} items, got {len(raw)}")
    items: list[Scalar] = []
    bad: ValueProblem | None = None
    for index, item in enumerate(raw):
        try:
            items.append(read(item))
        except ValueProblem as exc:
            if bad is None:
                bad = ValueProblem(str(exc), f"[{index}]")
            else:
                bad.problems.append((f"[{index}]", str(exc)))
    if bad is not None:
        raise bad
    if exact:
        return tuple(items)
    return tuple(dict.fromkeys(items))


_UNITS = ", ".join(unit.value for unit in PeriodUnit)
_UNIT_VALUES = frozenset(unit.value for unit in PeriodUnit)


def _period(raw: object) -> Period:
    if isinstance(raw, Period):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueProblem(
            f'expected {{"amount": <whole number>, "unit": "days"}}, got {json_type(raw)}'
        )
    problems = [
        (path_step(key), "unknown key; a period has amount and unit")
        for key in raw
        if key not in ("amount", "unit")
    ]
    amount, unit = raw.get("amount"), raw.get("unit")
    if not isinstance(unit, str) or unit not in _UNIT_VALUES:
        shown = quote(unit) if isinstance(unit, str) else json_type(unit)
        problems.append((".unit", f"expected one of {_UNITS}, got {shown}"))
        unit = None
    if isinstance(amount, bool) or not isinstance(amount, int):
        problems.append((".amount", f"expected a whole number, got {json_type(amount)}"))
    elif unit is None and amount < 1:
        problems.append((".amount", "expected a positive whole number"))
    elif unit is not None:
        try:
            period = Period(amount=amount, unit=PeriodUnit(unit))
        except SegmentError as exc:
            problems.append((".amount", str(exc)))
        else:
            if not problems:
                return period
    bad = ValueProblem(problems[0][1], problems[0][0])
    bad.problems = problems
    raise bad


def read_value(spec: FieldSpec, op: Operator, raw: object) -> ConditionValue:
    """``raw`` checked and normalised as the value of ``op`` on the field ``spec``.

    ``raw`` is decoded JSON or a hand-built Python value; :data:`MISSING` means the
    ``value`` key was absent. Strings come back as plain ``str``, date-times in UTC,
    lists as tuples without duplicates (in their first order), channel kinds and
    statuses as enum members, country codes in upper case, periods as :class:`Period`.

    Raises :class:`ValueProblem` with every ``(sub-path, message)`` found.
    """
    shape = shape_of(op)
    if shape is ValueShape.NONE:
        if raw is not MISSING and raw is not None:
            raise ValueProblem(f"{op.value} takes no value")
        return None
    if raw is MISSING:
        raise ValueProblem(f"{op.value} needs a value")
    read = _SCALAR_READERS[spec.kind]
    if shape is ValueShape.SCALAR:
        return read(raw)
    if shape is ValueShape.LIST:
        return _list(raw, read)
    if shape is ValueShape.SCALAR_OR_LIST:
        return _list(raw, read) if isinstance(raw, list | tuple) else (read(raw),)
    if shape is ValueShape.PERIOD:
        return _period(raw)
    low, high = _list(raw, read, exact=2)
    if low > high:  # type: ignore[operator]
        raise ValueProblem("the low end of the range is greater than the high end")
    return (low, high)


def read_sender(spec: FieldSpec, raw: object) -> str | None:
    """A condition's ``sender``: a string on the subscription field, absent elsewhere.

    Raises :class:`ValueProblem`.
    """
    if spec.kind is not ValueKind.SUBSCRIPTION:
        if raw is not None:
            raise ValueProblem("sender is only used with the subscription field")
        return None
    if raw is None:
        raise ValueProblem("the subscription field needs a sender (a channel account id)")
    return _string(raw)
