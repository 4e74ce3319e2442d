"""Keeping a send inside its recipient's allowed hours when it goes later than planned
(X2, P12): a region's cap that holds it back, a late run, a retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnimsg.broadcasts.lanes import QuietCalendar, from_micros, to_micros, zone_of
from omnimsg.channels.capabilities import QuietHours
from omnimsg.phones import prefix_time_zones

__all__ = ["allowed_from", "same_hours_later"]

_DAY = timedelta(days=1)
_DST_MARGIN = timedelta(hours=1)


def same_hours_later(hours: tuple[datetime, datetime], now: datetime) -> datetime | None:
    """The first instant from ``now`` in the recipient's allowed hours of a later day,
    from the interval ``hours`` a plan placed a send in (X2, P12).

    A day later in UTC is a day later in local time but for a clock change, which
    moves local time by at most an hour: the interval is narrowed by an hour at each
    end, so the instant is allowed in any zone. ``None`` when the narrowed interval
    is empty or no day within 8 fits.
    """
    start, end = hours
    lo_base, hi_base = start + _DST_MARGIN, end - _DST_MARGIN
    if hi_base <= lo_base:
        return None
    for days in range(1, 9):
        lo, hi = lo_base + days * _DAY, hi_base + days * _DAY
        if now < hi:
            return max(lo, now)
    return None


def allowed_from(at: datetime, number: str, hours: QuietHours | None) -> datetime:
    """The first instant from ``at`` within ``hours`` in every time zone of ``number``
    (UTC when it has none): where a held-back send may go (P12, X2)."""
    if hours is None:
        return at
    e164 = number if number.startswith("+") else "+" + number
    zones = tuple(z for z in (zone_of(name) for name in prefix_time_zones(e164)) if z) or (UTC,)
    start = to_micros(at)
    starts, ends = QuietCalendar(start, to_micros(at + 3 * _DAY)).allowed(zones, (hours,))
    for begin, end in zip(starts, ends, strict=True):
        if end > start:
            return from_micros(max(begin, start))
    return at
