"""The profile file format: pydantic models that parse and validate, nothing more.

A profile is a named bundle of channel capabilities. Every setting of a channel, of
its ``content`` and of its ``tiers`` may be given plainly or as a list of dated
entries (SPEC section 7), and so may each region's table and the keyword tables as
a whole; ``double_opt_in``, ``quiet_hours``, ``sources`` and ``uncertain`` are
plain::

    window_outbound_cap = [
      { value = 20, effective_to = 2023-06-12, source = "WeChat docs" },
      { value = 5, effective_from = 2023-06-12, source = "WeChat docs" },
    ]

``effective_from`` is inclusive, ``effective_to`` exclusive; dates mean 00:00 UTC.
Entries of one setting may neither overlap nor leave a gap between them;
``uncertain = true`` marks a value that sources disagree on.
This module turns raw data into validated models; :mod:`omnimsg.channels.registry`
resolves them to :class:`~omnimsg.channels.capabilities.ChannelCapabilities` as of a date.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from omnimsg._time import MAX_DURATION, parse_duration
from omnimsg.channels.kinds import AfterWindow, ChannelKind, MediaDelivery, Mode, TextUnit
from omnimsg.errors import InputError

__all__ = [
    "ChannelSpec",
    "ContentSpec",
    "DatedEntry",
    "DoubleOptInSpec",
    "FrequencyLimitSpec",
    "KeywordSetSpec",
    "ProfileSpec",
    "QuietHoursSpec",
    "RegionSpec",
    "TierSpec",
    "instant_of",
]

T = TypeVar("T")


def instant_of(value: date | datetime) -> datetime:
    """A bound of a dated entry as an aware instant: a date means 00:00 UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("dated bounds must be dates or timezone-aware datetimes")
        return value
    return datetime.combine(value, time(0), tzinfo=UTC)


def _span(value: Any) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '24h', got {value!r}")
    try:
        if isinstance(value, str):
            span = parse_duration(value)
        elif isinstance(value, int | float):
            span = timedelta(seconds=value)
        elif isinstance(value, timedelta):
            span = value
        else:
            raise ValueError(f"expected a duration like '24h', got {type(value).__name__}")
    except InputError as exc:
        raise ValueError(str(exc)) from None
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"duration {value!r} is out of range or not a number: {exc}") from None
    if span <= timedelta(0):
        raise ValueError(f"a duration must be positive, got {value!r}")
    if span > MAX_DURATION:
        raise ValueError(f"a duration may be at most {MAX_DURATION.days} days, got {value!r}")
    return span


def _optional_span(value: Any) -> timedelta | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    return _span(value)


def _clock_time(value: Any) -> Any:
    if not isinstance(value, str | time):
        raise ValueError(f"expected a local time like '08:00', got {value!r}")
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a local time like '08:00', got {value!r}") from None
    return value


def _none_word(value: Any) -> Any:
    """``"none"`` (TOML has no null) means no value; ``"unlimited"`` too, for a limit."""
    if isinstance(value, str) and value.strip().lower() in ("none", "unlimited"):
        return None
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Duration = Annotated[timedelta | None, BeforeValidator(_optional_span)]
"""A positive duration (``"24h"``, ``"7d"``, seconds as a number) or ``None``/``"none"``."""
Span = Annotated[timedelta, BeforeValidator(_span)]
"""A positive duration that must be given."""
Count = Annotated[int, Field(ge=0, strict=True)]
Limit = Annotated[int, Field(gt=0, strict=True)]
Rate = Annotated[float, Field(gt=0, allow_inf_nan=False), BeforeValidator(_not_bool)]
OptionalCount = Annotated[Count | None, BeforeValidator(_none_word)]
"""A count, or ``None`` (``"none"`` in a file)."""
OptionalLimit = Annotated[Limit | None, BeforeValidator(_none_word)]
"""A limit, or ``None``: none at all (``"none"`` or ``"unlimited"`` in a file)."""
OptionalRate = Annotated[Rate | None, BeforeValidator(_none_word)]


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("expected a date or a datetime with its UTC offset")
    return value


OptionalInstant = Annotated[
    date | datetime | None, BeforeValidator(_none_word), AfterValidator(_aware)
]
"""A date (00:00 UTC) or an aware datetime, or ``None``."""
Flag = Annotated[bool, Field(strict=True)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
QualityRequired = Literal["not_low", "high"]
"""The quality rating a sender needs to move up a tier (B14, P2-P4)."""
OptOutScope = Literal["marketing", "all"]
"""What an opt-out ends on that sender: marketing only, or every business-initiated
message but one confirmation (X1, P13)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatedEntry(_Model, Generic[T]):
    """One value of a setting with the period it is in force and where it comes from."""

    value: T
    effective_from: date | datetime | None = None
    effective_to: date | datetime | None = None
    source: str | None = None
    uncertain: Flag = False

    @model_validator(mode="after")
    def _bounds_in_order(self) -> DatedEntry[T]:
        if (
            self.effective_from is not None
            and self.effective_to is not None
            and instant_of(self.effective_from) >= instant_of(self.effective_to)
        ):
            raise ValueError("effective_from must be before effective_to")
        for bound in (self.effective_from, self.effective_to):
            if bound is not None:
                instant_of(bound)
        return self


def _period_words(entry: DatedEntry[Any], index: int) -> str:
    start = "the beginning" if entry.effective_from is None else str(entry.effective_from)
    end = "no end" if entry.effective_to is None else str(entry.effective_to)
    return f"entry {index + 1} ({start} to {end})"


def _check_periods(entries: list[DatedEntry[Any]]) -> list[DatedEntry[Any]]:
    """Refuse two entries whose periods overlap or leave a gap between them, naming both.

    Before the first entry and after the last one the setting may have no value
    (a rule that did not exist yet, or ended); between two entries it always has one.
    """
    lo = datetime.min.replace(tzinfo=UTC)
    hi = datetime.max.replace(tzinfo=UTC)
    spans = sorted(
        (
            instant_of(e.effective_from) if e.effective_from is not None else lo,
            instant_of(e.effective_to) if e.effective_to is not None else hi,
            i,
        )
        for i, e in enumerate(entries)
    )
    for (_, end, i), (start, _, j) in itertools.pairwise(spans):
        first, second = _period_words(entries[i], i), _period_words(entries[j], j)
        if start < end:
            raise ValueError(f"dated entries overlap: {first} and {second}")
        if start > end:
            raise ValueError(
                f"dated entries leave a gap: {first} and {second}; "
                "each instant between two entries needs one value"
            )
    return entries


def _which(value: Any) -> str:
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(v, dict | DatedEntry) and (isinstance(v, DatedEntry) or "value" in v)
            for v in value
        )
    ):
        return "dated"
    return "plain"


def _dated(inner: Any) -> Any:
    return Annotated[
        Annotated[
            list[DatedEntry[inner]],
            AfterValidator(_check_periods),
            Tag("dated"),
        ]
        | Annotated[inner, Tag("plain")],
        Discriminator(_which),
    ]


if TYPE_CHECKING:
    Dated: TypeAlias = T | list[DatedEntry[T]]
    """A setting given plainly, or as non-overlapping dated entries (SPEC section 7)."""
else:

    class Dated:
        """A setting given plainly, or as non-overlapping dated entries (SPEC section 7)."""

        def __class_getitem__(cls, inner: Any) -> Any:
            return _dated(inner)


def _periods(value: Any) -> list[tuple[datetime | None, datetime | None, Any]]:
    """``(start, end, value)`` of a setting given plainly or as dated entries."""
    if isinstance(value, list) and value and isinstance(value[0], DatedEntry):
        return [
            (
                None if e.effective_from is None else instant_of(e.effective_from),
                None if e.effective_to is None else instant_of(e.effective_to),
                e.value,
            )
            for e in value
        ]
    return [(None, None, value)]


def _together(first: Any, second: Any) -> list[tuple[datetime | None, Any, Any]]:
    """The values of two settings at every instant one of them changes.

    Each item is ``(start, first's value, second's value)``; ``start`` is ``None`` for
    the beginning of time. An instant where a dated setting has no value is skipped
    (resolving there is refused anyway).
    """
    a, b = _periods(first), _periods(second)
    starts = sorted(
        {s for s, _, _ in a + b if s is not None} | {e for _, e, _ in a + b if e is not None}
    )
    out: list[tuple[datetime | None, Any, Any]] = []
    for start in [None, *starts]:
        x = _value_at(a, start)
        y = _value_at(b, start)
        if x is not _MISSING and y is not _MISSING:
            out.append((start, x, y))
    return out


_MISSING = object()


def _value_at(periods: list[tuple[datetime | None, datetime | None, Any]], at: Any) -> Any:
    for start, end, value in periods:
        after_start = start is None or (at is not None and start <= at)
        before_end = end is None or at is None or at < end
        if after_start and before_end:
            return value
    return _MISSING


class ContentSpec(_Model):
    """Content limits of a channel (C1–C4, C6, X3)."""

    text_max: Dated[OptionalLimit] = None
    text_unit: Dated[TextUnit] = TextUnit.CHARACTERS
    caption_max: Dated[OptionalLimit] = None
    template_body_max: Dated[OptionalLimit] = None
    media: Dated[MediaDelivery] = MediaDelivery.NATIVE
    link_separator: Dated[str] = " "
    voice_notes: Dated[Flag] = False
    voice_max: Dated[Span] = timedelta(minutes=5)


class FrequencyLimitSpec(_Model):
    """No more than ``messages`` messages per contact per ``period`` (P12, X4)."""

    messages: Limit
    period: Span


class KeywordSetSpec(_Model):
    """Reply keywords of one locale (X1)."""

    opt_out: list[str] = Field(default_factory=list)
    opt_in: list[str] = Field(default_factory=list)
    help: list[str] = Field(default_factory=list)


class DoubleOptInSpec(_Model):
    """Double opt-in before the first broadcast (B12)."""

    yes_replies: list[str] = Field(default_factory=lambda: ["S"], min_length=1)
    no_replies: list[str] = Field(default_factory=lambda: ["N"], min_length=1)
    reminder_after: Span = timedelta(hours=24)
    max_prompts: Limit = 2
    prompt: str = "Reply S to subscribe to our messages or N to decline."


class TierSpec(_Model):
    """Unique-recipient messaging tiers (B13, B14)."""

    limits: Dated[Annotated[list[OptionalLimit], Field(min_length=1)]]
    rolling_window: Dated[Span] = timedelta(hours=24)
    upgrade_factor: Dated[Rate] = 2.0
    upgrade_lookback: Dated[Span] = timedelta(days=7)
    upgrade_delay: Dated[Span] = timedelta(hours=48)
    replies_in_window_count: Dated[Flag] = False
    scope: Dated[str] = "number"
    version: Dated[str] = ""
    quality_required: Dated[QualityRequired] = "not_low"
    downgrade_after: Dated[Duration] = None
    verified_tier: Dated[OptionalCount] = None
    first_upgrade_count: Dated[OptionalLimit] = None
    first_upgrade_period: Dated[Span] = timedelta(days=30)


class QuietHoursSpec(_Model):
    """Allowed sending hours in the recipient's local time (X2)."""

    start: ClockTime
    end: ClockTime


class RegionSpec(_Model):
    """Stricter rules for recipients of one region, told by their number (P12).

    ``area_codes`` are the region's area codes in ``country`` (the digits after the
    country code that begin a national number, e.g. ``"305"``).
    """

    country: str = Field(default="US", min_length=2, max_length=2)
    area_codes: list[Annotated[str, Field(pattern=r"^[0-9]{1,6}$")]] = Field(min_length=1)
    quiet_hours: QuietHoursSpec | None = None
    frequency_cap: FrequencyLimitSpec | None = None


class ChannelSpec(_Model):
    """Everything a profile says about one channel kind."""

    window: Dated[Duration] = None
    requires_prior_inbound: Dated[Flag] = False
    extended_window: Dated[Duration] = None
    extended_window_tag: Dated[str | None] = None
    after_window: Dated[AfterWindow] = AfterWindow.NOTHING
    message_tags: Dated[list[str]] = Field(default_factory=list)
    window_outbound_cap: Dated[OptionalLimit] = None
    chatbot_free_per_month: Dated[OptionalCount] = None
    chatbot_free_created_before: Dated[
        Annotated[date | datetime | None, BeforeValidator(_none_word)]
    ] = None
    templates: Dated[Flag | None] = None
    broadcasts: Dated[Flag] = True
    paid_modes: Dated[list[Mode]] = Field(default_factory=list)
    rate_per_second: Dated[OptionalRate] = None
    daily_recipient_cap: Dated[OptionalLimit] = None
    retired: Dated[Flag] = False
    new_conversations: Dated[Flag] = True
    marketing_under_tags: Dated[Flag] = True
    window_extends: Dated[Flag] = True
    unanswered_cap: Dated[OptionalLimit] = None
    unanswered_period: Dated[Span] = timedelta(hours=1)
    event_window: Dated[Duration] = None
    event_outbound_cap: Dated[OptionalLimit] = None
    recipient_interval: Dated[Duration] = None
    group_rate_per_minute: Dated[OptionalRate] = None
    monthly_quota: Dated[OptionalLimit] = None
    free_reply_window: Dated[Duration] = None
    opt_out_scope: Dated[OptOutScope] = "marketing"
    account_rates: Dated[dict[str, Rate]] = Field(default_factory=dict)
    content: ContentSpec = Field(default_factory=ContentSpec)
    tiers: TierSpec | None = None
    double_opt_in: DoubleOptInSpec | None = None
    keywords: Dated[dict[str, KeywordSetSpec]] = Field(default_factory=dict)
    quiet_hours: QuietHoursSpec | None = None
    regions: dict[str, Dated[RegionSpec | None]] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    uncertain: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _extended_window_needs_tag(self) -> ChannelSpec:
        for start, window, tag in _together(self.extended_window, self.extended_window_tag):
            if window is not None and tag is None:
                when = "" if start is None else f" from {start.isoformat()}"
                raise ValueError(
                    f"extended_window needs extended_window_tag (the tag that grants it){when}"
                )
        return self


class ProfileSpec(_Model):
    """A whole profile file."""

    name: str = Field(min_length=1)
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    extends: str | None = None
    channels: dict[ChannelKind, ChannelSpec] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("a profile name uses letters, digits, '-' and '_' only")
        return value
