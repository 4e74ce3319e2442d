"""Time helpers shared by the pure core: refuse naive datetimes, parse durations.

Nothing here reads the clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from omnimsg.errors import InputError, NaiveDatetimeError

__all__ = ["parse_duration", "require_aware"]


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it carries a UTC offset, else raise :class:`NaiveDatetimeError`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware, got naive datetime {value.isoformat()!r}; "
            "attach a tzinfo (for example datetime.now(UTC))"
        )
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """Parse ``"24h"``, ``"7d"``, ``"1h30m"``, ``"90s"`` into a timedelta.

    Raises :class:`InputError` naming the text when it is not a duration.
    """
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise InputError("empty duration; expected something like '24h' or '7d'")
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        pos = match.end()
    if pos != len(cleaned):
        raise InputError(f"invalid duration {text!r}; expected something like '24h', '7d', '1h30m'")
    return timedelta(seconds=total)
