"""What the planner places and the auditor must count: the caps of senders and recipients.

This module owns the counts an audit keeps across conversations, and only those: a
sending account's recipients on its local day (B11), its unique business-initiated
recipients in the rolling window and the tier they are held to (B13, P2-P4), a
contact's marketing messages in the frequency cap's period (X4) and a number's in its
region's (P12), and whether an instant lies in the recipient's allowed hours (X2,
P12). The rules themselves are the planner's: the tier is a
:class:`~omnimsg.broadcasts.lanes.TierTracker`, the hours a
:class:`~omnimsg.broadcasts.lanes.QuietCalendar`, a cap's room
:func:`~omnimsg.broadcasts.regions.cap_start`, a number's regions
:func:`~omnimsg.broadcasts.regions.matching_regions`.

Each count forgets what no rule can look at any more: a day's recipients when the
day ends, a recipient once the rolling window has passed it, a contact's marketing
times once the longest cap period has. Nothing here reads a clock or a file.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, tzinfo

from omnimsg._time import duration_text
from omnimsg.broadcasts.lanes import (
    DAY,
    QuietCalendar,
    TierTracker,
    from_micros,
    micros_of,
    to_micros,
)
from omnimsg.broadcasts.regions import cap_start
from omnimsg.channels.capabilities import FrequencyLimit, QuietHours, TierPolicy
from omnimsg.policy.limits import RULE_OF_VERSION
from omnimsg.state import AccountState

__all__ = ["DailyRecipients", "FrequencyCounts", "QuietCheck", "TierCount"]

_SWEEP_EVERY = 4096  # new keys between two sweeps of what can no longer matter


class DailyRecipients:
    """A sender's distinct recipients on its current local day (B11).

    Holds one day: the set is emptied when the account's local day changes, so
    memory is the largest day's recipients.
    """

    def __init__(self) -> None:
        self.day: date | None = None
        self.seen: set[str] = set()

    def add(self, account: AccountState, at: datetime, recipient: str, cap: int) -> str | None:
        """Count ``recipient`` at ``at``; the words of a violation when it is a new
        recipient beyond ``cap`` on the day, else ``None``."""
        day = account.local_day(at)
        if day != self.day:
            self.day = day
            self.seen = set()
        if recipient in self.seen:
            return None
        self.seen.add(recipient)
        count = len(self.seen)
        if count <= cap:
            return None
        return (
            f"recipient {count:,} of the account on {day.isoformat()} "
            f"(its local day, {account.timezone}); the cap is {cap:,} a day"
        )


class TierCount:
    """Unique business-initiated recipients of a sender (or a portfolio) in the rolling
    window, against its messaging limit (B13, P2-P4).

    A recipient counts in every window that holds any of its counted messages, as
    the planner counts one (:meth:`~omnimsg.broadcasts.lanes.TierTracker.take` with
    its last send): each keeps the instant of its latest counted message, and leaves
    the count a rolling window after it. The tier, its upgrades and their delays are
    the planner's :class:`~omnimsg.broadcasts.lanes.TierTracker`, told of each new
    recipient; it is rebuilt, carrying its tier index, when other rules come into
    force.
    """

    def __init__(
        self,
        tiers: TierPolicy,
        account: AccountState,
        at: int,
        *,
        tier: int | None = None,
        recent: Iterable[tuple[str, int]] = (),
    ) -> None:
        self.account = account
        self.tiers = tiers
        self.window = micros_of(tiers.rolling_window)
        # Recipient -> its latest counted message, oldest first: a recipient leaves the
        # window from the front, a message to one already in it moves it to the back.
        self.latest: OrderedDict[str, int] = OrderedDict()
        for recipient, sent in sorted(recent, key=lambda item: item[1]):
            if at - self.window < sent <= at:
                self.latest.pop(recipient, None)
                self.latest[recipient] = sent
        self.tracker = self._tracker(tiers, account.tier if tier is None else tier, at)

    def _tracker(self, tiers: TierPolicy, tier: int, at: int) -> TierTracker:
        recent = [(from_micros(t), r) for r, t in self.latest.items()]
        return TierTracker(
            tiers,
            tier=min(tier, len(tiers.limits) - 1),
            quality_low=self.account.quality_low,
            recent=recent,
            now=at,
            quality=self.account.quality,
        )

    def _forget(self, at: int) -> None:
        """Drop the recipients whose latest counted message has left the window."""
        latest = self.latest
        cutoff = at - self.window
        while latest:
            sent = next(iter(latest.values()))
            if sent > cutoff:
                return
            latest.popitem(last=False)

    def recent(self, at: int) -> list[tuple[str, int]]:
        """The recipients in the window ending at ``at``, with their latest instant."""
        self._forget(at)
        return list(self.latest.items())

    def add(self, tiers: TierPolicy, at: int, recipient: str) -> str | None:
        """Count a message to ``recipient`` at ``at`` (microseconds, no earlier than
        the one before); the words of a violation when it starts a new user beyond
        the limit, else ``None``."""
        self._forget(at)
        if tiers is not self.tiers and tiers != self.tiers:
            self.tiers = tiers
            self.window = micros_of(tiers.rolling_window)
            self._forget(at)
            self.tracker = self._tracker(tiers, self.tracker.tier, at)
        latest = self.latest
        if recipient in latest:
            latest[recipient] = at
            latest.move_to_end(recipient)
            return None
        used = len(latest)
        tracker = self.tracker
        tracker.take(at)  # applies an upgrade that has come by ``at`` (B14)
        latest[recipient] = at
        limit = tiers.limits[tracker.tier]
        if limit is None or used < limit:
            return None
        version = f" ({tiers.version} rules)" if tiers.version else ""
        return (
            f"a new user beyond the messaging limit: {used:,} unique users were "
            f"started in the last {duration_text(tiers.rolling_window)}, the limit of tier "
            f"{tracker.tier + 1} is {limit:,}{version}"
        )

    @property
    def tier(self) -> int:
        """The tier index reached so far."""
        return self.tracker.tier

    @property
    def rule(self) -> str:
        """The SPEC id of the rules in force (P2, P3, P4; B13 for unversioned ones)."""
        return RULE_OF_VERSION.get(self.tiers.version, "B13")


class FrequencyCounts:
    """Marketing messages per key (a contact, or a number in a region) in a cap's
    period (X4, P12): each key keeps the instants within the longest period seen."""

    def __init__(self) -> None:
        self.times: dict[str, list[int]] = {}
        self.keep = 0
        self._added = 0

    def add(self, key: str, at: int, limit: FrequencyLimit) -> str | None:
        """Count one message to ``key`` at ``at``; the words of a violation when it
        passes ``limit``, else ``None``."""
        period = micros_of(limit.period)
        if period > self.keep:
            self.keep = period
        earlier = self.times.get(key)
        if earlier is None:
            earlier = self.times[key] = []
            self._added += 1
        first = cap_start(earlier, limit, 1, at)
        words = None
        if first is None or first > at:
            recent = len(earlier) - bisect.bisect_right(earlier, at - period)
            words = (
                f"message {recent + 1} in {duration_text(limit.period)}; the cap is "
                f"{limit.messages} per {duration_text(limit.period)}"
            )
        earlier.append(at)
        drop = bisect.bisect_right(earlier, at - self.keep)
        if drop:
            del earlier[:drop]
        if self._added >= _SWEEP_EVERY:
            self._added = 0
            cutoff = at - self.keep
            self.times = {k: v for k, v in self.times.items() if v and v[-1] > cutoff}
        return words


class QuietCheck:
    """Whether an instant lies in a recipient's allowed hours (X2, P12), with the
    planner's :class:`~omnimsg.broadcasts.lanes.QuietCalendar` over a few days
    around it (a new calendar when the log moves on)."""

    def __init__(self) -> None:
        self._calendar: QuietCalendar | None = None

    def allows(self, at: int, zones: tuple[tzinfo, ...], rules: Iterable[QuietHours]) -> bool:
        """Whether a message at ``at`` (microseconds) is allowed in every one of
        ``zones`` under every one of ``rules``."""
        calendar = self._calendar
        if calendar is None or not calendar.start + DAY <= at < calendar.end - DAY:
            start = at - at % DAY - DAY
            calendar = self._calendar = QuietCalendar(start, start + 4 * DAY)
        starts, ends = calendar.allowed(zones, tuple(rules))
        i = bisect.bisect_right(starts, at) - 1
        return i >= 0 and at < ends[i]


def hours_text(rules: Iterable[QuietHours]) -> str:
    """The allowed hours of ``rules`` in words (``08:00-21:00``)."""
    return " and ".join(
        f"{rule.start.strftime('%H:%M')}-{rule.end.strftime('%H:%M')}" for rule in rules
    )


def local_text(at: datetime, zones: tuple[tzinfo, ...]) -> str:
    """``at`` as local times in ``zones`` (``21:30 America/New_York``)."""
    return ", ".join(f"{at.astimezone(zone).strftime('%H:%M')} {zone}" for zone in zones)


def micros(at: datetime) -> int:
    """An instant as microseconds since the epoch (the planner's integer time)."""
    return to_micros(at)
