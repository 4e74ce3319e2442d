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
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from omnimsg._time import MAX_DURATION
from omnimsg.channels.capabilities import ChannelCapabilities, TierPolicy
from omnimsg.errors import CallbackError, ConfigurationError, InputError, OmnimsgError
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

__all__ = ["lookup_of", "replay_status"]

_RANK = {Quality.FLAGGED: 0, Quality.LOW: 1, Quality.UNKNOWN: 2, Quality.MEDIUM: 2, Quality.HIGH: 3}
_NOT_LOW = 2
_HIGH = 3

# --- rules and instants ------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_CHECKED: dict[TierPolicy, None] = {}
_ORDER_RULES, _ORDER_BEGIN, _ORDER_QUALITY, _ORDER_VERIFIED, _ORDER_TIMER = range(5)


def _us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICRO


def _dt(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _span(policy: TierPolicy, name: str, value: timedelta, *, positive: bool = False) -> int:
    if value < timedelta(0) or value > MAX_DURATION or (positive and not value):
        raise ConfigurationError(
            f"TierPolicy.{name}: expected a duration {'above' if positive else 'from'} 0 "
            f"up to {MAX_DURATION.days} days, got {value}"
        )
    return value // _MICRO


def _checked(policy: TierPolicy) -> TierPolicy:
    """``policy`` if the engine can apply it; ConfigurationError naming what is wrong."""
    if policy in _CHECKED:
        return policy
    limits = policy.limits
    finite = [limit for limit in limits if limit is not None]
    if (
        not limits
        or any(limit is None for limit in limits[:-1])
        or any(limit < 1 for limit in finite)
        or any(a >= b for a, b in itertools.pairwise(finite))
    ):
        raise ConfigurationError(
            "TierPolicy.limits: expected rising whole numbers >= 1, then optionally None "
            f"(unlimited), got {limits[:8]!r}"
        )
    if policy.scope not in ("number", "portfolio"):
        raise ConfigurationError(
            f"TierPolicy.scope: expected 'number' or 'portfolio', got {policy.scope[:40]!r}"
        )
    if policy.verified_tier is not None and not 0 <= policy.verified_tier < len(limits):
        raise ConfigurationError(
            f"TierPolicy.verified_tier: {policy.verified_tier} is not a tier of {len(limits)}"
        )
    if not 0 <= policy.upgrade_factor <= 1e6:
        raise ConfigurationError(f"TierPolicy.upgrade_factor: {policy.upgrade_factor} is not >= 0")
    _span(policy, "rolling_window", policy.rolling_window, positive=True)
    _span(policy, "upgrade_lookback", policy.upgrade_lookback, positive=True)
    _span(policy, "first_upgrade_period", policy.first_upgrade_period, positive=True)
    _span(policy, "upgrade_delay", policy.upgrade_delay)
    if policy.downgrade_after is not None:
        _span(policy, "downgrade_after", policy.downgrade_after, positive=True)
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED[policy] = None
    return policy


def lookup_of(policy_at: object) -> Callable[[datetime], TierPolicy]:
    """The rules at an instant, checked, from what the caller passed as ``policy_at``."""
    if isinstance(policy_at, TierPolicy):
        fixed = _checked(policy_at)
        return lambda _instant: fixed
    if isinstance(policy_at, type) or not callable(policy_at):
        raise InputError(
            "policy_at: expected a TierPolicy or a function of the instant returning one, "
            f"got {type(policy_at).__name__}"
        )
    call: Callable[[datetime], object] = policy_at

    def lookup(instant: datetime) -> TierPolicy:
        try:
            found = call(instant)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise CallbackError("policy_at", exc) from exc
        if isinstance(found, ChannelCapabilities):
            found = found.tiers
        if found is None:
            raise ConfigurationError(f"policy_at: no messaging tiers in force at {instant}")
        if not isinstance(found, TierPolicy):
            raise InputError(
                f"policy_at: expected it to return a TierPolicy, got {type(found).__name__}"
            )
        return _checked(found)

    return lookup


def _timeline(
    lookup: Callable[[datetime], TierPolicy], instants: list[int]
) -> list[tuple[int, TierPolicy]]:
    """The rules at each of ``instants`` (sorted), as ``(from, rules)`` segments: a change
    between two instants is found to the microsecond by bisection."""
    first = lookup(_dt(instants[0]))
    segments = [(instants[0], first)]
    previous = instants[0]
    for instant in instants[1:]:
        found = lookup(_dt(instant))
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
    """Counted deliveries of one sender in time order, with the number of distinct
    recipients in two trailing windows (the upgrade lookback, the first-upgrade
    period), each kept by a moving head: linear in the deliveries."""

    __slots__ = ("counts", "heads", "keep", "times", "who", "widths")

    def __init__(self, keep: int, widths: list[int]) -> None:
        self.times: list[int] = []
        self.who: list[str] = []
        self.keep = keep
        self.widths = widths
        self.heads = [0] * len(widths)
        self.counts: list[dict[str, int]] = [{} for _ in widths]

    def add(self, at: int, recipient: str) -> None:
        self.times.append(at)
        self.who.append(recipient)
        for i, counts in enumerate(self.counts):
            counts[recipient] = counts.get(recipient, 0) + 1
            self._advance(i, at)
        if len(self.times) > 8192 and len(self.times) % 4096 == 0:
            drop = min(*self.heads, bisect.bisect_right(self.times, at - self.keep))
            if drop * 2 > len(self.times):
                del self.times[:drop], self.who[:drop]
                self.heads = [head - drop for head in self.heads]

    def _advance(self, i: int, now: int) -> None:
        times, counts, head = self.times, self.counts[i], self.heads[i]
        cutoff = now - self.widths[i]
        while head < len(times) and times[head] <= cutoff:
            recipient = self.who[head]
            left = counts[recipient] - 1
            if left:
                counts[recipient] = left
            else:
                del counts[recipient]
            head += 1
        self.heads[i] = head

    def distinct(self, i: int, now: int) -> int:
        """Distinct recipients in the window ``i`` ending at ``now`` (not before the last)."""
        self._advance(i, now)
        return len(self.counts[i])

    def resize(self, widths: list[int], now: int) -> None:
        """New window widths (a change of rules): the windows are counted afresh."""
        for i, width in enumerate(widths):
            if width != self.widths[i]:
                self.widths[i] = width
                head = bisect.bisect_right(self.times, now - width)
                counts: dict[str, int] = {}
                for recipient in self.who[head:]:
                    counts[recipient] = counts.get(recipient, 0) + 1
                self.heads[i], self.counts[i] = head, counts

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
    return [policy.upgrade_lookback // _MICRO, policy.first_upgrade_period // _MICRO]


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
            found = self.units[key] = _Unit(key, _Log(self.keep, _widths(self.policy)))
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
        ok = rank >= (_HIGH if policy.quality_required == "high" else _NOT_LOW)
        if not ok:
            unit.up = None
            return
        lifted = policy.verified_tier
        if lifted is not None and unit.tier < lifted:
            if self.verified:
                unit.up = None
                self.move(unit, lifted, TierCause.VERIFIED, at)
            else:
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
            unit.log.resize(widths, at)
            unit.up = unit.down = None
            if unit.begun and self.active(unit):
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
        events: list[tuple[int, int, int, object, object]],
        deliveries: list[tuple[int, Delivery]],
        until: int,
    ) -> None:
        """Every event and delivery up to ``until``, timers included, in time order."""
        for event in events:
            heapq.heappush(self.heap, event)
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

    deliveries = sorted(
        ((_us(d.at), d) for d in history.deliveries if _us(d.at) <= until), key=_first
    )
    ratings = [(_us(q.at), q) for q in history.quality if _us(q.at) <= until]
    first_seen: dict[str, int] = {}
    for moment, key in itertools.chain(
        ((m, d.number) for m, d in deliveries), ((m, q.number) for m, q in ratings)
    ):
        if key is not None and moment < first_seen.get(key, until + 1):
            first_seen[key] = moment
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

    instants = {until, *first_seen.values(), *(m for m, _ in ratings)}
    instants.update(m for m, _ in starts.values())
    instants.update(m for m, _ in deliveries)
    if verified_us is not None:
        instants.add(verified_us)
    ordered = sorted(instants)
    segments = _timeline(lookup, ordered)
    replay = _Replay(segments, history)
    events: list[tuple[int, int, int, object, object]] = []

    def add(moment: int, order: int, a: object, b: object = None) -> None:
        events.append((moment, order, len(events), a, b))

    for moment, policy in segments[1:]:
        add(moment, _ORDER_RULES, policy)
    business = starts.get(None)
    add(
        ordered[0] if business is None else business[0],
        _ORDER_BEGIN,
        replay.unit(None),
        None if business is None else business[1],
    )
    wanted = number
    if segments[-1][1].scope == "number" and number is None:
        if len(first_seen) > 1:
            shown_numbers = ", ".join(repr(n[:20]) for n in sorted(first_seen)[:5])
            raise InputError(
                f"number: the rules in force have number scope and the history has "
                f"{len(first_seen)} numbers ({shown_numbers}...); say which"
            )
        wanted = next(iter(first_seen), "")
    keys = set(first_seen)
    keys.update(k for k in starts if k is not None)
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
        replay.begin(unit, until, None if business is None else business[1])
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


def _first(item: tuple[int, Delivery]) -> int:
    return item[0]
