"""Stricter rules by the recipient's number (P12): which apply, and when they allow a send.

A channel's ``regions`` (:attr:`~omnimsg.channels.capabilities.ChannelCapabilities.
regions`) name areas told by a phone number: its country calling code and the
leading digits of its national number (in the US, the area code: the first three
digits of the national number). A recipient in a region gets the region's quiet
hours instead of the channel's (X2: in the recipient's local time) and at most the
region's ``frequency_cap`` messages in any window of its period, on top of the
draft's own cap (X4): both hold, so the stricter wins.

:func:`matching_regions` finds the rules of one number (the dispatcher's re-check);
:class:`RegionHours` gives the planner, for a recipient, the instants a message may
go over a whole plan, with the rules in force on each instant's date (a rule that
starts within a plan's 7 days applies from its first day on). This module reads no
clock and does no I/O; phone numbers are expected in E.164 form (or a WhatsApp id,
its digits).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import NamedTuple

import phonenumbers

from omnimsg.broadcasts.lanes import (
    Intervals,
    QuietCalendar,
    from_micros,
    micros_of,
    to_micros,
)
from omnimsg.broadcasts.model import Draft
from omnimsg.channels.capabilities import (
    ChannelCapabilities,
    FrequencyLimit,
    QuietHours,
    RegionRule,
)
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile
from omnimsg.channels.schema import DatedEntry, instant_of
from omnimsg.errors import ConfigurationError, InputError
from omnimsg.phones import phone_region

__all__ = [
    "Matched",
    "RegionHours",
    "RegionPeriod",
    "cap_start",
    "matching_regions",
    "region_periods",
]

_MAX_CACHED = 100_000


class _Table:
    """The rules of one ``regions`` mapping, looked up by a number's leading digits."""

    __slots__ = ("countries", "lengths", "national", "prefixes", "rules")

    def __init__(self, rules: Mapping[str, RegionRule]) -> None:
        self.rules = rules
        self.prefixes: dict[str, list[str]] = {}
        self.countries: dict[str, list[str]] = {}
        for name in sorted(rules):
            rule = rules[name]
            country = rule.country.upper()
            code = phonenumbers.country_code_for_region(country)
            if not code:
                raise ConfigurationError(
                    f"regions.{name}: country {rule.country[:10]!r} is not an ISO 3166 "
                    "region with a calling code"
                )
            if not rule.area_codes:
                self.countries.setdefault(country, []).append(name)
            for area in sorted(rule.area_codes):
                self.prefixes.setdefault(f"{code}{area}", []).append(name)
        self.lengths = tuple(sorted({len(prefix) for prefix in self.prefixes}))
        self.national = tuple(sorted({rules[name].country.upper() for name in rules}))

    def _forms(self, number: str, digits: str) -> list[str]:
        """``digits`` and, for a number written without ``+``, the international digits
        it has as a national number of a country of the rules (``3055550100`` in the
        US is ``13055550100``)."""
        forms = [digits]
        if number.startswith("+"):
            return forms
        for country in self.national:
            try:
                parsed = phonenumbers.parse(digits, country)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                full = f"{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"
                if full not in forms:
                    forms.append(full)
        return forms

    def match(self, number: str) -> tuple[str, ...]:
        """The names of the regions ``number`` is in, sorted."""
        digits = number[1:] if number.startswith("+") else number
        if not digits.isascii() or not digits.isdigit():
            return ()
        if len(digits) > 20:
            return ()
        names: list[str] = []
        for form in self._forms(number, digits):
            for length in self.lengths:
                if len(form) > length:
                    found = self.prefixes.get(form[:length])
                    if found is not None:
                        names.extend(found)
            if self.countries:
                region = phone_region("+" + form)
                if region is not None:
                    names.extend(self.countries.get(region, ()))
        return tuple(sorted(set(names))) if len(names) > 1 else tuple(names)


_TABLES: dict[int, _Table] = {}


def _table(rules: Mapping[str, RegionRule]) -> _Table:
    """The lookup table of a mapping (kept per mapping: a profile resolves each once)."""
    found = _TABLES.get(id(rules))
    if found is None or found.rules is not rules:
        if len(_TABLES) >= 256:
            _TABLES.clear()
        found = _TABLES[id(rules)] = _Table(rules)
    return found


def matching_regions(
    regions: Mapping[str, RegionRule], number: str
) -> tuple[tuple[str, RegionRule], ...]:
    """The region rules ``number`` falls under, by name (P12).

    A number is in a region when its country calling code is that of the rule's
    ``country`` and its national number begins with one of the rule's
    ``area_codes`` (a rule without area codes takes the whole country). ``number``
    is E.164 (``+13055550100``) or its digits; anything else is in no region.
    Raises :class:`~omnimsg.errors.ConfigurationError` for a rule whose country has
    no calling code.
    """
    if not isinstance(regions, Mapping) or not all(
        isinstance(name, str) and isinstance(rule, RegionRule) for name, rule in regions.items()
    ):
        raise InputError("regions: expected a mapping of region name to RegionRule")
    if not isinstance(number, str) or not regions:
        return ()
    table = _table(regions)
    return tuple((name, regions[name]) for name in table.match(number))


class RegionPeriod(NamedTuple):
    """The region rules in force from ``start`` to ``end`` (microseconds since the epoch)."""

    start: int
    end: int
    rules: Mapping[str, RegionRule]


def _changes(profile: Profile, kind: ChannelKind) -> list[int]:
    """The instants a region rule of ``kind`` starts or ends, sorted."""
    spec = profile.spec.channels.get(kind)
    found: set[int] = set()
    if spec is None:
        return []
    for value in spec.regions.values():
        if not isinstance(value, list):
            continue
        for entry in value:
            if not isinstance(entry, DatedEntry):
                continue
            for bound in (entry.effective_from, entry.effective_to):
                if bound is not None:
                    found.add(to_micros(instant_of(bound)))
    return sorted(found)


def region_periods(
    profile: Profile,
    kind: ChannelKind,
    caps: ChannelCapabilities,
    *,
    origin: int,
    horizon: int,
    lo: int,
    hi: int,
) -> tuple[RegionPeriod, ...]:
    """The region rules of ``kind`` over ``[lo, hi)``, split where a rule starts or ends
    between ``origin`` and ``horizon`` (a plan's 7 days); empty when no rule is ever in
    force there.

    ``caps`` are the channel's capabilities at ``origin``; a later part is resolved
    from ``profile`` at its first instant (raising what
    :meth:`~omnimsg.channels.registry.Profile.capabilities` raises there).
    """
    edges = [lo, *(at for at in _changes(profile, kind) if origin < at < horizon), hi]
    periods: list[RegionPeriod] = []
    for start, end in itertools.pairwise(edges):
        rules = (
            caps.regions
            if start == lo
            else profile.capabilities(kind, as_of=from_micros(start)).regions
        )
        periods.append(RegionPeriod(start, end, rules))
    if not any(period.rules for period in periods):
        return ()
    return tuple(periods)


Matched = tuple[tuple[int, int, tuple[RegionRule, ...]], ...]
"""The rules a number falls under in each part of a plan: ``(start, end, rules)``,
adjacent parts with the same rules joined."""


def _clip(starts: Sequence[int], ends: Sequence[int], lo: int, hi: int) -> list[tuple[int, int]]:
    """The parts of the intervals ``(starts, ends)`` inside ``[lo, hi)``."""
    out: list[tuple[int, int]] = []
    i = bisect.bisect_right(ends, lo)
    while i < len(starts) and starts[i] < hi:
        start, end = max(starts[i], lo), min(ends[i], hi)
        if start < end:
            out.append((start, end))
        i += 1
    return out


def cap_start(earlier: Sequence[int], limit: FrequencyLimit, count: int, since: int) -> int | None:
    """The first instant from ``since`` on after which ``count`` more messages keep every
    window of ``limit.period`` within ``limit.messages``, counting the ``earlier``
    messages (microseconds, sorted); ``None`` when ``count`` alone is over the limit.

    Every earlier message after the returned instant less the period is counted as if
    it shared a window with each new one, so the answer never allows too many.
    """
    if (
        not isinstance(limit, FrequencyLimit)
        or isinstance(count, bool)
        or not isinstance(count, int)
        or isinstance(since, bool)
        or not isinstance(since, int)
        or isinstance(earlier, str | bytes)
        or not isinstance(earlier, Sequence)
    ):
        raise InputError(
            "cap_start: expected earlier instants, a FrequencyLimit, a count and an instant"
        )
    room = limit.messages - count
    if room < 0:
        return None
    period = micros_of(limit.period)
    relevant = len(earlier) - bisect.bisect_right(earlier, since - period)
    if relevant <= room:
        return since
    # The (room + 1)-th latest must leave the window: once it has, room are left.
    return max(since, earlier[len(earlier) - room - 1] + period)


class RegionHours:
    """When a recipient in a region may get marketing over one plan (P12 with X2, X4).

    Built once per channel and plan from :func:`region_periods`. For a recipient,
    :meth:`match` finds the rules its number falls under in each part of the plan,
    and :meth:`allowed` the instants a message may go: within the region's quiet
    hours (the channel's where no region rule names any) and the draft's, in every
    zone the recipient may be in, and late enough that its earlier messages and the
    broadcast's stay within each region's frequency cap. Quiet hours are cached per
    zones and rules; caps are applied per recipient.
    """

    def __init__(
        self,
        periods: Sequence[RegionPeriod],
        *,
        calendar: QuietCalendar,
        origin: int,
        channel_quiet: QuietHours | None,
        draft_quiet: QuietHours | None,
    ) -> None:
        self._periods = [(p.start, p.end, p.rules, _table(p.rules)) for p in periods]
        self._calendar = calendar
        self._origin = origin
        self._channel_quiet = channel_quiet
        self._draft_quiet = draft_quiet
        whole_country = any(table.countries for _, _, _, table in self._periods)
        lengths = [length for _, _, _, table in self._periods for length in table.lengths]
        # Leading digits decide a match unless a rule takes a whole country.
        self._key_length = None if whole_country or not lengths else max(lengths)
        self._matches: dict[str, Matched | None] = {}
        self._spans: dict[tuple[tuple[tzinfo, ...], Matched], list[tuple[int, int]]] = {}

    @classmethod
    def of(
        cls,
        profile: Profile,
        caps: ChannelCapabilities,
        draft: Draft,
        *,
        calendar: QuietCalendar,
        origin: int,
        horizon: int,
    ) -> RegionHours | None:
        """The region hours of ``caps``' channel (as of ``origin``) over a plan from
        ``origin`` to ``horizon`` whose quiet hours ``calendar`` reads; ``None`` when
        no region rule is in force in the plan."""
        periods = region_periods(
            profile,
            caps.kind,
            caps,
            origin=origin,
            horizon=horizon,
            lo=calendar.start,
            hi=calendar.end,
        )
        if not periods:
            return None
        return cls(
            periods,
            calendar=calendar,
            origin=origin,
            channel_quiet=caps.quiet_hours,
            draft_quiet=draft.quiet_hours,
        )

    def match(self, number: str) -> Matched | None:
        """The rules ``number`` falls under over the plan; ``None`` when it is in no
        region at any time of it."""
        digits = number[1:] if number.startswith("+") else number
        length = self._key_length
        if length is None or len(digits) <= length or not (digits.isascii() and digits.isdigit()):
            return self._match(number)
        key = digits[:length]
        if key in self._matches:
            return self._matches[key]
        found = self._match(number)
        if len(self._matches) < _MAX_CACHED:
            self._matches[key] = found
        return found

    def _match(self, number: str) -> Matched | None:
        parts: list[tuple[int, int, tuple[RegionRule, ...]]] = []
        for start, end, rules, table in self._periods:
            found = tuple(rules[name] for name in table.match(number))
            if parts and parts[-1][2] == found:
                parts[-1] = (parts[-1][0], end, found)
            else:
                parts.append((start, end, found))
        return tuple(parts) if any(rules for _, _, rules in parts) else None

    def allowed(
        self,
        zones: tuple[tzinfo, ...],
        matched: Matched,
        earlier: Sequence[int],
        count: int,
    ) -> tuple[Intervals, bool]:
        """The instants ``count`` messages may go to a recipient in ``zones`` whose
        number falls under ``matched``, after its ``earlier`` messages (microseconds,
        sorted; ``count`` 0 for a prompt, which no cap counts); and whether a
        frequency cap took any time away."""
        key = (zones, matched)
        spans = self._spans.get(key)
        if spans is None:
            spans = []
            for start, end, rules in matched:
                hours = tuple(r.quiet_hours for r in rules if r.quiet_hours is not None)
                if not hours and self._channel_quiet is not None:
                    hours = (self._channel_quiet,)
                if self._draft_quiet is not None:
                    hours += (self._draft_quiet,)
                starts, ends = self._calendar.allowed(zones, hours)
                spans.extend(_clip(starts, ends, start, end))
            if len(self._spans) < _MAX_CACHED:
                self._spans[key] = spans
        capped = False
        if count:
            for start, end, rules in matched:
                since = max(start, self._origin)
                first = since
                for rule in rules:
                    if rule.frequency_cap is not None:
                        at = cap_start(earlier, rule.frequency_cap, count, since)
                        first = end if at is None else max(first, at)
                if first > since:
                    capped = True
                    spans = _from(spans, start, end, first)
        return (tuple(lo for lo, _ in spans), tuple(hi for _, hi in spans)), capped


def _from(spans: list[tuple[int, int]], start: int, end: int, first: int) -> list[tuple[int, int]]:
    """``spans`` with the part of ``[start, end)`` before ``first`` taken away."""
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if start <= lo < end:
            if hi <= first:
                continue
            lo = max(lo, first)
        out.append((lo, hi))
    return out
