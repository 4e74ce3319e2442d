"""Time helpers shared by the pure core: refuse naive datetimes, parse durations.

Nothing here reads the clock. Every function refuses bad input with an
:class:`~omnimsg.errors.InputError` naming the value, and runs in time linear in the
length of its input: the duration grammar is matched with possessive quantifiers, so a
regex never backtracks, and numbers are converted from a bounded number of digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from omnimsg.errors import InputError, NaiveDatetimeError

__all__ = ["MAX_DURATION", "duration_text", "parse_duration", "require_aware", "require_instant"]

MAX_DURATION = timedelta(days=3660)
"""The longest duration :func:`parse_duration` accepts: about ten years.

Windows, caps and periods are hours to weeks; a longer span is a typo, and an
unbounded one would overflow date arithmetic (``now + window``) far from the input.
"""

# Possessive quantifiers (``++``, ``*+``) never give back what they matched: the
# grammar is unambiguous, so this changes no result and bounds the work per part.
_PART = re.compile(r"([0-9]++)(?:\.([0-9]++))?+\s*+([wdhmsWDHMS])\s*+")
_UNIT_MICROSECONDS = {
    "w": 604_800_000_000,
    "d": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
}
_MAX_MICROSECONDS = MAX_DURATION // timedelta(microseconds=1)
# Beyond these many significant digits a whole part exceeds MAX_DURATION in any unit
# (10**12 seconds is over 30,000 years); fraction digits past the 15th are below a
# microsecond even in weeks. Bounding both keeps int() off huge digit strings.
_MAX_WHOLE_DIGITS = 12
_MAX_FRACTION_DIGITS = 15
_EXCERPT = 40


def _excerpt(text: str) -> str:
    shown = text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
    return repr(shown)


def _kind(value: object) -> str:
    # Only the type: repr() of a hostile object may be huge, recursive or raise.
    return "None" if value is None else type(value).__name__


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it is a datetime that carries a UTC offset.

    Args:
        value: the instant to check.
        name: what the value is (a parameter or field name), used in the error.

    Returns:
        ``value`` itself, unchanged.

    Raises:
        NaiveDatetimeError: ``value`` has no tzinfo, or its tzinfo gives no offset
            (``utcoffset()`` returns ``None``).
        InputError: ``value`` is not a datetime (a ``date``, a string, ``None``), or
            its tzinfo fails when asked for the offset.
    """
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a timezone-aware datetime, got {_kind(value)}")
    if value.tzinfo is None:
        offset = None
    else:
        try:
            offset = value.utcoffset()
        except Exception as exc:  # a user's tzinfo may fail in any way
            raise InputError(
                f"{name}: its tzinfo {type(value.tzinfo).__name__} failed to give a UTC "
                f"offset ({type(exc).__name__}: {exc})"
            ) from exc
    if offset is None:
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware, got naive datetime "
            f"{value.replace(tzinfo=None).isoformat()!r}; "
            "attach a tzinfo (for example datetime.now(UTC))"
        )
    return value


def require_instant(value: datetime, name: str) -> datetime:
    """Return ``value`` as the same instant in UTC, refusing what is not an instant.

    Arithmetic on UTC values counts elapsed hours, across daylight-saving changes.

    Args:
        value: an aware datetime.
        name: what the value is, used in the error.

    Returns:
        ``value`` converted to UTC.

    Raises:
        NaiveDatetimeError: ``value`` carries no UTC offset.
        InputError: ``value`` is not a datetime, or it cannot be expressed in UTC
            (``datetime.min`` with a positive offset lies before year 1 in UTC).
    """
    aware = require_aware(value, name)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        raise InputError(
            f"{name}: {aware.isoformat()} cannot be expressed in UTC (it lies outside years 1-9999)"
        ) from None


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``"24h"``, ``"7d"``, ``"1h30m"``, ``"1.5h"`` or ``"90s"``.

    A duration is one or more parts, each a number (digits, optionally a ``.`` and
    more digits) followed by a unit: ``w`` weeks, ``d`` days, ``h`` hours, ``m``
    minutes, ``s`` seconds (either case). Whitespace may surround the parts and
    separate a number from its unit. Parts add up (``"1h30m"`` is 90 minutes). The
    result is rounded to the microsecond. The time taken is linear in ``len(text)``.

    Args:
        text: the duration as written.

    Returns:
        The duration, from zero up to :data:`MAX_DURATION`.

    Raises:
        InputError: ``text`` is not a ``str``, is empty, does not follow the grammar
            (the message gives the position of the first character that does not), or
            is longer than :data:`MAX_DURATION`.
    """
    if not isinstance(text, str):
        raise InputError(f"a duration must be a str such as '24h', got {_kind(text)}")
    end = len(text)
    pos = end - len(text.lstrip())
    if pos == end:
        raise InputError("empty duration; expected something like '24h' or '7d'")
    total = 0
    while pos < end:
        match = _PART.match(text, pos)
        if match is None:
            raise InputError(
                f"invalid duration {_excerpt(text)}: cannot read {_excerpt(text[pos : pos + 12])}"
                f" at position {pos + 1}; expected something like '24h', '7d', '1h30m'"
            )
        whole, fraction, unit = match.groups()
        total += _part_microseconds(whole, fraction or "", _UNIT_MICROSECONDS[unit.lower()])
        if total > _MAX_MICROSECONDS:
            raise InputError(
                f"duration {_excerpt(text)} is longer than the maximum of {MAX_DURATION.days} days"
            )
        pos = match.end()
    return timedelta(microseconds=total)


def _part_microseconds(whole: str, fraction: str, unit: int) -> int:
    """One part in microseconds, rounded half up; above the maximum when it is huge."""
    significant = whole.lstrip("0")
    if len(significant) > _MAX_WHOLE_DIGITS:
        return _MAX_MICROSECONDS + 1
    fraction = fraction[:_MAX_FRACTION_DIGITS]
    scale = 10 ** len(fraction)
    micro = int(significant or "0") * unit
    if fraction:
        micro += (int(fraction) * unit * 2 + scale) // (2 * scale)
    return micro


def duration_text(value: timedelta) -> str:
    """``24h``, ``7d``, ``1h30m``, ``90s``: days only from three days up, as profiles write them."""
    if value < timedelta(0):
        return "-" + duration_text(-value)
    seconds, micro = divmod(value // timedelta(microseconds=1), 1_000_000)
    if micro:
        return f"{value.total_seconds():g}s"
    if seconds and seconds % 86400 == 0 and seconds >= 3 * 86400:
        return f"{seconds // 86400}d"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"
