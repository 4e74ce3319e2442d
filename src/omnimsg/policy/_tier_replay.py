"""The replay behind :func:`omnimsg.policy.limits.messaging_limit` (B13, B14, P2-P4).

This module owns how a history is replayed: the rules' timeline found from a
function of the instant, the carry-over at a change of rules, the sliding counts of
unique recipients, and one state per sender (each number, and the business
portfolio) with its pending upgrade or downgrade. The values it reads and returns
live in :mod:`omnimsg.policy.limits`; nothing here is public, reads the clock or does
I/O. Instants are whole microseconds since the Unix epoch, so that window arithmetic
is exact integer arithmetic and the replay stays linear in the history.
"""

from __future__ import annotations

import bisect
import heapq
import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from omnimsg.channels.capabilities import TierPolicy
from omnimsg.errors import InputError
from omnimsg.policy.limits import (
    RULE_OF_VERSION,
    Delivery,
    LimitHistory,
    LimitStatus,
    Quality,
    QualityChange,
    TierCause,
    TierChange,
)

__all__ = ["replay_status"]

_AT = operator.attrgetter("at")
_KEY = operator.itemgetter(0)

_RANK = {Quality.FLAGGED: 0, Quality.LOW: 1, Quality.UNKNOWN: 2, Quality.MEDIUM: 2, Quality.HIGH: 3}
_NOT_LOW = 2
_HIGH = 3

# --- rules and instants ------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_ORDER_RULES, _ORDER_BEGIN, _ORDER_QUALITY, _ORDER_VERIFIED, _ORDER_TIMER = range(5)


def _us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICRO


def _dt(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _timeline(
    lookup: Callable[[datetime], TierPolicy], points: list[tuple[int, datetime]]
) -> list[tuple[int, TierPolicy]]:
    """The rules at each of ``points`` (sorted distinct instants), as ``(from, rules)``
    segments: a change between two points is found to the microsecond by bisection."""
    previous, first = points[0]
    segments = [(previous, lookup(first))]
    for instant, stamp in points[1:]:
        found = lookup(stamp)
        current = segments[-1][1]
        while found is not current and found != current:
            lo, hi, at_hi = previous, instant, found
            while hi - lo > 1:
                mid = (lo + hi) // 2
                seen = lookup(_dt(mid))
                if seen is current or seen == current:
                    lo = mid
                else:
                    hi, at_hi = mid, seen
            segments.append((hi, at_hi))
            current, previous = at_hi, hi
        previous = instant
    return segments


def _carry(value: int | None, limits: tuple[int | None, ...]) -> int:
    """The lowest tier of ``limits`` whose limit is at least ``value`` (``None``: unlimited)."""
    for i, limit in enumerate(limits):
        if limit is None or (value is not None and limit >= value):
            return i
    return len(limits) - 1


# --- the replay --------------------------------------------------------------------------


class _Log:
    """Counted deliveries of one sender in time order. While the sender is under
    rules that apply to it, the distinct recipients in trailing windows (the upgrade
    lookback, and the first-upgrade period when the rules have one) are kept by
    moving heads: each delivery enters and leaves each window once."""

    __slots__ = ("counts", "heads", "keep", "times", "who", "widths")

    def __init__(self, keep: int) -> None:
        self.times: list[int] = []
        self.who: list[str] = []
        self.keep = keep  # how far back a window of any rules in the replay reaches
        self.widths: list[int] = []
        self.heads: list[int] = []
        self.counts: list[dict[str, int]] = []

    def add(self, at: int, recipient: str) -> None:
        self.times.append(at)
        self.who.append(recipient)
        for counts in self.counts:
            counts[recipient] = counts.get(recipient, 0) + 1
        size = len(self.times)
        if size > 8192 and not size & 4095:
            drop = min(self.heads, default=size)
            drop = min(drop, bisect.bisect_right(self.times, at - self.keep))
            if drop * 2 > size:
                del self.times[:drop], self.who[:drop]
                self.heads = [head - drop for head in self.heads]

    def track(self, widths: list[int], now: int) -> None:
        """Count the windows of ``widths`` from ``now`` on (none: stop counting)."""
        self.widths, self.heads, self.counts = widths, [], []
        for width in widths:
            head = bisect.bisect_right(self.times, now - width)
            counts: dict[str, int] = {}
            for recipient in self.who[head:]:
                counts[recipient] = counts.get(recipient, 0) + 1
            self.heads.append(head)
            self.counts.append(counts)

    def distinct(self, i: int, now: int) -> int:
        """Distinct recipients in the window ``i`` ending at ``now`` (not before the last)."""
        times, who, counts, head = self.times, self.who, self.counts[i], self.heads[i]
        cutoff = now - self.widths[i]
        while head < len(times) and times[head] <= cutoff:
            left = counts[who[head]] - 1
            if left:
                counts[who[head]] = left
            else:
                del counts[who[head]]
            head += 1
        self.heads[i] = head
        return len(counts)

    def used(self, now: int, width: int) -> int:
        """Distinct recipients in ``(now - width, now]``."""
        return len(set(self.who[bisect.bisect_right(self.times, now - width) :]))


_LOOKBACK, _FIRST = 0, 1
_Pending: TypeAlias = tuple[int, int, TierCause, int | None]  # at, tier, cause, threshold


class _Unit:
    """The replay state of one sender: a number, or the business portfolio (key None)."""

    __slots__ = (
        "anchor",
        "begun",
        "changes",
        "down",
        "key",
        "log",
        "low_since",
        "rank",
        "tier",
        "up",
    )

    def __init__(self, key: str | None, log: _Log) -> None:
        self.key = key
        self.log = log
        self.begun = False
        self.tier = 0
        self.rank = _NOT_LOW
        self.low_since: int | None = None
        self.anchor = 0  # the instant a downgrade's time is counted from
        self.up: _Pending | None = None
        self.down: tuple[int] | None = None
        self.changes: list[TierChange] = []


def _widths(policy: TierPolicy) -> list[int]:
    """The windows the rules count in: the lookback, and the first-upgrade period."""
    widths = [policy.upgrade_lookback // _MICRO]
    if policy.first_upgrade_count is not None and policy.verified_tier is not None:
        widths.append(policy.first_upgrade_period // _MICRO)
    return widths


class _Replay:
    """One replay of a history in time order under the rules in force at each instant."""

    def __init__(self, segments: list[tuple[int, TierPolicy]], history: LimitHistory) -> None:
        self.policy = segments[0][1]
        policies = [policy for _, policy in segments]
        keep = max(
            max(p.rolling_window, p.upgrade_lookback, p.first_upgrade_period) for p in policies
        )
        self.keep = keep // _MICRO
        self.units: dict[str | None, _Unit] = {}
        self.verified = False
        self.default = history.initial_quality
        self.own: dict[str, Quality] = {}
        self.ranks = [0, 0, 0, 0]  # begun numbers per rank
        self.heap: list[tuple[int, int, int, object, object]] = []
        self.seq = 0

    def unit(self, key: str | None) -> _Unit:
        found = self.units.get(key)
        if found is None:
            found = self.units[key] = _Unit(key, _Log(self.keep))
        return found

    def push(self, at: int, order: int, a: object, b: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, order, self.seq, a, b))

    def active(self, unit: _Unit) -> bool:
        return unit.begun and (unit.key is None) == (self.policy.scope == "portfolio")

    def rating(self, unit: _Unit) -> Quality:
        if unit.key is not None:
            return self.own.get(unit.key, self.default)
        begun = [u for u in self.units.values() if u.key is not None and u.begun]
        return min((self.rating(u) for u in begun), key=_RANK.__getitem__, default=self.default)

    def rank(self, unit: _Unit) -> int:
        if unit.key is not None:
            return _RANK[self.own.get(unit.key, self.default)]
        if not any(self.ranks):
            return _RANK[self.default]
        return next(rank for rank, count in enumerate(self.ranks) if count)

    # --- moves ---------------------------------------------------------------------

    def move(
        self, unit: _Unit, tier: int, cause: TierCause, at: int, threshold: int | None = None
    ) -> None:
        unit.tier = tier
        unit.changes.append(self.change(tier, cause, at, threshold))

    def change(self, tier: int, cause: TierCause, at: int, threshold: int | None) -> TierChange:
        policy = self.policy
        when = None if threshold is None else _dt(threshold)
        return TierChange(_dt(at), tier, policy.limits[tier], cause, policy.version, when)

    def schedule_up(self, unit: _Unit, tier: int, cause: TierCause, at: int) -> None:
        unit.up = pending = (at + self.policy.upgrade_delay // _MICRO, tier, cause, at)
        self.push(pending[0], _ORDER_TIMER, unit, pending)

    def schedule_down(self, unit: _Unit, at: int) -> None:
        after = self.policy.downgrade_after
        unit.down = None
        if after is not None and unit.low_since is not None and unit.tier > 0:
            unit.down = pending = (max(unit.anchor + after // _MICRO, at),)
            self.push(pending[0], _ORDER_TIMER, unit, pending)

    def evaluate(self, unit: _Unit, at: int) -> None:
        """Apply or schedule what the rules give ``unit`` now (B14, P2-P4)."""
        policy = self.policy
        rank = unit.rank
        lifted = policy.verified_tier
        if rank >= _NOT_LOW and self.verified and lifted is not None and unit.tier < lifted:
            unit.up = None
            self.move(unit, lifted, TierCause.VERIFIED, at)
        if rank < (_HIGH if policy.quality_required == "high" else _NOT_LOW):
            unit.up = None  # quality never lets the limit move up (B14)
            return
        if unit.up is not None and unit.up[2] is TierCause.FIRST_UPGRADE and rank < _HIGH:
            unit.up = None  # the first upgrade is earned at high quality (P3)
        if lifted is not None and unit.tier < lifted:
            wanted = policy.first_upgrade_count
            if (
                unit.up is None
                and wanted is not None
                and rank >= _HIGH
                and unit.log.distinct(_FIRST, at) >= wanted
            ):
                self.schedule_up(unit, lifted, TierCause.FIRST_UPGRADE, at)
            return
        limit = policy.limits[unit.tier]
        if (
            unit.up is None
            and limit is not None
            and unit.tier + 1 < len(policy.limits)
            and unit.log.distinct(_LOOKBACK, at) >= policy.upgrade_factor * limit
        ):
            self.schedule_up(unit, unit.tier + 1, TierCause.UPGRADE, at)

    def rerank(self, unit: _Unit, at: int) -> None:
        """Follow a change of ``unit``'s rating: low time, downgrades, upgrades (P3)."""
        rank = self.rank(unit)
        if rank == unit.rank:
            return
        unit.rank = rank
        if rank < _NOT_LOW and unit.low_since is None:
            unit.low_since = unit.anchor = at
            if self.active(unit):
                self.schedule_down(unit, at)
        elif rank >= _NOT_LOW and unit.low_since is not None:
            unit.low_since = None
            unit.down = None
        if self.active(unit):
            self.evaluate(unit, at)

    # --- events --------------------------------------------------------------------

    def begin(self, unit: _Unit, at: int, tier: int | None) -> None:
        limits = self.policy.limits
        if tier is not None and tier >= len(limits):
            raise InputError(
                f"Start.tier: {tier} at {_dt(at)}, but the rules then have {len(limits)} tiers"
            )
        unit.begun, unit.tier = True, tier or 0
        unit.rank = self.rank(unit)
        if unit.key is not None:
            self.ranks[unit.rank] += 1
        if unit.rank < _NOT_LOW:
            unit.low_since = unit.anchor = at
        if self.active(unit):
            unit.changes.append(self.change(unit.tier, TierCause.START, at, None))
            unit.log.track(_widths(self.policy), at)
            self.schedule_down(unit, at)
            self.evaluate(unit, at)
        portfolio = self.units.get(None)
        if unit.key is not None and portfolio is not None and portfolio.begun:
            self.rerank(portfolio, at)

    def rate(self, at: int, rating: Quality, number: str | None) -> None:
        if number is None:
            # A rating of the business is every number's, until a number's own next one.
            begun = sum(self.ranks)
            self.ranks = [0, 0, 0, 0]
            self.ranks[_RANK[rating]] = begun
            self.own.clear()
            self.default = rating
            affected = [u for u in self.units.values() if u.begun]
        else:
            self.ranks[_RANK[self.own.get(number, self.default)]] -= 1
            self.ranks[_RANK[rating]] += 1
            self.own[number] = rating
            affected = [self.units[number], self.units[None]]
        for unit in affected:
            if unit.begun:
                self.rerank(unit, at)

    def land(self, unit: _Unit, pending: object, at: int) -> None:
        if pending is unit.up and unit.up is not None:
            _, tier, cause, threshold = unit.up
            unit.up = None
            if self.active(unit):
                self.move(unit, tier, cause, at, threshold)
                self.evaluate(unit, at)
        elif pending is unit.down:
            unit.down = None
            if self.active(unit) and unit.tier > 0 and unit.low_since is not None:
                self.move(unit, unit.tier - 1, TierCause.DOWNGRADE, at)
                unit.anchor = at
                self.schedule_down(unit, at)

    def rules(self, at: int, new: TierPolicy) -> None:
        """Carry every sender over to the rules coming into force at ``at`` (docs/limits.md)."""
        old, self.policy = self.policy, new
        begun = [u for u in self.units.values() if u.begun]
        numbers = [u for u in begun if u.key is not None]
        portfolio = self.units.get(None)
        if old.scope == "number" and new.scope == "portfolio" and portfolio is not None:
            values = [old.limits[u.tier] for u in numbers] or [old.limits[portfolio.tier]]
            value = None if None in values else max(v for v in values if v is not None)
            portfolio.tier = _carry(value, new.limits)
            portfolio.changes = []
        elif old.scope == "portfolio" and new.scope == "number" and portfolio is not None:
            for unit in begun:
                unit.tier = _carry(old.limits[portfolio.tier], new.limits)
        elif old.limits != new.limits:
            for unit in begun:
                unit.tier = _carry(old.limits[unit.tier], new.limits)
        widths = _widths(new)
        for unit in self.units.values():
            unit.log.track(widths if self.active(unit) else [], at)
            unit.up = unit.down = None
            if self.active(unit):
                unit.changes.append(self.change(unit.tier, TierCause.RULES, at, None))
                if old.downgrade_after is None and unit.low_since is not None:
                    unit.anchor = max(unit.anchor, at)
                self.schedule_down(unit, at)
                self.evaluate(unit, at)

    def deliver(self, at: int, delivery: Delivery) -> None:
        if delivery.in_window and not self.policy.replies_in_window_count:
            return
        number = self.units[delivery.number]
        portfolio = self.units[None]
        number.log.add(at, delivery.recipient)
        portfolio.log.add(at, delivery.recipient)
        unit = portfolio if self.policy.scope == "portfolio" else number
        if unit.begun:
            self.evaluate(unit, at)

    def verify(self, at: int) -> None:
        self.verified = True
        for unit in list(self.units.values()):
            if self.active(unit):
                self.evaluate(unit, at)

    def run(
        self,
        events: list[tuple[int, int, object, object]],
        deliveries: list[tuple[int, Delivery]],
        until: int,
    ) -> None:
        """Every event and delivery up to ``until``, timers included, in time order."""
        for at, order, a, b in events:
            self.push(at, order, a, b)
        heap = self.heap
        i, count = 0, len(deliveries)
        while True:
            if heap and heap[0][0] <= until and (i == count or heap[0][0] <= deliveries[i][0]):
                at, order, _, a, b = heapq.heappop(heap)
                if order == _ORDER_RULES:
                    assert isinstance(a, TierPolicy)
                    self.rules(at, a)
                elif order == _ORDER_BEGIN:
                    assert isinstance(a, _Unit)
                    self.begin(a, at, b if isinstance(b, int) else None)
                elif order == _ORDER_QUALITY:
                    assert isinstance(a, QualityChange)
                    self.rate(at, a.rating, a.number)
                elif order == _ORDER_VERIFIED:
                    self.verify(at)
                else:
                    assert isinstance(a, _Unit)
                    self.land(a, b, at)
            elif i < count:
                at, delivery = deliveries[i]
                i += 1
                self.deliver(at, delivery)
            else:
                return


def replay_status(
    lookup: Callable[[datetime], TierPolicy],
    history: LimitHistory,
    instant: datetime,
    number: str | None,
) -> LimitStatus:
    """The status of ``number`` (or of the portfolio) at ``instant``: see ``messaging_limit``."""
    until = _us(instant)
    # Sorted once, on the datetimes (all UTC); what happened after the instant is cut.
    sent = sorted(history.deliveries, key=_AT)
    sent = sent[: bisect.bisect_right(sent, instant, key=_AT)]
    micros = [_us(d.at) for d in sent]
    deliveries = list(zip(micros, sent, strict=True))
    ratings = sorted(((_us(q.at), q) for q in history.quality if q.at <= instant), key=_KEY)
    first_seen: dict[str, int] = {}
    for moment, delivery in deliveries:
        first_seen.setdefault(delivery.number, moment)
    for moment, change in ratings:
        if change.number is not None and moment < first_seen.get(change.number, until + 1):
            first_seen[change.number] = moment
    starts = {s.number: (_us(s.at), s.tier) for s in history.starts if _us(s.at) <= until}
    for key, (moment, _) in starts.items():
        seen = min(first_seen.values(), default=until) if key is None else first_seen.get(key)
        if seen is not None and moment > seen:
            whose = "the business" if key is None else f"number {key[:40]!r}"
            raise InputError(
                f"starts: {whose} starts at {_dt(moment)}, after its event at {_dt(seen)}"
            )
    verified = history.verified_at
    verified_us = None if verified is None or _us(verified) > until else _us(verified)

    others = {until, *(m for m, _ in ratings), *(m for m, _ in starts.values())}
    if verified_us is not None:
        others.add(verified_us)
    points = [(m, _dt(m)) for m in sorted(others)]
    last = None
    for moment, delivery in deliveries:
        if moment != last:
            points.append((moment, delivery.at))
            last = moment
    points.sort(key=_KEY)  # two sorted runs: merged in linear time
    points = [p for i, p in enumerate(points) if not i or p[0] != points[i - 1][0]]
    segments = _timeline(lookup, points)
    replay = _Replay(segments, history)
    events: list[tuple[int, int, object, object]] = []

    def add(moment: int, order: int, a: object, b: object = None) -> None:
        events.append((moment, order, a, b))

    for moment, policy in segments[1:]:
        add(moment, _ORDER_RULES, policy)
    business = starts.get(None)
    add(
        points[0][0] if business is None else business[0],
        _ORDER_BEGIN,
        replay.unit(None),
        None if business is None else business[1],
    )
    keys = set(first_seen)
    keys.update(k for k in starts if k is not None)
    wanted = number
    if segments[-1][1].scope == "number" and number is None:
        if len(keys) > 1:
            listed = ", ".join(repr(n[:20]) for n in sorted(keys)[:5])
            raise InputError(
                f"number: the rules in force have number scope and the history has "
                f"{len(keys)} numbers ({listed}...); say which"
            )
        wanted = next(iter(keys), "")
    if business is not None and wanted is not None and segments[-1][1].scope == "number":
        keys.add(wanted)  # a number not seen yet has existed since the business began
    for key in sorted(keys):
        own = starts.get(key)
        if own is None and business is not None:
            own = business
        begin = own if own is not None else (first_seen[key], None)
        add(begin[0], _ORDER_BEGIN, replay.unit(key), begin[1])
    for moment, change in ratings:
        add(moment, _ORDER_QUALITY, change)
    if verified_us is not None:
        add(verified_us, _ORDER_VERIFIED, None)
    replay.run(events, deliveries, until)

    policy = replay.policy
    unit = replay.unit(None if policy.scope == "portfolio" else wanted)
    if not unit.begun:
        replay.begin(unit, until, None)
    pending: TierChange | None = None
    if unit.up is not None:
        moment, tier, cause, threshold = unit.up
        pending = replay.change(tier, cause, moment, threshold)
    elif unit.down is not None:
        pending = replay.change(unit.tier - 1, TierCause.DOWNGRADE, unit.down[0], None)
    return LimitStatus(
        at=_dt(until),
        version=policy.version,
        rule=RULE_OF_VERSION.get(policy.version, "B13"),
        scope=policy.scope,
        tier=unit.tier,
        limit=policy.limits[unit.tier],
        used=unit.log.used(until, policy.rolling_window // _MICRO),
        quality=replay.rating(unit),
        next=pending,
        changes=tuple(unit.changes),
    )
