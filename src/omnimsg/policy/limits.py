"""WhatsApp messaging limits, replayed from a business's history (B13, B14, P2-P4).

This module owns the tier rules of a sender: which messaging limit a WhatsApp number
(or, under the v3 rules, a whole business portfolio) has at an instant, given what
it delivered, its quality ratings and its verification, each instant judged by the
rules in force then. Every rule of a version is data in a
:class:`~omnimsg.channels.capabilities.TierPolicy`; the code here is one engine for
all of them. It is pure: time is passed in, the rules come from a function of the
instant, and nothing is read, stored or sent. The planner's
:class:`~omnimsg.broadcasts.lanes.TierTracker` holds a tier while a plan is made;
this module says which tier a sender has.

What counts, the three versions and how a change of rules carries a limit over are
written down in docs/limits.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, TypeVar

import attrs

from omnimsg._convert import to_enum, to_flag, to_instant, to_text, to_utc
from omnimsg.channels.capabilities import ChannelCapabilities, TierPolicy
from omnimsg.errors import InputError

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


def _sequence(value: object, cls: type[_T], name: str) -> tuple[_T, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"{name}: expected a sequence of {cls.__name__}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            raise InputError(f"{name}[{i}]: expected {cls.__name__}, got {type(item).__name__}")
    return items


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
    return _sequence(value, Delivery, "deliveries")


def _quality(value: object) -> tuple[QualityChange, ...]:
    return _sequence(value, QualityChange, "quality")


def _starts(value: object) -> tuple[Start, ...]:
    return _sequence(value, Start, "starts")


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


PolicyAt: TypeAlias = TierPolicy | Callable[[datetime], TierPolicy | ChannelCapabilities | None]
"""The rules in force at an instant: one policy for all time, or a function of the
instant (``lambda t: profile.capabilities("whatsapp", as_of=t)``)."""


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
            :class:`~omnimsg.channels.capabilities.TierPolicy` for all time, or a
            function of the instant returning one (or a channel's capabilities), for
            example ``lambda t: profile.capabilities("whatsapp", as_of=t).tiers``.
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
    from omnimsg.policy._tier_replay import lookup_of, replay_status

    return replay_status(lookup_of(policy_at), history, instant, number)
