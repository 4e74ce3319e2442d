"""Turning flag values into library values, with errors that name the flag.

A value the command line cannot read (an instant without an offset, a duration
that is not one, ``NAME`` without ``=TYPE``) is a usage error: :class:`FlagError`,
exit status 2, its message starting with the flag (``--last-inbound: ...``). What
the library refuses after that is an omnimsg error and keeps its own message.
Nothing here imports typer or rich, and nothing reads the clock: ``now`` comes in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimsg import FieldType, InputError, Media, MediaKind
from omnimsg._time import parse_duration

__all__ = [
    "FlagError",
    "as_of_instant",
    "custom_fields",
    "instant",
    "last_inbound",
    "media",
    "refused_as",
    "text",
    "time_zone",
    "voice_note",
]

_MAX_INSTANT = 64  # the longest ISO 8601 instant is about 40 characters
_MAX_ZONE = 64  # IANA names are at most about 30 characters
_ZONE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_KIND_SUFFIX = re.compile(r"[A-Za-z_]+")
_INSTANT_EXAMPLE = "2026-11-23T12:00Z or 2026-11-23T13:00+01:00"
_WHEN_FORMS = (
    f"a duration ago (2h, -2h, 3d), an ISO 8601 instant such as {_INSTANT_EXAMPLE}, or 'never'"
)


class FlagError(Exception):
    """A flag's value cannot be read: a usage error (exit status 2).

    Args:
        flag: the flag as the user typed it (``"--last-inbound"``).
        message: what is wrong, in words.
    """

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag
        self.message = message


@contextmanager
def refused_as(flag: str) -> Iterator[None]:
    """Report an :class:`~omnimsg.InputError` raised inside as a :class:`FlagError` of ``flag``.

    For library calls that check one flag's value, so that the message speaks of the
    flag the user typed rather than of a Python argument.
    """
    try:
        yield
    except InputError as exc:
        raise FlagError(flag, str(exc)) from None


def text(value: str, flag: str) -> str:
    """``value`` itself, or :class:`FlagError` if it holds bytes that were not UTF-8.

    Arguments that are not UTF-8 reach Python as lone surrogates; no message can
    carry them, so they are refused here rather than deep in the library.
    """
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise FlagError(flag, f"character {index + 1} is not UTF-8 text")
    return value


def _parse_instant(value: str, flag: str) -> datetime:
    text(value, flag)
    if len(value) > _MAX_INSTANT:
        raise FlagError(flag, f"expected an ISO 8601 instant such as {_INSTANT_EXAMPLE}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FlagError(
            flag, f"expected an ISO 8601 instant such as {_INSTANT_EXAMPLE}, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise FlagError(
            flag,
            f"{value!r} has no UTC offset; add Z for UTC or an offset such as +01:00 "
            "(an instant is never guessed)",
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise FlagError(flag, f"{value!r} lies outside years 1-9999 in UTC") from None


def instant(value: str | None, flag: str, *, default: datetime) -> datetime:
    """An ISO 8601 instant with a UTC offset (``Z`` or ``+01:00``), in UTC.

    Args:
        value: the flag's value, or ``None`` when it was not given.
        flag: the flag, for messages.
        default: the instant to use when the flag was not given.

    Raises:
        FlagError: not ISO 8601, no offset (naive instants are refused, never
            guessed), or outside the years 1-9999 in UTC.
    """
    return default if value is None else _parse_instant(value, flag)


def as_of_instant(value: str | None, flag: str, *, default: datetime) -> datetime:
    """Like :func:`instant`, and a date alone (``2026-11-23``) means 00:00 UTC that day."""
    if value is None:
        return default
    stripped = value.strip()
    if len(stripped) <= 10 and "T" not in stripped.upper():
        try:
            day = date.fromisoformat(stripped)
        except ValueError:
            pass
        else:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return _parse_instant(value, flag)


def last_inbound(value: str | None, flag: str, *, now: datetime) -> datetime | None:
    """When the contact last wrote: ``never``, a duration ago, or an instant.

    ``2h``, ``-2h`` and ``3d`` are durations before ``now`` (the sign is optional);
    a value that starts with a digit and holds a ``-`` after its first character, a
    ``:`` or a ``T`` is an ISO 8601 instant, so ``2026-11-01T10:00Z`` is an instant,
    not a duration in minutes.

    Raises:
        FlagError: neither form, a naive instant, or an instant later than ``now``.
    """
    if value is None:
        return None
    stripped = text(value, flag).strip()
    if stripped.lower() == "never":
        return None
    body = stripped[1:] if stripped.startswith("-") else stripped
    if body[:1].isdigit() and any(mark in body for mark in "-:Tt"):
        at = _parse_instant(stripped, flag)
        if at > now:
            raise FlagError(flag, f"{value!r} is later than now ({now.isoformat()})")
        return at
    if len(body) > _MAX_INSTANT or not body:
        raise FlagError(flag, f"expected {_WHEN_FORMS}")
    try:
        ago = parse_duration(body)
    except InputError as exc:
        raise FlagError(flag, f"{exc}; or else {_WHEN_FORMS}") from None
    try:
        return now - ago
    except OverflowError:
        raise FlagError(flag, f"{value!r} before {now.isoformat()} lies before year 1") from None


def time_zone(value: str, flag: str) -> tzinfo:
    """An IANA time zone (``Europe/Madrid``, ``UTC``).

    Raises:
        FlagError: the name is malformed or not in the time zone database.
    """
    text(value, flag)
    if len(value) > _MAX_ZONE or _ZONE.fullmatch(value) is None or ".." in value:
        raise FlagError(flag, f"{value!r} is not an IANA time zone name such as Europe/Madrid")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FlagError(flag, f"unknown time zone {value!r}") from None


def custom_fields(pairs: Iterable[str], flag: str) -> dict[str, str]:
    """``NAME=TYPE`` pairs as a mapping; ``TYPE`` is a :class:`~omnimsg.FieldType` value.

    Raises:
        FlagError: a pair without ``=``, an empty name, or an unknown type.
    """
    types = ", ".join(t.value for t in FieldType)
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, kind = text(pair, flag).partition("=")
        if not sep or not name.strip():
            raise FlagError(flag, f"expected NAME=TYPE, got {pair!r}")
        if kind.strip() not in {t.value for t in FieldType}:
            raise FlagError(
                flag, f"{pair!r}: unknown type {kind.strip()!r}; expected one of {types}"
            )
        fields[name.strip()] = kind.strip()
    return fields


def media(value: str, flag: str) -> Media:
    """``URL`` (an image) or ``URL@KIND`` with a :class:`~omnimsg.MediaKind` value.

    A ``@`` followed by anything but a word stays part of the URL
    (``https://user@host/a.jpg``).

    Raises:
        FlagError: an unknown kind, or a URL the library refuses.
    """
    url, sep, suffix = text(value, flag).rpartition("@")
    kind = MediaKind.IMAGE
    if sep and _KIND_SUFFIX.fullmatch(suffix):
        try:
            kind = MediaKind(suffix.lower())
        except ValueError:
            kinds = ", ".join(k.value for k in MediaKind)
            raise FlagError(
                flag, f"unknown media kind {suffix!r} in {value!r}; expected one of {kinds}"
            ) from None
    else:
        url = value
    with refused_as(flag):
        return Media(url, kind)


def voice_note(seconds: float, flag: str) -> Media:
    """A voice note lasting ``seconds`` (C4).

    Raises:
        FlagError: the length is not a finite number of seconds the library accepts.
    """
    try:
        length = timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise FlagError(flag, f"expected a number of seconds, got {seconds!r}") from None
    with refused_as(flag):
        return Media("voice-note", MediaKind.VOICE, duration=length)
