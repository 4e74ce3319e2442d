"""WhatsApp messaging limits, replayed from a business's history (B13, B14, P2-P4).

This module owns the tier rules of a sender: which messaging limit a WhatsApp number
(or, under the v3 rules, a whole business portfolio) has at an instant, given what
it delivered, its quality ratings and its verification, each instant judged by the
rules in force then. Every rule of a version is data in a
:class:`~omnimsg.channels.capabilities.TierPolicy`, and one engine applies all of
them: the values and the checks of what comes in are here, the replay itself in
:mod:`omnimsg.policy._tier_replay`. It is pure: time is passed in, the rules come
from a function of the instant, and nothing is read, stored or sent. The planner's
:class:`~omnimsg.broadcasts.lanes.TierTracker` holds a tier while a plan is made;
this module says which tier a sender has.

What counts, the three versions and how a change of rules carries a limit over are
written down in docs/limits.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, TypeVar

import attrs

from omnimsg._convert import to_enum, to_flag, to_instant, to_sequence_of, to_text, to_utc
from omnimsg._time import MAX_DURATION
from omnimsg.channels.capabilities import ChannelCapabilities, TierPolicy
from omnimsg.errors import CallbackError, ConfigurationError, InputError, OmnimsgError

__all__ = [
    "RULE_OF_VERSION",
    "Delivery",
    "LimitHistory",
    "LimitStatus",
    "PolicyAt",
    "Quality",
    "QualityChange",
    "Start",
    "TierCause",
    "TierChange",
    "messaging_limit",
]


_T = TypeVar("_T")


class Quality(StrEnum):
    """A sender's quality rating (P2-P4).

    ``UNKNOWN`` (no rating yet) counts as medium: not low, and not high. ``FLAGGED``
    counts as low.
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    FLAGGED = "flagged"
    UNKNOWN = "unknown"


class TierCause(StrEnum):
    """Why a sender's tier changed."""

    START = "start"  # the sender began (its starting tier)
    RULES = "rules_changed"  # another rule version came into force (carry-over)
    VERIFIED = "verified"  # business verification (P3)
    FIRST_UPGRADE = "first_upgrade"  # enough users at high quality in the first period (P3)
    UPGRADE = "upgrade"  # usage reached the threshold (B14, P2-P4)
    DOWNGRADE = "downgrade"  # quality low or flagged for too long (P3)


RULE_OF_VERSION: Mapping[str, str] = MappingProxyType({"v1": "P2", "v2": "P3", "v3": "P4"})
"""The SPEC rule of each WhatsApp rule version; rules without a version are B13/B14's."""


# --- the history -------------------------------------------------------------------------


def _at(value: object) -> datetime:
    return to_instant(value, "at")


def _recipient(value: object) -> str:
    return to_text(value, "recipient")


def _number(value: object) -> str:
    return to_text(value, "number")


def _optional_number(value: object) -> str | None:
    return None if value is None else to_text(value, "number")


def _in_window(value: object) -> bool:
    return to_flag(value, "in_window")


def _rating(value: object) -> Quality:
    return to_enum(Quality, value, "rating")


def _initial_quality(value: object) -> Quality:
    return to_enum(Quality, value, "initial_quality")


def _start_tier(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise InputError(f"Start.tier: expected a tier index >= 0 or None, got {type(value).__name__}")


def _verified_at(value: object) -> datetime | None:
    return to_utc(value, "verified_at")


@attrs.frozen
class Delivery:
    """One message the business delivered: when, to whom, from which number.

    ``in_window``: delivered inside the recipient's customer-service window (P1), a
    reply; it does not count toward the limit unless the rules in force say
    ``replies_in_window_count`` (B13, P4).
    """

    at: datetime = attrs.field(converter=_at)
    recipient: str = attrs.field(converter=_recipient)
    number: str = attrs.field(converter=_number)
    in_window: bool = attrs.field(default=False, converter=_in_window)


@attrs.frozen
class QualityChange:
    """The quality rating became ``rating`` at ``at``: of ``number``, or with ``number``
    ``None`` of the whole business (every number, until a number's own next change)."""

    at: datetime = attrs.field(converter=_at)
    rating: Quality = attrs.field(converter=_rating)
    number: str | None = attrs.field(default=None, converter=_optional_number)


@attrs.frozen
class Start:
    """The instant a number (or, with ``number`` ``None``, the business) began.

    ``tier`` is its tier index then, under the rules in force at ``at``; ``None``: the
    rules' own start (tier 0). A business's start is every number's that has no
    start of its own: such numbers are taken to exist from it.
    """

    at: datetime = attrs.field(converter=_at)
    tier: int | None = attrs.field(default=None, converter=_start_tier)
    number: str | None = attrs.field(default=None, converter=_optional_number)


def _deliveries(value: object) -> tuple[Delivery, ...]:
    return to_sequence_of(value, Delivery, "deliveries")


def _quality(value: object) -> tuple[QualityChange, ...]:
    return to_sequence_of(value, QualityChange, "quality")


def _starts(value: object) -> tuple[Start, ...]:
    return to_sequence_of(value, Start, "starts")


@attrs.frozen
class LimitHistory:
    """What a business did that its messaging limit depends on.

    ``deliveries`` in any order; ``quality``: rating changes, before the first of
    which every number is rated ``initial_quality``; ``verified_at``: when the
    business was verified (P3), if it was; ``starts``: at most one :class:`Start`
    for the business and one per number. Without a start, a number begins at its
    first delivery or rating, the business at its first event.
    """

    deliveries: tuple[Delivery, ...] = attrs.field(default=(), converter=_deliveries)
    quality: tuple[QualityChange, ...] = attrs.field(default=(), converter=_quality)
    verified_at: datetime | None = attrs.field(default=None, converter=_verified_at)
    starts: tuple[Start, ...] = attrs.field(default=(), converter=_starts)
    initial_quality: Quality = attrs.field(default=Quality.UNKNOWN, converter=_initial_quality)

    def __attrs_post_init__(self) -> None:
        seen: set[str | None] = set()
        for start in self.starts:
            if start.number in seen:
                whose = "the business" if start.number is None else repr(start.number[:40])
                raise InputError(f"starts: more than one Start for {whose}")
            seen.add(start.number)


# --- the answer --------------------------------------------------------------------------


@attrs.frozen
class TierChange:
    """A sender's tier became ``tier`` (limit ``limit``, ``None``: unlimited) at ``at``.

    ``threshold_at``: for an upgrade, the instant its threshold was reached.
    """

    at: datetime
    tier: int
    limit: int | None
    cause: TierCause
    version: str
    threshold_at: datetime | None = None


@attrs.frozen
class LimitStatus:
    """A sender's messaging limit at ``at`` (B13, P2-P4).

    ``tier`` indexes the limits of the rules in force (``version``, SPEC ``rule``);
    ``limit`` is ``None`` when unlimited. ``used``: unique users counted in the
    rolling window ending at ``at``. ``scope``: ``"number"`` (the status of one
    number) or ``"portfolio"`` (shared by all the business's numbers). ``next``: the
    move already due under these rules (a pending upgrade, or a downgrade while
    quality stays low), ``None`` if none; a change of rules before it cancels it.
    ``changes``: the sender's tier changes up to ``at``, oldest first.
    """

    at: datetime
    version: str
    rule: str
    scope: str
    tier: int
    limit: int | None
    used: int
    quality: Quality
    next: TierChange | None
    changes: tuple[TierChange, ...]

    @property
    def remaining(self) -> int | None:
        """Unique users that may still be started now (``None``: unlimited)."""
        return None if self.limit is None else max(0, self.limit - self.used)


PolicyAt: TypeAlias = (
    TierPolicy | ChannelCapabilities | Callable[[datetime], TierPolicy | ChannelCapabilities | None]
)
"""The rules in force at an instant: one policy (or a channel's capabilities) for all
time, or a function of the instant returning them, such as
``lambda t: profile.capabilities("whatsapp", as_of=t)``."""


# --- the rules at an instant -------------------------------------------------------------

_CHECKED: dict[TierPolicy, None] = {}


def _span(name: str, value: timedelta, *, positive: bool = True) -> None:
    if value < timedelta(0) or value > MAX_DURATION or (positive and not value):
        raise ConfigurationError(
            f"TierPolicy.{name}: expected a duration {'above' if positive else 'from'} 0 "
            f"up to {MAX_DURATION.days} days, got {value}"
        )


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
        raise ConfigurationError(
            f"TierPolicy.upgrade_factor: expected 0 to 1e6, got {policy.upgrade_factor}"
        )
    _span("rolling_window", policy.rolling_window)
    _span("upgrade_lookback", policy.upgrade_lookback)
    _span("first_upgrade_period", policy.first_upgrade_period)
    _span("upgrade_delay", policy.upgrade_delay, positive=False)
    if policy.downgrade_after is not None:
        _span("downgrade_after", policy.downgrade_after)
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED[policy] = None
    return policy


def _lookup(policy_at: object) -> Callable[[datetime], TierPolicy]:
    """The rules at an instant, checked, from what the caller passed as ``policy_at``."""
    if isinstance(policy_at, ChannelCapabilities):
        if policy_at.tiers is None:
            raise ConfigurationError(f"policy_at: {policy_at.kind.value} has no messaging tiers")
        policy_at = policy_at.tiers
    if isinstance(policy_at, TierPolicy):
        fixed = _checked(policy_at)
        return lambda _instant: fixed
    if isinstance(policy_at, type) or not callable(policy_at):
        raise InputError(
            "policy_at: expected a TierPolicy or a function of the instant returning one, "
            f"got {type(policy_at).__name__}"
        )
    call: Callable[[datetime], object] = policy_at
    checked: list[TierPolicy] = []  # the last rules returned, checked: asked again and again

    def lookup(instant: datetime) -> TierPolicy:
        try:
            found = call(instant)
        except OmnimsgError:
            raise
        except Exception as exc:
            raise CallbackError("policy_at", exc) from exc
        if isinstance(found, ChannelCapabilities):
            found = found.tiers
        if checked and found is checked[0]:
            return checked[0]
        if found is None:
            raise ConfigurationError(f"policy_at: no messaging tiers in force at {instant}")
        if not isinstance(found, TierPolicy):
            raise InputError(
                f"policy_at: expected it to return a TierPolicy, got {type(found).__name__}"
            )
        checked[:] = [_checked(found)]
        return found

    return lookup


def messaging_limit(
    policy_at: PolicyAt, history: LimitHistory, *, at: datetime, number: str | None = None
) -> LimitStatus:
    """A sender's WhatsApp messaging limit at ``at``, replayed from its history.

    The history is replayed in time order, each instant under the rules
    ``policy_at`` gives for it (B13, B14; P2, P3, P4 by the rules' ``version``), and
    carried over where the rules change (docs/limits.md). What happened after ``at``
    is ignored.

    Args:
        policy_at: the rules in force at an instant: a
            :class:`~omnimsg.channels.capabilities.TierPolicy` (or capabilities)
            for all time, or a function of the instant returning one, for example
            ``lambda t: profile.capabilities("whatsapp", as_of=t).tiers``.
            It is asked at each instant of the history and at ``at``; a change in
            between is found to the microsecond.
        history: the deliveries, quality ratings, verification and starts.
        at: the instant asked about (aware).
        number: under rules of number scope, the number whose status is wanted
            (needed when the history has several); under portfolio scope the status
            is the business's, whichever number is named.

    Returns:
        A :class:`LimitStatus`.

    Raises:
        InputError: a wrong type, a naive datetime, a history that contradicts
            itself (a start after the first event it covers), or a missing
            ``number``. NaiveDatetimeError is an InputError.
        ConfigurationError: ``policy_at`` gives no tiers at an instant, or rules
            the engine cannot apply (tiers not rising, an unknown scope).
        CallbackError: ``policy_at`` raised something other than an omnimsg error.
    """
    instant = to_instant(at, "at")
    if not isinstance(history, LimitHistory):
        raise InputError(f"history: expected a LimitHistory, got {type(history).__name__}")
    if number is not None and not isinstance(number, str):
        raise InputError(f"number: expected text or None, got {type(number).__name__}")
    lookup = _lookup(policy_at)
    from omnimsg.policy._tier_replay import replay_status  # it imports this module

    return replay_status(lookup, history, instant, number)
