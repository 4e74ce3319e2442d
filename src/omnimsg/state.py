"""What a store persists: the state of conversations, consent and sender accounts.

This module owns the stored values and their transitions, and nothing else:

- :class:`ConversationState`: a contact's window on one channel account (W2–W6);
- :class:`OptInState`: the one consent record of a contact with one sender (B12, X1);
- :class:`AccountState`: a sender account's own state (W6, its time zone);
- :class:`SenderUsage`: what a sender has sent, as daily caps and tiers count it
  (B11, B13).

Each value is frozen and converts what a store hands back (strings, lists, numbers)
when it is built, or refuses it with :class:`~omnimsg.errors.InputError` naming the
field. Transitions return new values and are monotone where the rules are: a late
webhook never moves a window back, an inbound message from the future is refused.

Decisions (:func:`omnimsg.decide`) read these values; the opt-in machine
(:mod:`omnimsg.policy.optin`) moves :class:`OptInState`; nothing here decides,
stores or reads the clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from omnimsg._convert import (
    out_of_range,
    shown,
    to_count,
    to_enum,
    to_flag,
    to_instant,
    to_utc,
)
from omnimsg.errors import InputError

if TYPE_CHECKING:
    from omnimsg.contacts import Contact

__all__ = [
    "CLOCK_SKEW",
    "AccountState",
    "ConversationState",
    "OptInState",
    "SenderUsage",
    "SubscriptionStatus",
    "conversation_state",
]

CLOCK_SKEW = timedelta(minutes=2)
"""How far in the future an inbound message may be stamped before it is refused.

Webhooks are stamped by the platform's clock, not ours; two minutes absorbs the
usual drift between the two without letting a wrong timestamp open a window early.
"""


class SubscriptionStatus(StrEnum):
    """Where a contact stands with one sender's marketing messages (B12, X1)."""

    NOT_ASKED = "not_asked"
    PROMPTED = "prompted"
    SUBSCRIBED = "subscribed"
    DECLINED = "declined"
    UNSUBSCRIBED = "unsubscribed"


# --- consent -------------------------------------------------------------------------


def _status(value: object) -> SubscriptionStatus:
    return to_enum(SubscriptionStatus, value, "OptInState.status")


def _prompts_sent(value: object) -> int:
    return to_count(value, "OptInState.prompts_sent")


def _first_prompt_at(value: object) -> datetime | None:
    return to_utc(value, "OptInState.first_prompt_at")


def _last_prompt_at(value: object) -> datetime | None:
    return to_utc(value, "OptInState.last_prompt_at")


def _changed_at(value: object) -> datetime | None:
    return to_utc(value, "OptInState.changed_at")


def _held(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise InputError(
            f"OptInState.held: expected a sequence of broadcast ids, got {shown(value)}"
        )
    if not all(isinstance(item, str) for item in value):
        raise InputError("OptInState.held: broadcast ids must be text")
    return tuple(value)


@attrs.frozen
class OptInState:
    """Consent of one contact with one sender: the one record of it (B12, X1).

    ``status`` is where the contact stands. ``prompts_sent`` counts the subscription
    prompts of the current asking, the last at ``last_prompt_at`` (unknown for a
    status imported from elsewhere). ``held`` lists the broadcasts waiting for the
    answer, in the order they came. ``changed_at`` is when ``status`` last changed.

    Raises :class:`~omnimsg.errors.InputError` for a state no transition can reach:
    broadcasts held outside PROMPTED, or PROMPTED with no prompt sent.
    """

    status: SubscriptionStatus = attrs.field(
        default=SubscriptionStatus.NOT_ASKED, converter=_status
    )
    prompts_sent: int = attrs.field(default=0, converter=_prompts_sent)
    first_prompt_at: datetime | None = attrs.field(default=None, converter=_first_prompt_at)
    last_prompt_at: datetime | None = attrs.field(default=None, converter=_last_prompt_at)
    held: tuple[str, ...] = attrs.field(default=(), converter=_held)
    changed_at: datetime | None = attrs.field(default=None, converter=_changed_at)

    def __attrs_post_init__(self) -> None:
        if self.held and self.status is not SubscriptionStatus.PROMPTED:
            raise InputError(
                f"OptInState.held: broadcasts can only be held while prompted, "
                f"status is {self.status.value}"
            )
        if self.status is SubscriptionStatus.PROMPTED and self.prompts_sent < 1:
            raise InputError("OptInState: a prompted state needs prompts_sent >= 1")

    @classmethod
    def of(cls, value: OptInState | SubscriptionStatus | str | None) -> OptInState:
        """A consent record from a record, a status or its string value (``None``: not asked).

        A bare PROMPTED status (imported from another system) counts one prompt sent
        at an unknown time, so no reminder is scheduled for it.
        """
        if isinstance(value, OptInState):
            return value
        if value is None:
            return _NOT_ASKED
        status = to_enum(SubscriptionStatus, value, "consent")
        if status is SubscriptionStatus.PROMPTED:
            return cls(status=status, prompts_sent=1)
        return _BY_STATUS[status]


_NOT_ASKED = OptInState()
_BY_STATUS = {
    status: OptInState(status=status)
    for status in SubscriptionStatus
    if status is not SubscriptionStatus.PROMPTED
}


def _consent(value: object) -> OptInState:
    if value is None or isinstance(value, OptInState | str):
        return OptInState.of(value)
    raise InputError(
        f"consent: expected an OptInState or a subscription status, got {type(value).__name__}"
    )


# --- conversation ----------------------------------------------------------------------


def _last_inbound(value: object) -> datetime | None:
    return to_utc(value, "last_inbound_at")


def _outbound_count(value: object) -> int:
    return to_count(value, "outbound_since_inbound")


@attrs.frozen
class ConversationState:
    """A contact's state on one channel account: the window and the consent decide reads.

    ``last_inbound_at``: the contact's last message (``None``: never wrote), kept in
    UTC so window arithmetic is in real hours. ``outbound_since_inbound``: messages
    sent since then (W5). ``consent``: the contact's consent record with this sender
    (:class:`OptInState`; a status or its string is accepted and wrapped).

    Build it from a contact with :func:`conversation_state`.
    """

    last_inbound_at: datetime | None = attrs.field(default=None, converter=_last_inbound)
    outbound_since_inbound: int = attrs.field(default=0, converter=_outbound_count)
    consent: OptInState = attrs.field(default=_NOT_ASKED, converter=_consent)

    @classmethod
    def trusted(
        cls,
        last_inbound_at: datetime | None = None,
        outbound_since_inbound: int = 0,
        consent: OptInState = _NOT_ASKED,
    ) -> ConversationState:
        """Build a state from values already of their types, checking nothing.

        The fast path for a planner or store building one state per recipient from
        values it holds already validated: ``last_inbound_at`` an aware UTC datetime
        or ``None``, ``outbound_since_inbound`` a non-negative int, ``consent`` an
        :class:`OptInState`. Outside data goes through the constructor.
        """
        state = _new_state(cls)
        _SET_LAST(state, last_inbound_at)
        _SET_COUNT(state, outbound_since_inbound)
        _SET_CONSENT(state, consent)
        return state

    @property
    def subscription(self) -> SubscriptionStatus:
        """The consent status (``consent.status``)."""
        return self.consent.status

    def after_inbound(
        self, at: datetime, *, now: datetime, skew: timedelta = CLOCK_SKEW
    ) -> ConversationState:
        """The state after the contact writes at ``at``: window and counter reset (W5).

        Monotone: an inbound message no later than the one stored (a late or repeated
        webhook) changes nothing, so it never moves the window back or resets
        WeChat's count. An inbound message stamped more than ``skew`` after ``now``
        is refused with :class:`~omnimsg.errors.InputError`.
        """
        at_utc = to_utc(at, "at")
        now_utc = to_utc(now, "now")
        if at_utc is None or now_utc is None:
            raise InputError("after_inbound: 'at' and 'now' must be aware datetimes, not None")
        try:
            future = at_utc > now_utc + skew
        except (OverflowError, TypeError):
            raise InputError(
                f"after_inbound: skew must be a timedelta, got {type(skew).__name__}"
            ) from None
        if future:
            raise InputError(
                f"inbound message at {at_utc.isoformat()} is later than now "
                f"({now_utc.isoformat()}) by more than the {skew} clock-skew tolerance"
            )
        last = self.last_inbound_at
        if last is not None and at_utc <= last:
            return self
        return attrs.evolve(self, last_inbound_at=at_utc, outbound_since_inbound=0)

    def after_outbound(self, at: datetime | None = None) -> ConversationState:
        """The state after one more outbound message, sent at ``at`` when known.

        A message sent before the last inbound one (reported late) belonged to an
        earlier window and does not count toward the current one (W5).
        """
        if at is not None:
            at_utc = to_utc(at, "at")
            last = self.last_inbound_at
            if last is not None and at_utc is not None and at_utc < last:
                return self
        return attrs.evolve(self, outbound_since_inbound=self.outbound_since_inbound + 1)


_new_state = object.__new__
# The slots' own setters (attrs' frozen __setattr__ refuses assignment).
_SET_LAST = ConversationState.__dict__["last_inbound_at"].__set__
_SET_COUNT = ConversationState.__dict__["outbound_since_inbound"].__set__
_SET_CONSENT = ConversationState.__dict__["consent"].__set__


def conversation_state(
    contact: Contact,
    account_id: str,
    *,
    outbound_since_inbound: int = 0,
    consent: OptInState | SubscriptionStatus | str | None = None,
) -> ConversationState:
    """The state :func:`omnimsg.decide` reads, from a contact and a sending account.

    The window comes from the contact's identity on ``account_id`` (its
    ``last_inbound_at``); the consent from ``contact.subscriptions[account_id]``
    unless ``consent`` is given (a state store's newer record). A contact with no
    identity on the account has never written there.

    Raises :class:`~omnimsg.errors.InputError` when ``contact`` is not a contact or
    ``account_id`` not text.
    """
    from omnimsg.contacts import Contact

    if not isinstance(contact, Contact):
        raise InputError(f"contact: expected a Contact, got {type(contact).__name__}")
    if not isinstance(account_id, str):
        raise InputError(f"account_id: expected text, got {type(account_id).__name__}")
    identity = contact.identity_on(account_id)
    record = consent if consent is not None else contact.subscriptions.get(account_id)
    return ConversationState(
        last_inbound_at=None if identity is None else identity.last_inbound_at,
        outbound_since_inbound=outbound_since_inbound,
        consent=record,
    )


# --- sender account ----------------------------------------------------------------------


def _timezone(value: object) -> tzinfo:
    if isinstance(value, tzinfo):
        try:
            offset = datetime(2000, 1, 1, tzinfo=value).utcoffset()
        except Exception:  # a user tzinfo may fail in any way; it is then unusable
            offset = None
        if offset is None:
            raise InputError("timezone: this tzinfo gives no UTC offset")
        return value
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InputError(f"timezone: unknown time zone {value[:80]!r}") from None
    raise InputError(f"timezone: expected a tzinfo or an IANA name, got {type(value).__name__}")


def _year_month(value: object) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= 9999
        and 1 <= value[1] <= 12
    ):
        return (value[0], value[1])
    raise InputError(f"chatbot_month: expected (year, month) with month 1-12, got {shown(value)}")


def _chatbot_count(value: object) -> int:
    return to_count(value, "chatbot_initiated_count")


def _paid_terms(value: object) -> bool:
    return to_flag(value, "paid_chatbot_terms")


def _tier(value: object) -> int:
    return to_count(value, "tier")


def _quality_low(value: object) -> bool:
    return to_flag(value, "quality_low")


QUALITY_RATINGS = ("high", "medium", "low", "flagged")
"""A sender's quality ratings as platforms report them (B14, P2-P4)."""


def _quality(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in QUALITY_RATINGS:
        return value.strip().lower()
    raise InputError(
        f"quality: expected one of {', '.join(QUALITY_RATINGS)} or None, got {shown(value)}"
    )


def _month(instant: datetime, zone: tzinfo) -> tuple[int, int]:
    local = instant.astimezone(zone)
    return (local.year, local.month)


@attrs.frozen
class AccountState:
    """A channel account's (sender's) own state.

    ``timezone`` is the account's (an IANA name is accepted): its calendar months
    and days are the ones quotas reset on. ``chatbot_initiated_count`` counts
    chatbot-initiated messages sent in the calendar month ``chatbot_month`` (year,
    month) (W6); a count for another month is a count of zero, and a count without a
    month is refused. ``paid_chatbot_terms``: the account agreed to paid commercial
    terms, so sends beyond the free quota go, paid. ``tier`` is the sender's
    messaging tier now, an index into its channel's
    :class:`~omnimsg.channels.capabilities.TierPolicy` limits (0: the first, B13);
    ``quality_low``: its quality rating is low, so it does not move up (B14).
    ``quality`` is its latest quality rating when known (``"high"``, ``"medium"``,
    ``"low"``, ``"flagged"``); a tier that needs high quality to move up (WhatsApp
    from 2025-10-07, P4) moves only when it is ``"high"``. ``"low"`` or
    ``"flagged"`` sets ``quality_low``.
    """

    timezone: tzinfo = attrs.field(default=UTC, converter=_timezone)
    chatbot_month: tuple[int, int] | None = attrs.field(default=None, converter=_year_month)
    chatbot_initiated_count: int = attrs.field(default=0, converter=_chatbot_count)
    paid_chatbot_terms: bool = attrs.field(default=False, converter=_paid_terms)
    tier: int = attrs.field(default=0, converter=_tier)
    quality_low: bool = attrs.field(default=False, converter=_quality_low)
    quality: str | None = attrs.field(default=None, converter=_quality)

    def __attrs_post_init__(self) -> None:
        if self.quality in ("low", "flagged") and not self.quality_low:
            object.__setattr__(self, "quality_low", True)
        if self.chatbot_initiated_count and self.chatbot_month is None:
            raise InputError(
                "AccountState: chatbot_initiated_count needs chatbot_month, the "
                "(year, month) it was counted in"
            )

    def chatbot_count_at(self, now: datetime) -> int:
        """Chatbot-initiated messages already sent in ``now``'s month (W6)."""
        try:
            month = _month(now, self.timezone)
        except (AttributeError, TypeError, OverflowError):
            when = to_instant(now, "now")
            raise out_of_range("now", when) from None
        if self.chatbot_month != month:
            return 0
        return self.chatbot_initiated_count

    def after_chatbot_initiated(self, now: datetime) -> AccountState:
        """The state after one more chatbot-initiated message at ``now``."""
        when = to_instant(now, "now")
        try:
            month = _month(when, self.timezone)
        except OverflowError:
            raise out_of_range("now", when) from None
        return attrs.evolve(
            self,
            chatbot_month=month,
            chatbot_initiated_count=self.chatbot_count_at(when) + 1,
        )

    def local_day(self, instant: datetime) -> date:
        """The calendar day of ``instant`` in the account's time zone (B11)."""
        when = to_instant(instant, "instant")
        try:
            return when.astimezone(self.timezone).date()
        except OverflowError:
            raise out_of_range("instant", when) from None


# --- what a sender has sent ----------------------------------------------------------------


def _day(value: object) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"SenderUsage.day: expected a date, got {shown(value)}")


def _recipients_today(value: object) -> int:
    return to_count(value, "SenderUsage.recipients_today")


def _sends(value: object) -> tuple[tuple[datetime, str], ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InputError("SenderUsage.recent: expected a sequence of (sent_at, recipient)")
    items: list[tuple[datetime, str]] = []
    for i, item in enumerate(value):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise InputError(f"SenderUsage.recent[{i}]: expected (sent_at, recipient)")
        at = to_utc(item[0], f"SenderUsage.recent[{i}].sent_at")
        if at is None or not isinstance(item[1], str):
            raise InputError(f"SenderUsage.recent[{i}]: expected (sent_at, recipient id)")
        items.append((at, item[1]))
    items.sort()
    return tuple(items)


@attrs.frozen
class SenderUsage:
    """What one sender has sent, as its caps count it (B11, B13, B14).

    ``day`` and ``recipients_today``: how many distinct recipients the sender sent
    to on that calendar day of its own time zone (B11's daily cap).
    ``recent``: ``(sent_at, recipient)`` of business-initiated sends, oldest first,
    kept for as long as a tier rule looks back (B13's rolling 24 h, B14's 7 days).
    """

    day: date | None = attrs.field(default=None, converter=_day)
    recipients_today: int = attrs.field(default=0, converter=_recipients_today)
    recent: tuple[tuple[datetime, str], ...] = attrs.field(default=(), converter=_sends)

    def recipients_on(self, day: date) -> int:
        """Recipients counted on ``day`` (0 for any other day than :attr:`day`)."""
        return self.recipients_today if day == self.day else 0

    def unique_recipients(self, since: datetime, until: datetime) -> int:
        """Distinct recipients sent to in ``[since, until)`` (B13's rolling window)."""
        start = to_utc(since, "since")
        end = to_utc(until, "until")
        if start is None or end is None:
            raise InputError("unique_recipients: 'since' and 'until' must be aware datetimes")
        sends = self.recent
        lo = bisect.bisect_left(sends, (start, ""))
        return len({recipient for at, recipient in sends[lo:] if at < end})

    def after_sends(
        self,
        sends: Iterable[tuple[datetime, str]],
        *,
        account: AccountState,
        keep: timedelta = timedelta(days=7),
    ) -> SenderUsage:
        """The usage after ``sends`` (``(sent_at, recipient)``), days in ``account``'s zone.

        ``recipients_today`` follows the latest day sent on; ``recent`` drops sends
        older than ``keep`` before the latest one. Batch the sends of a run into one
        call: each call copies the record.
        """
        if not isinstance(account, AccountState):
            raise InputError(f"account: expected AccountState, got {type(account).__name__}")
        if not isinstance(keep, timedelta):
            raise InputError(f"keep: expected a timedelta, got {type(keep).__name__}")
        new = _sends(sends)
        if not new:
            return self
        merged = sorted(self.recent + new)
        newest = merged[-1][0]
        try:
            horizon = newest - keep
        except OverflowError:
            horizon = merged[0][0]
        lo = bisect.bisect_left(merged, (horizon, ""))
        day = self.day
        count = self.recipients_today
        seen = {r for at, r in self.recent if account.local_day(at) == day}
        for at, recipient in new:
            sent_day = account.local_day(at)
            if day is None or sent_day > day:
                day, count, seen = sent_day, 0, set()
            if sent_day == day and recipient not in seen:
                seen.add(recipient)
                count += 1
        return SenderUsage(day=day, recipients_today=count, recent=tuple(merged[lo:]))
