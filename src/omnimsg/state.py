"""What a store persists: the state of conversations, consent and sender accounts.

This module owns the stored values and their transitions, and nothing else:

- :class:`ConversationState`: a contact's window on one channel account (W2–W6) and
  the recent messages the platforms' rules count (P5, P8, P9, P10);
- :class:`OptInState`: the one consent record of a contact with one sender (B12, X1);
- :class:`AccountState`: a sender account's own state (W6, P11, its time zone);
- :class:`SenderUsage`: what a sender has sent, as daily caps and tiers count it
  (B11, B13).

The last two live in :mod:`omnimsg._accounts` and are re-exported here.

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
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import attrs

from omnimsg._accounts import AccountState, SenderUsage
from omnimsg._convert import shown, to_count, to_enum, to_flag, to_utc
from omnimsg.errors import InputError

if TYPE_CHECKING:
    from omnimsg.contacts import Contact

__all__ = [
    "CLOCK_SKEW",
    "OUTBOUND_TIMES_KEPT",
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

OUTBOUND_TIMES_KEPT = 256
"""How many outbound instants a :class:`ConversationState` keeps, the most recent.

The per-recipient rules that count messages in a period (P5, P8, P9, P10) read them;
the platforms' caps are far below this (Viber's 100 an hour is the largest). A
profile whose ``unanswered_cap`` or ``event_outbound_cap`` is above it cannot be
counted and :func:`omnimsg.decide` refuses it with a ``ConfigurationError``; a
``group_rate_per_minute`` above it is applied as the same rate over a shorter
period (docs/decisions.md).
"""


def _last_inbound(value: object) -> datetime | None:
    return to_utc(value, "last_inbound_at")


def _outbound_count(value: object) -> int:
    return to_count(value, "outbound_since_inbound")


# The converters of the platforms' fields return their defaults without a call: most
# states are built without them, and building one per recipient should not pay for them.
def _session_started(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "session_started_at")


def _last_event(value: object) -> datetime | None:
    return None if value is None else to_utc(value, "last_event_at")


def _group(value: object) -> bool:
    return False if value is False else to_flag(value, "group")


def _outbound_times(value: object) -> tuple[datetime, ...]:
    if type(value) is tuple and not value:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list):
        raise InputError(f"outbound_times: expected a sequence of datetimes, got {shown(value)}")
    times: list[datetime] = []
    for i, item in enumerate(value):
        at = to_utc(item, f"outbound_times[{i}]")
        if at is None:
            raise InputError(f"outbound_times[{i}]: expected a datetime, got None")
        times.append(at)
    times.sort()
    return tuple(times[-OUTBOUND_TIMES_KEPT:])


def _instants(at: object, now: object, what: str, skew: object) -> datetime:
    """``at`` in UTC, refused when stamped more than ``skew`` after ``now``."""
    at_utc = to_utc(at, "at")
    now_utc = to_utc(now, "now")
    if at_utc is None or now_utc is None:
        raise InputError(f"{what}: 'at' and 'now' must be aware datetimes, not None")
    if not isinstance(skew, timedelta):
        raise InputError(f"{what}: skew must be a timedelta, got {type(skew).__name__}")
    try:
        future = at_utc > now_utc + skew
    except OverflowError:
        raise InputError(f"{what}: skew {skew} is too large") from None
    if future:
        raise InputError(
            f"{what}: the message at {at_utc.isoformat()} is later than now "
            f"({now_utc.isoformat()}) by more than the {skew} clock-skew tolerance"
        )
    return at_utc


@attrs.frozen
class ConversationState:
    """A contact's state on one channel account: what decide reads about the conversation.

    ``last_inbound_at``: the contact's last message (``None``: never wrote), kept in
    UTC so window arithmetic is in real hours. ``outbound_since_inbound``: messages
    sent since then (W5). ``consent``: the contact's consent record with this sender
    (:class:`OptInState`; a status or its string is accepted and wrapped).

    For the platforms' own rules (SPEC section 7): ``session_started_at`` is when the
    contact's current session began, for a window that later messages do not extend
    (Viber, P9; ``None`` in a record written before it: the last inbound message
    stands in). ``outbound_times`` are the instants of the most recent outbound
    messages, oldest first, at most :data:`OUTBOUND_TIMES_KEPT` (P5, P8, P9, P10).
    ``last_event_at`` is the contact's last menu click, follow or QR scan (WeChat,
    P8). ``group``: the conversation is a group chat (P10).

    Build it from a contact with :func:`conversation_state`. Raises
    :class:`~omnimsg.errors.InputError` for a session that starts with no inbound
    message or after the last one.
    """

    last_inbound_at: datetime | None = attrs.field(default=None, converter=_last_inbound)
    outbound_since_inbound: int = attrs.field(default=0, converter=_outbound_count)
    consent: OptInState = attrs.field(default=_NOT_ASKED, converter=_consent)
    session_started_at: datetime | None = attrs.field(default=None, converter=_session_started)
    outbound_times: tuple[datetime, ...] = attrs.field(default=(), converter=_outbound_times)
    last_event_at: datetime | None = attrs.field(default=None, converter=_last_event)
    group: bool = attrs.field(default=False, converter=_group)

    def __attrs_post_init__(self) -> None:
        start = self.session_started_at
        if start is not None and (self.last_inbound_at is None or start > self.last_inbound_at):
            raise InputError(
                "session_started_at: a session starts with an inbound message, "
                "no later than last_inbound_at"
            )

    @classmethod
    def trusted(
        cls,
        last_inbound_at: datetime | None = None,
        outbound_since_inbound: int = 0,
        consent: OptInState = _NOT_ASKED,
        session_started_at: datetime | None = None,
        outbound_times: tuple[datetime, ...] = (),
        last_event_at: datetime | None = None,
        group: bool = False,
    ) -> ConversationState:
        """Build a state from values already of their types, checking nothing.

        The fast path for a planner or store building one state per recipient from
        values it holds already validated: instants aware and in UTC or ``None``,
        ``outbound_since_inbound`` a non-negative int, ``consent`` an
        :class:`OptInState`, ``outbound_times`` a sorted tuple of at most
        :data:`OUTBOUND_TIMES_KEPT` instants. Outside data goes through the constructor.
        """
        state = _new_state(cls)
        _SET_LAST(state, last_inbound_at)
        _SET_COUNT(state, outbound_since_inbound)
        _SET_CONSENT(state, consent)
        _SET_SESSION(state, session_started_at)
        _SET_TIMES(state, outbound_times)
        _SET_EVENT(state, last_event_at)
        _SET_GROUP(state, group)
        return state

    @property
    def subscription(self) -> SubscriptionStatus:
        """The consent status (``consent.status``)."""
        return self.consent.status

    def _with(self, **changes: object) -> ConversationState:
        """This state with ``changes`` (values already checked), its other fields kept."""
        values = {name: getattr(self, name) for name in _FIELDS}
        values.update(changes)
        return ConversationState.trusted(**values)

    def after_inbound(
        self,
        at: datetime,
        *,
        now: datetime,
        skew: timedelta = CLOCK_SKEW,
        session: timedelta | None = None,
    ) -> ConversationState:
        """The state after the contact writes at ``at``: window and counter reset (W5).

        Monotone: an inbound message no later than the one stored (a late or repeated
        webhook) changes nothing, so it never moves the window back or resets
        WeChat's count. An inbound message stamped more than ``skew`` after ``now``
        is refused with :class:`~omnimsg.errors.InputError`.

        ``session`` is the length of a session that later messages do not extend
        (Viber, P9: pass the channel's window where ``window_extends`` is false). A
        message while the session is open (``at`` before its start plus
        ``session``) keeps its start; one after it starts a new session. Without
        ``session`` every message starts one (the window runs from the last message).
        """
        if session is not None and (not isinstance(session, timedelta) or session <= _ZERO):
            raise InputError(
                f"session: expected a positive timedelta or None, got {shown(session)}"
            )
        at_utc = _instants(at, now, "after_inbound", skew)
        last = self.last_inbound_at
        if last is not None and at_utc <= last:
            return self
        start = at_utc
        if session is not None:
            current = self.session_started_at or last
            if current is not None and at_utc - current < session:
                start = current
        # A late webhook for a message older than sends already recorded: those sends
        # came after it and still count toward its window (W5), never reset to zero. A
        # send at the very instant of the message is taken as answered by it.
        times = self.outbound_times
        count = len(times) - bisect.bisect_right(times, at_utc) if times else 0
        return self._with(
            last_inbound_at=at_utc, outbound_since_inbound=count, session_started_at=start
        )

    def after_outbound(self, at: datetime | None = None) -> ConversationState:
        """The state after one more outbound message, sent at ``at`` when known.

        A message sent before the last inbound one (reported late) belonged to an
        earlier window and does not count toward the current one (W5). Its instant is
        kept all the same (P5, P10 count every message); a message with no ``at`` is
        counted toward W5 only.
        """
        if at is None:
            return self._with(outbound_since_inbound=self.outbound_since_inbound + 1)
        at_utc = to_utc(at, "at")
        assert at_utc is not None  # to_utc keeps None only for None
        times = self.outbound_times
        if len(times) >= OUTBOUND_TIMES_KEPT and at_utc < times[0]:
            kept = times  # older than everything kept: no rule counts it any more
        else:
            spot = bisect.bisect_right(times, at_utc)
            kept = (*times[:spot], at_utc, *times[spot:])[-OUTBOUND_TIMES_KEPT:]
        last = self.last_inbound_at
        count = self.outbound_since_inbound
        if last is None or at_utc >= last:
            count += 1
        if kept is times and count == self.outbound_since_inbound:
            return self
        return self._with(outbound_since_inbound=count, outbound_times=kept)

    def after_event(
        self, at: datetime, *, now: datetime, skew: timedelta = CLOCK_SKEW
    ) -> ConversationState:
        """The state after a menu click, follow or QR scan by the contact at ``at`` (P8).

        Monotone like :meth:`after_inbound`: an event no later than the one stored
        changes nothing; one stamped more than ``skew`` after ``now`` is refused. An
        event opens no message window and starts no session.
        """
        at_utc = _instants(at, now, "after_event", skew)
        last = self.last_event_at
        if last is not None and at_utc <= last:
            return self
        return self._with(last_event_at=at_utc)

    def sent_since(self, since: datetime) -> int:
        """Outbound messages kept whose instant is ``since`` or later (P8, P9)."""
        start = to_utc(since, "since")
        if start is None:
            raise InputError("since: expected an aware datetime, got None")
        times = self.outbound_times
        return len(times) - bisect.bisect_left(times, start)


_ZERO = timedelta(0)
_new_state = object.__new__
_FIELDS = tuple(f.name for f in attrs.fields(ConversationState))
# The slots' own setters (attrs' frozen __setattr__ refuses assignment).
_SET_LAST = ConversationState.__dict__["last_inbound_at"].__set__
_SET_COUNT = ConversationState.__dict__["outbound_since_inbound"].__set__
_SET_CONSENT = ConversationState.__dict__["consent"].__set__
_SET_SESSION = ConversationState.__dict__["session_started_at"].__set__
_SET_TIMES = ConversationState.__dict__["outbound_times"].__set__
_SET_EVENT = ConversationState.__dict__["last_event_at"].__set__
_SET_GROUP = ConversationState.__dict__["group"].__set__


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
