"""A profile's dated rules laid out in time: every setting's periods, and the view of one day.

This module owns the timeline of a channel (SPEC section 7, P1-P16): it reads a
validated :class:`~omnimsg.channels.registry.Profile` and says, for every setting,
which value was in force from when to when and on whose word, what was in force at
an instant, what changed last before it and what changes next, and the Markdown page
of a whole profile (``docs/platform-rules.md``). It reads the profile's data, never
the resolved capabilities, so the two views of one fact cannot disagree: the
registry resolves the same entries (a test compares them).

It is pure: no I/O, no clock; the instant comes in. Values come out as plain data
fit for JSON (durations ``"24h"``, times ``"08:00"``), copied, so changing them
changes nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any

import attrs
from pydantic import BaseModel

from omnimsg._convert import to_sequence_of
from omnimsg._time import duration_text, require_instant
from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.channels.registry import Profile
from omnimsg.channels.schema import ChannelSpec, ContentSpec, DatedEntry, TierSpec, instant_of
from omnimsg.errors import InputError, UnknownChannelError

__all__ = [
    "ChannelTimeline",
    "RuleChange",
    "RulePeriod",
    "RulesView",
    "channel_timeline",
    "instant_text",
    "platform_rules_markdown",
    "rules_as_of",
    "value_text",
]

# Parts of a channel whose own fields are settings (``content.text_max``).
_GROUPS = (ContentSpec, TierSpec)
# Tables whose items are settings of their own, each dated as a whole (``regions.US-FL``).
_KEYED = frozenset({"regions"})
# What a channel says about its settings; not settings themselves.
_META = frozenset({"sources", "uncertain"})
_RETIRED = "retired"

_PLATFORM_NAMES: Mapping[ChannelKind, str] = {
    ChannelKind.WHATSAPP: "WhatsApp",
    ChannelKind.MESSENGER: "Messenger",
    ChannelKind.INSTAGRAM: "Instagram",
    ChannelKind.VIBER: "Viber",
    ChannelKind.WECHAT: "WeChat",
    ChannelKind.TELEGRAM: "Telegram",
    ChannelKind.LINE: "LINE",
    ChannelKind.WEBCHAT: "Web chat",
    ChannelKind.SMS: "SMS",
    ChannelKind.EMAIL: "E-mail",
    ChannelKind.GOOGLE_BUSINESS: "Google Business Messages",
    ChannelKind.VK: "VK",
}
"""How each platform is named in headings."""


@attrs.frozen
class RulePeriod:
    """One value of one setting and the span in which it is in force (SPEC section 7).

    Attributes:
        setting: the setting's dotted path: ``"window_outbound_cap"``,
            ``"content.text_max"``, ``"tiers.limits"``, ``"regions.US-FL"``, ``"keywords"``.
        start: the first instant in force (inclusive); ``None``: no start, always.
        end: the first instant no longer in force (exclusive); ``None``: open.
        value: the value as plain data fit for JSON: durations ``"24h"``/``"7d"``,
            times ``"08:00"``, enumerations their values, tables objects (a mapping's
            keys sorted), ``None`` for none.
        source: where the value comes from: the dated entry's source, else the
            channel's ``sources`` joined by ``"; "``; ``None`` when there is none.
        uncertain: sources disagree, or only a third party states it ((u) in SPEC).
        default: the profile does not state this setting and the value is the file
            format's default (``templates`` unset means "where ``after_window`` is
            ``template``", as the registry derives it).
    """

    setting: str
    start: datetime | None
    end: datetime | None
    value: Any = attrs.field(hash=False)  # lists and tables: equal, not hashed
    source: str | None
    uncertain: bool
    default: bool = False

    def covers(self, at: datetime) -> bool:
        """Whether this value is in force at the aware instant ``at``."""
        at = require_instant(at, "at")
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


@attrs.frozen
class RuleChange:
    """One setting changing at one instant: from ``before`` to ``after``.

    ``before`` is ``None`` when the setting had no value until ``at`` (a rule that
    starts then, such as a region's); ``after`` is ``None`` when it has none from ``at``.
    """

    setting: str
    at: datetime
    before: RulePeriod | None
    after: RulePeriod | None

    @property
    def value_changed(self) -> bool:
        """Whether the value differs (a new entry may only bring a new source or certainty)."""
        if self.before is None or self.after is None:
            return True
        return bool(self.before.value != self.after.value)


@attrs.frozen
class RulesView:
    """The rules of one channel in force at one instant, and the changes around it.

    Attributes:
        profile: the profile's name.
        kind: the channel kind.
        at: the instant, in UTC.
        rules: every setting's period in force at ``at``, in setting order (a
            setting with no value then, such as a region before its law, is absent).
        last_change: every change at the latest instant at or before ``at`` (a
            change at ``at`` itself is in force); empty when nothing changed before.
        next_change: every change at the earliest instant after ``at``; empty when
            none is known.
        retired: the ``retired`` period in force when it says the channel is retired.
    """

    profile: str
    kind: ChannelKind
    at: datetime
    rules: tuple[RulePeriod, ...]
    last_change: tuple[RuleChange, ...]
    next_change: tuple[RuleChange, ...]
    retired: RulePeriod | None

    @property
    def last_change_at(self) -> datetime | None:
        """When the rules last changed at or before ``at``; ``None`` if never."""
        return self.last_change[0].at if self.last_change else None

    @property
    def next_change_at(self) -> datetime | None:
        """When the rules next change after ``at``; ``None`` if no change is known."""
        return self.next_change[0].at if self.next_change else None


def _changes(periods: tuple[RulePeriod, ...]) -> tuple[RuleChange, ...]:
    """Every instant a setting's value starts or ends, sorted by instant then setting."""
    order = {setting: i for i, setting in enumerate(dict.fromkeys(p.setting for p in periods))}
    by_setting: dict[str, list[RulePeriod]] = {}
    for period in periods:
        by_setting.setdefault(period.setting, []).append(period)
    changes: list[RuleChange] = []
    for setting, group in by_setting.items():
        ending = {p.end: p for p in group if p.end is not None}
        starting = {p.start: p for p in group if p.start is not None}
        for at in sorted(ending.keys() | starting.keys()):
            changes.append(RuleChange(setting, at, ending.get(at), starting.get(at)))
    changes.sort(key=lambda c: (c.at, order[c.setting]))
    return tuple(changes)


def _rule_periods(value: object) -> tuple[RulePeriod, ...]:
    return to_sequence_of(value, RulePeriod, "periods")


@attrs.frozen
class ChannelTimeline:
    """Every setting of one channel of a profile with each of its periods.

    Build it with :func:`channel_timeline`. ``periods`` are in setting order (the
    order of the file format's fields, a region's items by name) and, within a
    setting, by start; ``changes`` are derived from them.

    Attributes:
        profile: the profile's name.
        kind: the channel kind.
        periods: every period of every setting.
        sources: the channel's own ``sources``.
        changes: every change, sorted by instant, then setting order.
    """

    profile: str
    kind: ChannelKind
    periods: tuple[RulePeriod, ...] = attrs.field(converter=_rule_periods)
    sources: tuple[str, ...] = ()
    changes: tuple[RuleChange, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "changes", _changes(self.periods))

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings' dotted paths, in order."""
        return tuple(dict.fromkeys(p.setting for p in self.periods))

    def periods_of(self, setting: str) -> tuple[RulePeriod, ...]:
        """The periods of one setting, by start; empty for a setting the channel lacks."""
        return tuple(p for p in self.periods if p.setting == setting)

    @property
    def retirement(self) -> RulePeriod | None:
        """The first period in which the channel is retired (``retired`` true); ``None``
        if it never is. Its ``start`` is the date of retirement (``None``: always)."""
        return next((p for p in self.periods_of(_RETIRED) if p.value is True), None)

    def as_of(self, as_of: date | datetime) -> RulesView:
        """The rules in force at ``as_of`` (an aware datetime, or a date: 00:00 UTC).

        Raises:
            NaiveDatetimeError: ``as_of`` is a naive datetime.
            InputError: ``as_of`` is neither a date nor a datetime, or lies outside
                years 1-9999 in UTC.
        """
        at = _instant(as_of)
        last = max((c.at for c in self.changes if c.at <= at), default=None)
        following = min((c.at for c in self.changes if c.at > at), default=None)
        rules = tuple(p for p in self.periods if p.covers(at))
        retired = next((p for p in rules if p.setting == _RETIRED and p.value is True), None)
        return RulesView(
            profile=self.profile,
            kind=self.kind,
            at=at,
            rules=rules,
            last_change=tuple(c for c in self.changes if c.at == last),
            next_change=tuple(c for c in self.changes if c.at == following),
            retired=retired,
        )


def _instant(as_of: object) -> datetime:
    if isinstance(as_of, datetime):
        return require_instant(as_of, "as_of")
    if isinstance(as_of, date):
        return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    kind = "None" if as_of is None else type(as_of).__name__
    raise InputError(f"as_of: expected an aware datetime or a date, got {kind}")


def _plain(value: Any) -> Any:
    """``value`` as plain data fit for JSON (see :attr:`RulePeriod.value`)."""
    if isinstance(value, Enum):
        return _plain(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() else value
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(key): _plain(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, frozenset | set):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def _is_dated(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], DatedEntry)


def _settings(model: BaseModel, prefix: str) -> Iterator[tuple[str, Any, bool]]:
    """``(path, value, stated)`` for every setting of a channel spec, in field order."""
    for name in type(model).model_fields:
        if not prefix and name in _META:
            continue
        value = getattr(model, name)
        path = prefix + name
        if isinstance(value, _GROUPS):
            yield from _settings(value, f"{path}.")
        elif not prefix and name in _KEYED and isinstance(value, dict) and value:
            for key in sorted(value):
                yield f"{path}.{key}", value[key], True
        else:
            yield path, value, name in model.model_fields_set


def _periods(spec: ChannelSpec) -> Iterator[RulePeriod]:
    channel_source = "; ".join(spec.sources) or None
    flagged = set(spec.uncertain)
    for path, value, stated in _settings(spec, ""):
        if not _is_dated(value):
            source = channel_source if stated else None
            yield RulePeriod(path, None, None, _plain(value), source, path in flagged, not stated)
            continue
        entries: list[DatedEntry[Any]] = value
        periods = [
            RulePeriod(
                path,
                None if e.effective_from is None else instant_of(e.effective_from),
                None if e.effective_to is None else instant_of(e.effective_to),
                _plain(e.value),
                e.source or channel_source,
                e.uncertain or path in flagged,
            )
            for e in entries
        ]
        lo = datetime.min.replace(tzinfo=UTC)
        yield from sorted(periods, key=lambda p: lo if p.start is None else p.start)


def channel_timeline(profile: Profile, kind: str | ChannelKind) -> ChannelTimeline:
    """Every setting's periods of channel ``kind`` under ``profile`` (SPEC section 7).

    A setting given plainly is one period with no start and no end, its source the
    channel's ``sources``; a dated one has a period per entry. Settings the profile
    does not state are included with ``default`` true.

    Raises:
        InputError: ``profile`` is not a :class:`~omnimsg.channels.registry.Profile`.
        UnknownChannelError: ``kind`` is not a channel kind, or the profile does
            not define it.
    """
    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
    parsed = parse_channel_kind(kind)
    spec = profile.spec.channels.get(parsed)
    if spec is None:
        defined = ", ".join(k.value for k in profile.kinds) or "none"
        raise UnknownChannelError(
            f"profile {profile.name!r} does not define channel {parsed.value!r}; "
            f"it defines: {defined}"
        )
    return ChannelTimeline(profile.name, parsed, tuple(_periods(spec)), tuple(spec.sources))


def rules_as_of(profile: Profile, kind: str | ChannelKind, as_of: date | datetime) -> RulesView:
    """The rules of ``kind`` under ``profile`` in force at ``as_of``, with the changes
    around it: ``channel_timeline(profile, kind).as_of(as_of)``.

    Raises:
        InputError, UnknownChannelError: as :func:`channel_timeline`.
        NaiveDatetimeError: ``as_of`` is a naive datetime.
    """
    return channel_timeline(profile, kind).as_of(as_of)


def instant_text(at: datetime | None) -> str:
    """An instant in words: ``2023-11-01`` at 00:00 UTC, else ISO 8601 in UTC; ``-`` for none."""
    if at is None:
        return "-"
    utc = require_instant(at, "at")
    if utc.time() == time(0):
        return utc.date().isoformat()
    return utc.isoformat()


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:,}"


def _text(value: Any, nested: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return value if value.strip() else repr(value)
    if isinstance(value, list):
        # In a list of limits (tiers), none is the tier without a limit.
        return (
            " / ".join("unlimited" if item is None else _text(item, True) for item in value) or "-"
        )
    if isinstance(value, Mapping):
        if not value:
            return "-"
        inner = "; ".join(f"{key}: {_text(item, True)}" for key, item in value.items())
        return "{" + inner + "}" if nested else inner
    return str(value)


def value_text(value: Any) -> str:
    """A :attr:`RulePeriod.value` in words: ``-`` for none, ``yes``/``no``, ``4,096``, lists
    joined by `` / `` (none in a list: ``unlimited``), tables as ``key: value; key: value``."""
    return _text(value, False)


# Markdown -------------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")
# What would open a list or a block at the start of a line: "-", "+", "=", "1." or "1)".
_BLOCK_START = re.compile(r"(?:[-+=]|[0-9]{1,9}(?=[.)]))")
_URL = re.compile(r"https?://[^\s\x00-\x20\x7f-\x9f<>|\\\"'`]+")


def _visible(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _md_text(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _visible(text))


def _md_inline(markdown: str) -> str:
    """``markdown`` (already escaped) made safe to start a line or a list item."""
    markdown = markdown.strip()
    start = _BLOCK_START.match(markdown)
    if start is None:
        return markdown
    end = start.end()
    if markdown[:1].isdigit():  # escape the "." or ")" after the number
        return f"{markdown[:end]}\\{markdown[end:]}"
    return f"\\{markdown}"


def _md_code(text: str) -> str:
    """``text`` as a code span inside a table cell (pipes escaped, as GFM tables need)."""
    shown = _visible(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _url_end(url: str) -> str:
    """``url`` without the punctuation that ends the sentence around it."""
    opens, closes = url.count("("), url.count(")")
    end = len(url)
    while end:
        last = url[end - 1]
        if last == ")" and closes > opens:
            closes -= 1
        elif last not in ".,;:!?":
            break
        end -= 1
    return url[:end]


def _md_source(source: str | None) -> str:
    """A source in a table cell, each URL in it a link."""
    if not source:
        return ""
    parts: list[str] = []
    pos = 0
    for match in _URL.finditer(source):
        url = _url_end(match.group())
        if not url.partition("://")[2]:
            continue
        parts.append(_md_text(source[pos : match.start()]))
        parts.append(f"<{url}>")
        pos = match.start() + len(url)
    parts.append(_md_text(source[pos:]))
    return _md_inline("".join(parts))


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_channel(timeline: ChannelTimeline) -> list[str]:
    lines = ["", f"## {_PLATFORM_NAMES[timeline.kind]} ({_md_code(timeline.kind.value)})", ""]
    retirement = timeline.retirement
    if retirement is not None:
        since = "always" if retirement.start is None else f"from {instant_text(retirement.start)}"
        lines += [f"**Retired** {since}. {_md_source(retirement.source)}".rstrip(), ""]
    if timeline.sources:
        lines += ["Sources: " + "; ".join(_md_source(s) for s in timeline.sources) + ".", ""]
    lines += [
        _md_row(["setting", "value", "from", "to", "source"]),
        _md_row(["---"] * 5),
    ]
    for period in timeline.periods:
        if period.default:
            continue
        value = _md_code(value_text(period.value)) + (" (u)" if period.uncertain else "")
        lines.append(
            _md_row(
                [
                    _md_code(period.setting),
                    value,
                    instant_text(period.start),
                    instant_text(period.end),
                    _md_source(period.source),
                ]
            )
        )
    return lines


def platform_rules_markdown(profile: Profile) -> str:
    """The Markdown page of a profile's dated rules (``docs/platform-rules.md``).

    An introduction, then one table per channel the profile defines (in the order
    of :class:`~omnimsg.channels.kinds.ChannelKind`): setting, value, from, to and
    source (URLs as links), ``(u)`` after an uncertain value. Settings the profile
    does not state are left out. The text depends on the profile alone: no date of
    writing, everything in a fixed order, so the page can be compared with the data.

    Raises:
        InputError: ``profile`` is not a :class:`~omnimsg.channels.registry.Profile`.
    """
    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
    flag = "" if profile.name == "official" else f" --profile {profile.name}"
    lines = [
        "# Platform rules",
        "",
        f"The messaging platforms' own rules as the {_md_code(profile.name)} profile states "
        "them (SPEC section 7): every value with the days it is in force and its "
        "source. `omnimsg rules CHANNEL --as-of DATE` shows the rules of one day and what "
        "changed around it ([cli.md](cli.md)); the profile format is in "
        "[profiles.md](profiles.md).",
        "",
        "This page is generated from the profile's data; do not edit it by hand. After a "
        "change to the profile, regenerate it (a test fails while it differs from the data):",
        "",
        "```sh",
        f"omnimsg rules --markdown{flag} > docs/platform-rules.md",
        "```",
        "",
        "`from` is the first day a value is in force, `to` the first day it no longer is; "
        "days begin at 00:00 UTC. A `-` in `from` means the value holds from before any "
        "date the profile gives, in `to` that it is still in force, and as a value none "
        "(the last tier of `tiers.limits`: no limit). (u) marks a value that sources "
        "disagree on or that only a third party states. Durations are written as in "
        "profile files (`24h`, `7d`). Settings the profile does not state take the "
        "defaults of `ChannelCapabilities` and are not listed.",
    ]
    if profile.description:
        lines += ["", _md_inline(_md_text(profile.description))]
    if profile.spec.sources:
        lines += ["", "Sources of the profile:", ""]
        lines += [f"- {_md_source(source)}" for source in profile.spec.sources]
    for kind in ChannelKind:
        if kind in profile.spec.channels:
            lines += _md_channel(channel_timeline(profile, kind))
    return "\n".join(lines) + "\n"
