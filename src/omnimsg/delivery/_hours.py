"""A send's recipient at send time: the caps of the regions its number is in (P12), and
keeping the send inside the allowed hours when it goes later than planned (X2, P12):
a region's cap that holds it back, a late run, a retry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from omnimsg.broadcasts.lanes import QuietCalendar, from_micros, to_micros, zone_of
from omnimsg.broadcasts.outcomes import PlannedSend
from omnimsg.broadcasts.regions import matching_regions
from omnimsg.channels.capabilities import QuietHours, RegionRule
from omnimsg.delivery.records import Reservation
from omnimsg.phones import prefix_time_zones

__all__ = ["allowed_from", "region_caps", "same_hours_later"]

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


def region_caps(
    regions: Mapping[str, RegionRule],
    send: PlannedSend,
    now: datetime,
    first_free: Callable[[str, timedelta, datetime], datetime],
) -> list[tuple[Reservation, str, Callable[[], datetime]]]:
    """The frequency caps of the ``regions`` (in force on ``now``'s date) the
    recipient's number is in (P12), on top of the draft's (X4): one set per number and
    region, of the messages sent under that region's rule (two contacts sharing a
    number share its cap). A send the cap holds back waits for the region's next
    allowed hour, in the number's time zone; ``first_free`` says when the set has room."""
    found: list[tuple[Reservation, str, Callable[[], datetime]]] = []
    for name, rule in matching_regions(regions, send.address):
        limit = rule.frequency_cap
        if limit is None:
            continue
        digits = send.address[1:] if send.address.startswith("+") else send.address
        key = f"p12/{name}/{digits}"
        period = limit.period

        def again(
            key: str = key,
            period: timedelta = period,
            hours: QuietHours | None = rule.quiet_hours,
        ) -> datetime:
            return allowed_from(first_free(key, period, now), send.address, hours)

        found.append((Reservation(key, send.key, limit.messages, period, period), "P12", again))
    return found
