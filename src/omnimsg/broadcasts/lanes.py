"""Where a send may go in time: one lane per sender account, and the recipients' hours.

A :class:`Lane` holds what one account has left while a plan is made: its rate
(sends on a grid of ``spacing``; B10, the profile's ``rate_per_second``), its daily
recipient cap in its own time zone (B11), and its unique-recipient tier in a rolling
window with the upgrade rule (B13, B14). :class:`QuietCalendar` turns quiet hours in
a recipient's time zones into the instants a send may go (X2).

Instants are whole microseconds since the Unix epoch (UTC): integer arithmetic is
exact and cheap, and every constraint here is checked on integers.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimsg.channels.capabilities import QuietHours, TierPolicy
from omnimsg.state import AccountState, SenderUsage

__all__ = ["Lane", "QuietCalendar", "Slot", "TierTracker", "from_micros", "to_micros"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
DAY = 86_400 * SECOND
_MICRO = timedelta(microseconds=1)


def to_micros(instant: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    return (instant - EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as a UTC datetime."""
    return EPOCH + timedelta(microseconds=micros)


def micros_of(delta: timedelta) -> int:
    """A duration in whole microseconds."""
    return delta // _MICRO


def zone_of(name: str) -> tzinfo | None:
    """The time zone of an IANA name, or ``None`` for a name no zone has."""
    try:
        return _ZONES[name]
    except KeyError:
        pass
    try:
        zone: tzinfo | None = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        zone = None
    if len(_ZONES) < 4096:
        _ZONES[name] = zone
    return zone


_ZONES: dict[str, tzinfo | None] = {}


Intervals = tuple[tuple[int, ...], tuple[int, ...]]
"""Disjoint half-open intervals as (starts, ends), sorted."""


def _local_days(start: int, end: int, zone: tzinfo) -> list[date]:
    first = from_micros(start).astimezone(zone).date() - timedelta(days=1)
    last = from_micros(end).astimezone(zone).date() + timedelta(days=1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _allowed(rule: QuietHours, zone: tzinfo, start: int, end: int) -> list[tuple[int, int]]:
    """The instants ``rule`` allows in ``zone`` between ``start`` and ``end``."""
    if rule.start == rule.end:
        return [(start, end)]
    spans = []
    for day in _local_days(start, end, zone):
        opens = to_micros(datetime.combine(day, rule.start, tzinfo=zone))
        closes_day = day if rule.end > rule.start else day + timedelta(days=1)
        closes = to_micros(datetime.combine(closes_day, rule.end, tzinfo=zone))
        lo, hi = max(opens, start), min(closes, end)
        if lo < hi:
            spans.append((lo, hi))
    return spans


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


class QuietCalendar:
    """The instants a recipient may get marketing, from quiet hours in their zones (X2).

    A recipient with several possible zones (a phone number of a country with
    several) may get a message only when every zone allows it. Results are cached
    per set of zones and rules, so an audience costs one computation per distinct
    time-zone class.
    """

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self._cache: dict[tuple[tuple[tzinfo, ...], tuple[QuietHours, ...]], Intervals] = {}

    def allowed(self, zones: tuple[tzinfo, ...], rules: tuple[QuietHours, ...]) -> Intervals:
        """The allowed intervals between the calendar's start and end."""
        key = (zones, rules)
        found = self._cache.get(key)
        if found is None:
            spans = [(self.start, self.end)]
            for zone in zones:
                for rule in rules:
                    spans = _intersect(spans, _allowed(rule, zone, self.start, self.end))
            found = (tuple(s for s, _ in spans), tuple(e for _, e in spans))
            self._cache[key] = found
        return found


class Slot(NamedTuple):
    """A place found in a lane: the instants of the sends and what they use.

    ``day`` is the account's local day index (``-1`` when no daily cap needs it).
    """

    times: list[int]
    slots: list[int]
    day: int
    counted: bool


_slot = tuple.__new__


class TierTracker:
    """Unique business-initiated recipients of a sender (or a portfolio) in a rolling
    window, and the tier they are held to (B13, B14).

    Counted sends are placed in time order, so the count in the window ending at a
    new send is the count in every window holding it. What was sent before counts
    (the latest send to each recipient). A tier moves up when the sender's quality
    allows it and the recipients notified within ``upgrade_lookback`` reach
    ``upgrade_factor`` times its limit, ``upgrade_delay`` after that. The quality
    allows it when it is not low (``quality_low``), and, where the policy's
    ``quality_required`` is ``"high"`` (WhatsApp v3, P4), only when ``quality`` is
    ``"high"`` (P2-P4). The policy is one for the whole plan (the one in force at
    its start); a sender's quality does not change while a plan is made.
    """

    def __init__(
        self,
        tiers: TierPolicy,
        *,
        tier: int,
        quality_low: bool,
        recent: Sequence[tuple[datetime, str]],
        now: int,
        quality: str | None = None,
    ) -> None:
        self.tiers = tiers
        self._tier = min(tier, len(tiers.limits) - 1)
        self._tier_limit = tiers.limits[self._tier]
        self._window = micros_of(tiers.rolling_window)
        self._lookback = micros_of(tiers.upgrade_lookback)
        self._delay = micros_of(tiers.upgrade_delay)
        self._factor = tiers.upgrade_factor
        self._quality_low = quality_low or (tiers.quality_required == "high" and quality != "high")
        # The latest send to each recipient counts for every window from now on.
        latest: dict[str, int] = {}
        for sent_at, recipient in recent:
            micros = to_micros(sent_at)
            if micros <= now and micros > latest.get(recipient, micros - 1):
                latest[recipient] = micros
        self._sent = sorted(latest.values())  # counted sends, in time order
        self._head = 0  # first send inside the rolling window
        self._head7 = 0  # first send inside the upgrade lookback
        self._floor = self._sent[-1] if self._sent else 0
        self._upgrade_at: int | None = None
        # Replay what was sent: a threshold reached before now whose upgrade is still
        # ahead is pending; one already past has been applied to the stored tier.
        for i, at in enumerate(self._sent):
            while self._sent[self._head7] <= at - self._lookback:
                self._head7 += 1
            self._note_threshold(at, i + 1 - self._head7, now)

    @property
    def tier(self) -> int:
        """The tier index reached so far."""
        return self._tier

    def _note_threshold(self, at: int, notified: int, now: int) -> None:
        limit = self._tier_limit
        verified = self.tiers.verified_tier
        if (
            limit is None
            or self._upgrade_at is not None
            or self._quality_low
            or self._tier + 1 >= len(self.tiers.limits)
            # Below the verified tier only verification or the first-upgrade count
            # lifts a sender (P3), neither of which a plan can count on.
            or (verified is not None and self._tier < verified)
        ):
            return
        if notified >= self._factor * limit and at + self._delay > now:
            self._upgrade_at = at + self._delay

    def _limit_at(self, at: int) -> int | None:
        """The limit at ``at``: the next tier's once a pending upgrade has come (B14)."""
        upgrade = self._upgrade_at
        if upgrade is not None and at >= upgrade:
            return self.tiers.limits[self._tier + 1]
        return self._tier_limit

    def ready(self, at: int) -> int:
        """The earliest instant from ``at`` a new counted recipient fits.

        A pending upgrade counts: when waiting under the current tier would end
        after the upgrade, the recipient may go once the higher tier applies (B14).
        """
        if at < self._floor:
            return self._floor
        ready = self._ready_under(self._limit_at(at), at)
        upgrade = self._upgrade_at
        if upgrade is not None and ready > upgrade:
            higher = self.tiers.limits[self._tier + 1]
            ready = min(ready, self._ready_under(higher, max(at, upgrade)))
        return ready

    def _ready_under(self, limit: int | None, at: int) -> int:
        if limit is None:
            return at
        sent = self._sent
        head = self._head
        cutoff = at - self._window
        while head < len(sent) and sent[head] <= cutoff:
            head += 1
        if len(sent) - head < limit:
            return at
        # Wait until enough of the window's sends have left it.
        return sent[len(sent) - limit] + self._window

    def take(self, at: int, last: int | None = None) -> None:
        """Count a recipient first sent to at ``at`` (no earlier than any counted
        before) and last at ``last``: the recipient counts in every window holding
        any of its messages."""
        upgrade = self._upgrade_at
        if upgrade is not None and at >= upgrade:
            self._tier += 1
            self._tier_limit = self.tiers.limits[self._tier]
            self._upgrade_at = None
        if last is not None and last > at:
            at = last
        sent = self._sent
        sent.append(at)
        if at > self._floor:
            self._floor = at
        while sent[self._head] <= at - self._window:
            self._head += 1
        while sent[self._head7] <= at - self._lookback:
            self._head7 += 1
        self._note_threshold(at, len(sent) - self._head7, at - 1)
        drop = min(self._head, self._head7)
        if drop > 4096 and drop * 2 > len(sent):
            del sent[:drop]
            self._head -= drop
            self._head7 -= drop


class Lane:
    """What one sender account has left while a plan is made.

    Sends go on a grid of ``spacing`` microseconds from ``origin`` (one per grid
    point, so no window of the rate's length holds more than the rate allows);
    ``spacing`` 0 means no rate. Each local day of the account (its time zone)
    holds at most ``daily_cap`` recipients, counting what the account sent that
    day already (B11). With a ``tier`` tracker (the account's own, or one shared
    by a portfolio's senders), business-initiated recipients stay within the tier
    (B13, B14).
    """

    def __init__(
        self,
        account_id: str,
        *,
        origin: int,
        horizon: int,
        spacing: int,
        daily_cap: int | None,
        tier: TierTracker | None,
        state: AccountState,
        usage: SenderUsage,
    ) -> None:
        self.account_id = account_id
        self.origin = origin
        self.horizon = horizon
        self.spacing = spacing
        self.daily_cap = daily_cap
        self.zone = state.timezone
        # Run-length occupancy of grid points: runs [los[i], his[i]) are taken.
        self._los: list[int] = []
        self._his: list[int] = []
        # Local midnights of the account from the day before the origin to past the horizon.
        days = _local_days(origin, horizon, self.zone)
        self._day_starts = [
            to_micros(datetime.combine(d, time(0), tzinfo=self.zone)) for d in days
        ] + [to_micros(datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=self.zone))]
        self._days = days
        self._day_counts = [0] * len(days)
        if daily_cap is not None:
            for i, day in enumerate(days):
                self._day_counts[i] = usage.recipients_on(day)
        self.tier = tier

    # --- finding a place ---------------------------------------------------------------

    def _day_index(self, at: int) -> int:
        return bisect.bisect_right(self._day_starts, at) - 1

    def _free_slot(self, k: int) -> int:
        """The first grid point from ``k`` no send holds."""
        i = bisect.bisect_right(self._los, k) - 1
        if i >= 0 and self._his[i] > k:
            return self._his[i]
        return k

    def _take(self, k: int) -> None:
        los, his = self._los, self._his
        if his and his[-1] == k:  # the usual case: right after the last run
            his[-1] = k + 1
            return
        i = bisect.bisect_right(los, k) - 1
        joins_left = i >= 0 and his[i] == k
        joins_right = i + 1 < len(los) and los[i + 1] == k + 1
        if joins_left and joins_right:
            his[i] = his[i + 1]
            del los[i + 1], his[i + 1]
        elif joins_left:
            his[i] = k + 1
        elif joins_right:
            los[i + 1] = k
        else:
            los.insert(i + 1, k)
            his.insert(i + 1, k + 1)

    def find(
        self,
        earliest: int,
        count: int,
        allowed: Intervals | None,
        *,
        counted: bool,
        new_recipient: bool = True,
        latest: int | None = None,
        gap: int = 0,
    ) -> Slot | None:
        """The first place from ``earliest`` for ``count`` sends to one recipient.

        All ``count`` sends fall in one allowed interval (quiet hours) and on one
        local day of the account, at least ``gap`` microseconds apart (the channel's
        interval between two messages to one user, P5, P10); ``counted`` sends count
        toward the tier; ``new_recipient`` ones toward the daily cap. ``latest``
        bounds the last send (exclusive; a window that closes). ``None`` when nothing
        fits before the horizon (or ``latest``).
        """
        end = self.horizon if latest is None else min(latest, self.horizon)
        at = earliest if earliest > self.origin else self.origin
        spacing = self.spacing
        gap = gap if count > 1 else 0
        if allowed is None and not spacing and self.daily_cap is None and self.tier is None:
            # Nothing limits this lane: everything goes at once (B10 without a rate).
            last = at + (count - 1) * gap
            if last >= end:
                return None
            return _slot(Slot, ([at + n * gap for n in range(count)], [], -1, counted))
        if allowed is None and count == 1 and self.daily_cap is None and self.tier is None:
            # Only the rate limits this lane: the first free grid point from `at`.
            k = self._free_slot(-(-(at - self.origin) // spacing))
            first = self.origin + k * spacing
            return _slot(Slot, ([first], [k], -1, counted)) if first < end else None
        tier = self.tier
        starts = ends = None
        if allowed is not None:
            starts, ends = allowed
        for _ in range(10_000):
            if at >= end:
                return None
            interval_end = end
            if starts is not None and ends is not None:
                i = bisect.bisect_right(starts, at) - 1
                if i < 0 or ends[i] <= at:
                    i += 1
                    if i >= len(starts):
                        return None
                    at = starts[i]
                    if at >= end:
                        return None
                interval_end = ends[i] if ends[i] < end else end
            if counted and tier is not None:
                ready = tier.ready(at)
                if ready > at:
                    at = ready
                    continue
            times: list[int] = []
            slots: list[int] = []
            if spacing:
                step = max(1, -(-gap // spacing))  # grid points between two sends
                k = -(-(at - self.origin) // spacing)
                for _n in range(count):
                    k = self._free_slot(k)
                    slots.append(k)
                    times.append(self.origin + k * spacing)
                    k += step
            else:
                times = [at + n * gap for n in range(count)]
            last = times[-1]
            first = times[0]
            if last >= interval_end:
                at = interval_end  # not all of them fit in this interval: the next one
                continue
            day = self._day_index(first)
            if self._day_index(last) != day:
                at = self._day_starts[day + 1]
                continue
            if (
                new_recipient
                and self.daily_cap is not None
                and self._day_counts[day] >= self.daily_cap
            ):
                at = self._day_starts[day + 1]
                continue
            return _slot(Slot, (times, slots, day, counted))
        return None  # pragma: no cover - every step above moves forward

    def take(self, slot: Slot, *, new_recipient: bool = True) -> None:
        """Hold ``slot``'s sends in the lane."""
        for k in slot.slots:
            self._take(k)
        if new_recipient and self.daily_cap is not None:
            self._day_counts[slot.day] += 1
        if slot.counted and self.tier is not None:
            self.tier.take(slot.times[0], slot.times[-1])

    def day_of(self, index: int) -> date:
        """The local day of a day index."""
        return self._days[index]

    def recipients_by_day(self) -> Sequence[tuple[date, int]]:
        """Recipients per local day of the account, what it sent before included."""
        return tuple(zip(self._days, self._day_counts, strict=True))
