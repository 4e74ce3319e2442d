"""Cell parsers of the CSV import: one plain function per kind of value (SPEC A5).

Each parser takes the text of one cell (already free of NUL and undecodable bytes,
and of the export's formula guards) and returns the value a
:class:`~omnimsg.contacts.Contact` holds, ``None`` for an empty cell, or raises
:class:`CellError` with a :class:`~omnimsg.audiences.RowRejection` code and words.
Every parser runs in time linear in the cell: no regex here can backtrack more than
once over its input, and values longer than any valid one are refused by length
before they are parsed. Messages quote at most the first 40 characters of a cell.

These are the importer's building blocks, not a public API of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse

from omnimsg.audiences._text import show
from omnimsg.audiences.ids import id_problem
from omnimsg.audiences.report import RowRejection
from omnimsg.errors import InputError, PhoneNumberError
from omnimsg.phones import parse_phone
from omnimsg.segments.fields import INT64_BOUND

__all__ = [
    "CellError",
    "datetime_parser",
    "parse_boolean",
    "parse_contact_id",
    "parse_email",
    "parse_number",
    "parse_text",
    "parse_time_zone",
    "parse_unnamed",
    "phone_parser",
    "tags_parser",
]

# No regex below can match ambiguously: [^@\s]+ stops at "@", and the domain
# part is searched only after the length check has bounded the text.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_MAX_EMAIL_LENGTH = 254
# phonenumbers refuses longer input (MAX_INPUT_STRING_LENGTH) itself.
_MAX_PHONE_LENGTH = 250
# IANA names are at most a few dozen characters; a file name is at most 255.
_MAX_TIME_ZONE_LENGTH = 255
# Long enough for any ISO 8601 date-time with nanoseconds and an offset.
_MAX_DATETIME_LENGTH = 64
# 2**63 has 19 digits: a longer integer is out of range without converting it.
_INT64_DIGITS = 19
_ASCII_DIGITS = frozenset("0123456789")
_BOOLEANS = MappingProxyType(
    {
        **dict.fromkeys(("true", "t", "yes", "y", "1", "on"), True),
        **dict.fromkeys(("false", "f", "no", "n", "0", "off"), False),
    }
)


class CellError(InputError):
    """A cell that does not hold a value of its column: a code and words.

    Raised by the parsers and caught by the importer, which turns it into a
    :class:`~omnimsg.audiences.RowProblem` naming the column; it never leaves an
    import. (An :class:`~omnimsg.errors.InputError`, so that a parser called on its
    own raises nothing but omnimsg errors either.)
    """

    def __init__(self, code: RowRejection, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_text(value: str) -> str | None:
    """Free text: stripped; empty is ``None``."""
    return value.strip() or None


def parse_contact_id(value: str) -> str | None:
    """A contact id, following the id rules of A4 (length, no invisible characters)."""
    text = value.strip()
    if not text:
        return None
    problem = id_problem(text)
    if problem is not None:
        raise CellError(RowRejection.INVALID_ID, problem)
    return text


def parse_email(value: str) -> str | None:
    """An e-mail address: ``local@domain.tld``, at most 254 characters, kept as written."""
    text = value.strip()
    if not text:
        return None
    if len(text) > _MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(text):
        raise CellError(RowRejection.INVALID_EMAIL, f"{show(text)} is not an e-mail address")
    return text


def phone_parser(default_region: str | None) -> Callable[[str], tuple[str, str | None] | None]:
    """A parser of phones to ``(E.164, region)``, parsing each number once."""

    def parse(value: str) -> tuple[str, str | None] | None:
        text = value.strip()
        if not text:
            return None
        if len(text) > _MAX_PHONE_LENGTH:
            raise CellError(
                RowRejection.INVALID_PHONE,
                f"{show(text)} is {len(text):,} characters long; a phone number has at "
                f"most {_MAX_PHONE_LENGTH}",
            )
        try:
            return parse_phone(text, default_region)
        except PhoneNumberError as exc:
            raise CellError(RowRejection.INVALID_PHONE, str(exc)) from None

    return parse


@lru_cache(maxsize=1024)
def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def parse_time_zone(value: str) -> str | None:
    """An IANA time zone name (``Europe/Paris``); quiet hours (X2) depend on it."""
    text = value.strip()
    if not text:
        return None
    if len(text) > _MAX_TIME_ZONE_LENGTH or not _is_time_zone(text):
        raise CellError(RowRejection.INVALID_VALUE, f"{show(text)} is not an IANA time zone name")
    return text


def _one_tag(value: str) -> tuple[str, ...]:
    tag = value.strip()
    return (tag,) if tag else ()


def tags_parser(separators: str) -> Callable[[str], tuple[str, ...]]:
    """A parser of a tags cell, split at any of ``separators``; empty tags dropped."""
    if not separators:
        return _one_tag
    # Every separator becomes the first one, then one str.split: no regex per cell.
    first, others = separators[0], tuple(dict.fromkeys(separators[1:]))

    def parse(value: str) -> tuple[str, ...]:
        for other in others:
            value = value.replace(other, first)
        return tuple(filter(None, map(str.strip, value.split(first))))

    return parse


def _digits(text: str) -> bool:
    """``True`` when ``text`` is ASCII digits only (``""`` included)."""
    return _ASCII_DIGITS.issuperset(text)


def _is_decimal(body: str) -> bool:
    """``body`` (no sign) is ``1``, ``1.``, ``1.5``, ``.5``, each with an optional exponent."""
    mantissa, mark, exponent = body.replace("E", "e").partition("e")
    if mark:
        exponent = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if not exponent or not _digits(exponent):
            return False
    whole, point, fraction = mantissa.partition(".")
    if not _digits(whole) or not _digits(fraction):
        return False
    return bool(whole) or (bool(point) and bool(fraction))


def parse_number(value: str) -> int | float | None:
    """A number: an ``int`` within 64 bits when written with digits only, else a ``float``.

    Accepted: ``42``, ``-7``, ``+3``, ``3.5``, ``.5``, ``5.``, ``1e3`` (ASCII digits;
    no thousands separators, no ``nan`` or ``inf``). An integer beyond 64 bits is
    refused, never turned into a float (the rule of segments and the SQL store).
    """
    text = value.strip()
    if not text:
        return None
    body = text[1:] if text[0] in "+-" else text
    if body and _digits(body):
        significant = body.lstrip("0")
        # int() itself refuses more than 4,300 digits, leading zeros included.
        if len(significant) <= _INT64_DIGITS:
            integer = int(significant or "0") * (-1 if text[0] == "-" else 1)
            if -INT64_BOUND <= integer < INT64_BOUND:
                return integer
        raise CellError(
            RowRejection.INVALID_VALUE,
            f"integers must fit in 64 bits (between -2**63 and 2**63 - 1), got {show(text)}",
        )
    if _is_decimal(body):
        number = float(text)
        if number not in (float("inf"), float("-inf")):
            return number
    raise CellError(RowRejection.INVALID_VALUE, f"expected a number, got {show(text)}")


def parse_boolean(value: str) -> bool | None:
    """``true/false``, ``yes/no``, ``y/n``, ``t/f``, ``1/0``, ``on/off``, in any case."""
    text = value.strip()
    if not text:
        return None
    parsed = _BOOLEANS.get(text.casefold()) if len(text) <= 5 else None
    if parsed is None:
        raise CellError(
            RowRejection.INVALID_VALUE,
            f"expected a boolean (true/false, yes/no, 1/0), got {show(text)}",
        )
    return parsed


def _iso_datetime(text: str) -> datetime:
    """ISO 8601: the standard library's parser first (fast), dateutil's for the rest."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return isoparse(text)


def datetime_parser(naive_timezone: tzinfo | None) -> Callable[[str], datetime | None]:
    """A parser of ISO 8601 date-times; ``naive_timezone`` is attached to those without
    an offset, and without one they are refused (omnimsg never guesses a zone)."""

    def parse(value: str) -> datetime | None:
        text = value.strip()
        if not text:
            return None
        try:
            if len(text) > _MAX_DATETIME_LENGTH:
                raise ValueError(text)
            parsed = _iso_datetime(text)
        except (ValueError, OverflowError):
            raise CellError(
                RowRejection.INVALID_VALUE, f"expected an ISO 8601 date-time, got {show(text)}"
            ) from None
        if parsed.utcoffset() is None:
            if naive_timezone is None:
                raise CellError(
                    RowRejection.INVALID_VALUE,
                    f"date-time {show(text)} has no time zone; write an offset such as "
                    "+00:00 or Z, or set naive_timezone",
                )
            parsed = parsed.replace(tzinfo=naive_timezone)
            if parsed.utcoffset() is None:
                raise CellError(
                    RowRejection.INVALID_VALUE,
                    f"date-time {show(text)} has no time zone, and naive_timezone gives "
                    "no UTC offset for it",
                )
        try:
            # Segments and stores compare instants in UTC and refuse what has none.
            parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise CellError(
                RowRejection.INVALID_VALUE,
                f"date-time {show(text)} is outside the range of UTC dates",
            ) from None
        return parsed

    return parse


def parse_unnamed(value: str) -> None:
    """A cell under a column with an empty header: it must stay empty."""
    text = value.strip()
    if text:
        raise CellError(
            RowRejection.UNNAMED_COLUMN, f"value {show(text)} under a column with no header name"
        )
