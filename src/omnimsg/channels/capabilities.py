"""Channel capabilities: frozen values that say what one channel kind allows.

A :class:`ChannelCapabilities` is what a profile resolves to for one channel kind on
one date. It holds data only; the rules that read it live in :mod:`omnimsg.policy`.
Nothing here parses files (see :mod:`omnimsg.channels.schema`) or reads the clock.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

import attrs

from omnimsg._convert import shown, to_enum
from omnimsg.channels.kinds import AfterWindow, ChannelKind, MediaDelivery, Mode, TextUnit
from omnimsg.errors import InputError

__all__ = [
    "NOT_ENFORCED",
    "ChannelCapabilities",
    "ContentLimits",
    "DoubleOptIn",
    "FrequencyLimit",
    "KeywordSet",
    "QuietHours",
    "RegionRule",
    "TierPolicy",
]

_EMPTY: Mapping[str, KeywordSet] = MappingProxyType({})


def _frozen_set(value: str | Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"expected text or a set of text, got {type(value).__name__}")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise InputError("expected a set of text; an item is not text")
    return frozenset(items)


def _runtime_type(hint: object) -> tuple[type, ...]:
    """The classes ``isinstance`` can check for a resolved annotation."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return tuple(t for arg in typing.get_args(hint) for t in _runtime_type(arg))
    if hint is None or hint is type(None):
        return (type(None),)
    if hint is float:
        return (float, int)
    if isinstance(origin, type):
        return (origin,)
    return (hint,) if isinstance(hint, type) else (object,)


_EXPECTED: dict[type, tuple[tuple[str, tuple[type, ...]], ...]] = {}


def _expected(cls: type) -> tuple[tuple[str, tuple[type, ...]], ...]:
    found = _EXPECTED.get(cls)
    if found is None:
        resolved = attrs.resolve_types(cls)
        found = tuple((f.name, _runtime_type(f.type)) for f in attrs.fields(resolved))
        _EXPECTED[cls] = found
    return found


def _check_types(instance: object) -> None:
    """Refuse a field whose value is not of its annotated type (the fields' own types
    are the one list: adding a setting adds nothing here)."""
    for name, allowed in _expected(type(instance)):
        value = getattr(instance, name)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise InputError(
                f"{type(instance).__name__}.{name}: expected "
                f"{' or '.join(t.__name__ for t in allowed)}, got {type(value).__name__}"
            )


def _text_unit(value: object) -> TextUnit:
    return to_enum(TextUnit, value, "text_unit")


def _delivery(value: object) -> MediaDelivery:
    return to_enum(MediaDelivery, value, "media")


def _kind(value: object) -> ChannelKind:
    return to_enum(ChannelKind, value, "kind")


def _after(value: object) -> AfterWindow:
    return to_enum(AfterWindow, value, "after_window")


def _modes(value: Iterable[object]) -> frozenset[Mode]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InputError(f"paid_modes: expected a set of modes, got {type(value).__name__}")
    return frozenset(to_enum(Mode, m, "paid_modes") for m in value)


def _limits(value: Iterable[int | None]) -> tuple[int | None, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InputError(f"limits: expected a sequence of tier limits, got {type(value).__name__}")
    limits = tuple(value)
    for limit in limits:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InputError("limits: each tier limit is a whole number or None (unlimited)")
    return limits


def _keywords(value: Mapping[str, KeywordSet]) -> Mapping[str, KeywordSet]:
    if not isinstance(value, Mapping) or not all(
        isinstance(locale, str) and isinstance(words, KeywordSet) for locale, words in value.items()
    ):
        raise InputError("keywords: expected a mapping of locale to KeywordSet")
    return MappingProxyType({locale.lower(): words for locale, words in value.items()})


def _texts(value: Iterable[str], name: str, what: str) -> tuple[str, ...]:
    """``value`` as a tuple of text, refusing anything else as ``name`` (``what``: the
    items in words)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InputError(f"{name}: expected a sequence of text, got {type(value).__name__}")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise InputError(f"{name}: every {what} must be text")
    return items


def _sources(value: Iterable[str]) -> tuple[str, ...]:
    return _texts(value, "sources", "source")


def _uncertain(value: Iterable[str]) -> tuple[str, ...]:
    return _texts(value, "uncertain", "setting name")


def _cutoff(value: object) -> datetime | None:
    """A date means 00:00 UTC; a datetime must be aware."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError("chatbot_free_created_before: expected an aware datetime or a date")
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    raise InputError(
        f"chatbot_free_created_before: expected a date or a datetime, got {type(value).__name__}"
    )


NOT_ENFORCED = {"enforced": False}
"""Field metadata of a setting that profiles carry and no code applies yet.

A field declared with ``attrs.field(..., metadata=NOT_ENFORCED)`` has
``metadata["enforced"]`` ``False``; the command line shows such settings as not yet
enforced. Every setting of this release is applied: decisions apply the window,
consent and content settings, the broadcast planner the rate, daily cap, tiers and
quiet hours.
"""


@attrs.frozen
class ContentLimits:
    """Content rules of one channel (C1–C4, C6, X3).

    ``text_max`` is counted in ``text_unit``; with ``TextUnit.SMS_SEGMENTS`` it is a
    number of segments. ``None`` means no limit.
    """

    text_max: int | None = None
    text_unit: TextUnit = attrs.field(default=TextUnit.CHARACTERS, converter=_text_unit)
    caption_max: int | None = None
    template_body_max: int | None = None
    media: MediaDelivery = attrs.field(default=MediaDelivery.NATIVE, converter=_delivery)
    link_separator: str = " "
    voice_notes: bool = False
    voice_max: timedelta = timedelta(minutes=5)

    def __attrs_post_init__(self) -> None:
        _check_types(self)


@attrs.frozen
class KeywordSet:
    """Reply keywords of one locale (X1). Matched on the whole reply, case-insensitively."""

    opt_out: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_set)
    opt_in: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_set)
    help: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_set)

    def __attrs_post_init__(self) -> None:
        _check_types(self)


@attrs.frozen
class DoubleOptIn:
    """Double opt-in before the first broadcast (B12).

    Only a whole reply equal to one of ``yes_replies`` / ``no_replies`` counts
    (whitespace and letter case aside). The prompt is re-sent ``reminder_after`` the
    first one, ``max_prompts`` prompts in all.
    """

    yes_replies: frozenset[str] = attrs.field(default=frozenset({"S"}), converter=_frozen_set)
    no_replies: frozenset[str] = attrs.field(default=frozenset({"N"}), converter=_frozen_set)
    reminder_after: timedelta = timedelta(hours=24)
    max_prompts: int = 2
    prompt: str = "Reply S to subscribe to our messages or N to decline."

    def __attrs_post_init__(self) -> None:
        _check_types(self)


@attrs.frozen
class TierPolicy:
    """Unique-recipient messaging limits of a sender (B13, B14).

    ``limits`` are the tiers in order; ``None`` is unlimited. A sender starts at
    ``limits[0]``. It moves up when its quality is not low (``quality_required =
    "high"``: when it is high) and the unique users it notified within
    ``upgrade_lookback`` reach ``upgrade_factor`` times its current limit, no sooner
    than ``upgrade_delay`` after that. ``version`` names the platform's rule version
    (WhatsApp v1, v2, v3: P2-P4). Under v2, ``downgrade_after`` of low or flagged
    quality moves it down one tier, and verification (or ``first_upgrade_count``
    unique users within ``first_upgrade_period`` at high quality) lifts it to
    ``verified_tier``. :mod:`omnimsg.policy.limits` computes a sender's limit from
    its history.
    """

    limits: tuple[int | None, ...] = attrs.field(converter=_limits)
    rolling_window: timedelta = timedelta(hours=24)
    upgrade_factor: float = 2.0
    upgrade_lookback: timedelta = timedelta(days=7)
    upgrade_delay: timedelta = timedelta(hours=48)
    replies_in_window_count: bool = False
    scope: str = "number"
    version: str = ""
    quality_required: str = "not_low"
    downgrade_after: timedelta | None = None
    verified_tier: int | None = None
    first_upgrade_count: int | None = None
    first_upgrade_period: timedelta = timedelta(days=30)

    def __attrs_post_init__(self) -> None:
        _check_types(self)
        if self.quality_required not in ("not_low", "high"):
            raise InputError(
                "quality_required: expected 'not_low' or 'high', "
                f"got {shown(self.quality_required)}"
            )


@attrs.frozen
class QuietHours:
    """Hours in the recipient's local time when marketing may be sent (X2)."""

    start: time
    end: time

    def __attrs_post_init__(self) -> None:
        _check_types(self)


@attrs.frozen
class FrequencyLimit:
    """No more than ``messages`` messages per contact per ``period`` (P12)."""

    messages: int
    period: timedelta

    def __attrs_post_init__(self) -> None:
        _check_types(self)


def _area_codes(value: Iterable[str]) -> frozenset[str]:
    return _frozen_set(value)


@attrs.frozen
class RegionRule:
    """Stricter rules for recipients whose number is in one region (P12).

    A recipient is in the region when its number's country is ``country`` (ISO 3166
    code) and its national number begins with one of ``area_codes``.
    ``quiet_hours`` replace the channel's; ``frequency_cap`` limits messages per
    contact.
    """

    country: str
    area_codes: frozenset[str] = attrs.field(converter=_area_codes)
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyLimit | None = None

    def __attrs_post_init__(self) -> None:
        _check_types(self)


def _regions(value: Mapping[str, RegionRule]) -> Mapping[str, RegionRule]:
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str) and isinstance(rule, RegionRule) for name, rule in value.items()
    ):
        raise InputError("regions: expected a mapping of region name to RegionRule")
    return MappingProxyType(dict(value))


def _rates(value: Mapping[str, float]) -> Mapping[str, float]:
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str)
        and isinstance(rate, int | float)
        and not isinstance(rate, bool)
        and rate > 0
        for name, rate in value.items()
    ):
        raise InputError("account_rates: expected a mapping of sender class to a positive rate")
    return MappingProxyType({name: float(rate) for name, rate in value.items()})


def _scope(value: object) -> str:
    if value not in ("marketing", "all"):
        raise InputError(f"opt_out_scope: expected 'marketing' or 'all', got {shown(value)}")
    return str(value)


_NO_REGIONS: Mapping[str, RegionRule] = MappingProxyType({})
_NO_RATES: Mapping[str, float] = MappingProxyType({})


@attrs.frozen
class ChannelCapabilities:
    """What one channel kind allows, as resolved from a profile on one date.

    ``window`` is ``None`` for a channel without a messaging window (W1). With
    ``requires_prior_inbound`` the contact must have written at least once, at any
    time (W8). The extended window (W3, W4) is granted by ``extended_window_tag``.
    ``message_tags`` are the tags accepted after the window (W3).
    ``window_outbound_cap`` caps outbound messages per window (W5);
    ``chatbot_free_per_month`` is the monthly free quota of chatbot-initiated
    messages (W6), for accounts created before ``chatbot_free_created_before`` when
    that is set (P9). ``templates``: the channel has pre-approved templates at all (a
    template elsewhere is refused, C3). ``paid_modes`` lists the modes that are
    billed (B17). ``rate_per_second`` (B10), ``daily_recipient_cap`` (B11),
    ``tiers`` (B13, B14) and ``quiet_hours`` (X2) are applied by the broadcast
    planner. Settings marked :data:`NOT_ENFORCED` in their field metadata are carried
    but not applied yet.

    The platforms' own rules (SPEC section 7): ``retired`` channels take nothing and
    ``new_conversations`` false takes nothing to a contact who never wrote (P15);
    ``marketing_under_tags`` false refuses marketing sent under a message tag (P6);
    ``window_extends`` false measures the window from the session's first message,
    not the last (P9); ``unanswered_cap`` messages per ``unanswered_period`` to a
    contact who has not replied (P9); ``event_outbound_cap`` messages within
    ``event_window`` of a menu click, follow or scan (P8); ``recipient_interval``
    between two messages to one recipient (P5, P10) and ``group_rate_per_minute`` to
    one group (P10); ``monthly_quota`` of business-initiated messages a month, where
    a reply within ``free_reply_window`` of the contact's message is free (P11);
    ``opt_out_scope`` ``"all"`` makes an opt-out end every business-initiated message
    (X1, P13); ``account_rates`` gives the send rate of each sender class (P14);
    ``regions`` holds stricter rules by the recipient's number (P12). ``uncertain``
    names the settings in force whose values sources disagree on. The broadcast
    planner applies ``regions`` and ``account_rates``; decisions the rest.

    Adding a setting takes two edits: a field here and one of the same name in
    :class:`~omnimsg.channels.schema.ChannelSpec`; the registry copies fields by name.
    """

    kind: ChannelKind = attrs.field(converter=_kind)
    window: timedelta | None = None
    requires_prior_inbound: bool = False
    extended_window: timedelta | None = None
    extended_window_tag: str | None = None
    after_window: AfterWindow = attrs.field(default=AfterWindow.NOTHING, converter=_after)
    message_tags: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_set)
    window_outbound_cap: int | None = None
    chatbot_free_per_month: int | None = None
    chatbot_free_created_before: datetime | None = attrs.field(default=None, converter=_cutoff)
    templates: bool = False
    broadcasts: bool = True
    content: ContentLimits = ContentLimits()
    paid_modes: frozenset[Mode] = attrs.field(default=frozenset(), converter=_modes)
    rate_per_second: float | None = None
    daily_recipient_cap: int | None = None
    retired: bool = False
    new_conversations: bool = True
    marketing_under_tags: bool = True
    window_extends: bool = True
    unanswered_cap: int | None = None
    unanswered_period: timedelta = timedelta(hours=1)
    event_window: timedelta | None = None
    event_outbound_cap: int | None = None
    recipient_interval: timedelta | None = None
    group_rate_per_minute: float | None = None
    monthly_quota: int | None = None
    free_reply_window: timedelta | None = None
    opt_out_scope: str = attrs.field(default="marketing", converter=_scope)
    account_rates: Mapping[str, float] = attrs.field(default=_NO_RATES, converter=_rates)
    tiers: TierPolicy | None = None
    double_opt_in: DoubleOptIn | None = None
    keywords: Mapping[str, KeywordSet] = attrs.field(default=_EMPTY, converter=_keywords)
    quiet_hours: QuietHours | None = None
    regions: Mapping[str, RegionRule] = attrs.field(default=_NO_REGIONS, converter=_regions)
    sources: tuple[str, ...] = attrs.field(default=(), converter=_sources)
    uncertain: tuple[str, ...] = attrs.field(default=(), converter=_uncertain)

    def __attrs_post_init__(self) -> None:
        _check_types(self)
        for name in ("unanswered_cap", "event_outbound_cap", "monthly_quota"):
            count = getattr(self, name)
            if count is not None and count < 1:
                raise InputError(f"{name}: expected a whole number of at least 1, got {count}")
        for name in (
            "unanswered_period",
            "event_window",
            "recipient_interval",
            "free_reply_window",
        ):
            span = getattr(self, name)
            if span is not None and span <= timedelta(0):
                raise InputError(f"{name}: expected a positive duration, got {span}")
        rate = self.group_rate_per_minute
        if rate is not None and not (0 < rate < math.inf):
            raise InputError(f"group_rate_per_minute: expected a positive number, got {rate}")
