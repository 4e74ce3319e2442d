"""The decision: may this message go to this contact on this channel now, and how (W1–W8).

Everything here is pure: capabilities, conversation state, account state, the
message and ``now`` come in; a :class:`Decision` comes out. A refused send is a
decision with a reason code, never an exception; only bad input (or a capability
that cannot be applied) raises.

All window, mode, quota and rate logic lives here; the consent rule is in
:mod:`omnimsg.policy.consent`, content rules in :mod:`omnimsg.policy.content`, and the
state it reads in :mod:`omnimsg.state`. The order of checks is: a retired channel
(P15), consent with broadcast support and the opt-out's scope (X1, P13, B12, B4),
window and mode (W1–W8, with P8 events, P9 sessions, P15 new conversations),
marketing under a tag (P6), templates (C3), content (C1–C6, X3), then what only
delays a send: the monthly quota (P11) and the counts of recent messages (P5, P9,
P10). ``decide`` is the one consent gate: the opt-in machine asks the same rule.

``decide`` is the hot path: it builds nothing it can reuse. Decisions that do not
depend on the instant are built once at import; rendered content is cached on the
:class:`Message` per content-limits object.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import attrs

from omnimsg._convert import shown, to_flag, to_optional_text, to_text
from omnimsg._time import require_aware
from omnimsg.channels.capabilities import ChannelCapabilities, ContentLimits
from omnimsg.channels.kinds import AfterWindow, Mode
from omnimsg.errors import InputError, NaiveDatetimeError
from omnimsg.policy.consent import consent_refusal
from omnimsg.policy.content import Media, OutboundContent, render_content
from omnimsg.policy.rates import countable, delays
from omnimsg.policy.reasons import RULE_OF, Reason
from omnimsg.state import (
    AccountState,
    ConversationState,
    SubscriptionStatus,
)

__all__ = ["Decision", "Message", "decide"]


def _media(value: Media | Iterable[Media]) -> tuple[Media, ...]:
    if isinstance(value, Media):
        return (value,)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError(f"media: expected Media or a sequence of Media, got {shown(value)}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, Media):
            raise InputError(f"media[{i}]: expected Media, got {type(item).__name__}")
    return items


def _text(value: object) -> str:
    return to_text(value, "text")


def _template(value: object) -> str | None:
    return to_optional_text(value, "template")


def _tag(value: object) -> str | None:
    return to_optional_text(value, "tag")


def _marketing(value: object) -> bool:
    return to_flag(value, "marketing")


def _broadcast(value: object) -> bool:
    return to_flag(value, "broadcast")


_RENDERINGS_KEPT = 64  # content-limits objects one message keeps renderings for


@attrs.frozen
class Message:
    """What is to be sent.

    ``template`` names a pre-approved template (W2); ``tag`` is a message tag (W3).
    ``marketing`` messages obey opt-outs (X1); a ``broadcast`` is marketing too and
    also needs the channel to support broadcasts (B4) and, where the profile asks
    for it, a confirmed double opt-in (B12).

    Build a message once and decide it for many contacts: its rendered content is
    cached per channel content limits.
    """

    text: str = attrs.field(default="", converter=_text)
    media: tuple[Media, ...] = attrs.field(default=(), converter=_media)
    template: str | None = attrs.field(default=None, converter=_template)
    tag: str | None = attrs.field(default=None, converter=_tag)
    marketing: bool = attrs.field(default=False, converter=_marketing)
    broadcast: bool = attrs.field(default=False, converter=_broadcast)
    # The last rendering is kept as one (limits, content) pair, replaced in a single
    # assignment so that threads deciding the same message never see a mixed pair;
    # decide() reads it without a call. The dict keeps one rendering per
    # content-limits object for multi-channel sends.
    _last: tuple[ContentLimits, OutboundContent] | None = attrs.field(
        default=None, init=False, repr=False, eq=False, hash=False
    )
    _rendered: dict[int, tuple[ContentLimits, OutboundContent]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False, hash=False
    )

    def render(self, limits: ContentLimits) -> OutboundContent:
        """The content as it goes under ``limits`` (cached per limits object)."""
        if not isinstance(limits, ContentLimits):
            raise InputError(f"limits: expected ContentLimits, got {type(limits).__name__}")
        last = self._last
        if last is not None and last[0] is limits:
            return last[1]
        hit = self._rendered.get(id(limits))
        if hit is not None and hit[0] is limits:
            content = hit[1]
        else:
            content = render_content(
                self.text, self.media, limits, template=self.template is not None
            )
            if len(self._rendered) >= _RENDERINGS_KEPT:
                self._rendered.clear()
            self._rendered[id(limits)] = (limits, content)
        object.__setattr__(self, "_last", (limits, content))
        return content


_DEFAULT_ACCOUNT = AccountState()


class Decision(NamedTuple):
    """The answer to "may this go now, and how?" (W7).

    ``allowed``: whether this message, as given, may be sent now. ``mode``: how a
    message may go now (``BLOCKED`` when nothing may). ``reason``: a stable code
    (:class:`~omnimsg.policy.reasons.Reason`); ``rule`` is its SPEC id.
    ``window_closes_at``: when the window that applies now closes (``None`` without
    one). ``remaining_in_window``: outbound messages still allowed in the window,
    this one included (W5, or after an event, P8), free chatbot-initiated messages
    left this month (W6), or messages left in the monthly quota (P11).
    ``paid``: the send is billed (B17, W6, P11). ``content``: the content as it will
    go, for allowed sends, content refusals and refusals that only say "not now".
    ``retry_at``: for a send refused only for now (a recipient's or a group's rate,
    P5, P10; the unanswered cap, P9; the monthly quota, P11), the first instant it
    may go, decided again then; ``None`` otherwise.

    An immutable named tuple, so that deciding stays cheap; ``bool(decision)`` is
    ``decision.allowed``.
    """

    allowed: bool
    mode: Mode
    reason: Reason
    window_closes_at: datetime | None = None
    remaining_in_window: int | None = None
    paid: bool = False
    content: OutboundContent | None = None
    retry_at: datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def rule(self) -> str:
        """The SPEC rule id behind :attr:`reason`.

        A content refusal names the rule that set the limit, as its content says
        (:attr:`~omnimsg.policy.content.OutboundContent.rule`: X3 for SMS segments,
        C1 where media go as links, C4 for voice notes, else C3).
        """
        content = self.content
        if content is not None and content.problem is self.reason and content.rule:
            return content.rule
        return RULE_OF[self.reason]

    def explain(self) -> str:
        """The decision in words, for logs and command lines."""
        from omnimsg.policy.explain import explain

        return explain(self)


_new = tuple.__new__


def _blocked(reason: Reason) -> Decision:
    return Decision(False, Mode.BLOCKED, reason)


_REFUSED = {reason: _blocked(reason) for reason in Reason}
_NO_PRIOR_INBOUND = _REFUSED[Reason.NO_PRIOR_INBOUND]
_WINDOW_CLOSED = _REFUSED[Reason.WINDOW_CLOSED]
_CAP_REACHED = _REFUSED[Reason.WINDOW_CAP_REACHED]
_RETIRED = _REFUSED[Reason.CHANNEL_RETIRED]
_NO_NEW_CONVERSATIONS = _REFUSED[Reason.NO_NEW_CONVERSATIONS]
_EVENT_CAP_REACHED = _REFUSED[Reason.EVENT_CAP_REACHED]
# Enum member lookups cost more than a global read; the hot path uses these names.
_FREE_FORM = Mode.FREE_FORM
_TEMPLATE = Mode.TEMPLATE
_TAG = Mode.TAG
_CHATBOT = Mode.CHATBOT_INITIATED
_BLOCKED = Mode.BLOCKED
_AFTER_TEMPLATE = AfterWindow.TEMPLATE
_AFTER_TAG = AfterWindow.MESSAGE_TAG
_AFTER_CHATBOT = AfterWindow.CHATBOT_INITIATED
_NO_WINDOW = Reason.NO_WINDOW
_WITHIN = Reason.WITHIN_WINDOW
_WITHIN_EXTENDED = Reason.WITHIN_EXTENDED_WINDOW
_WITHIN_EVENT = Reason.WITHIN_EVENT_WINDOW
_TEMPLATE_OUTSIDE = Reason.TEMPLATE_OUTSIDE_WINDOW
_TAG_OUTSIDE = Reason.TAG_OUTSIDE_WINDOW
_CHATBOT_FREE = Reason.CHATBOT_INITIATED_FREE
_UNSUBSCRIBED = SubscriptionStatus.UNSUBSCRIBED


_Allowed = tuple[Mode, Reason, datetime | None, int | None, bool]
"""What the window rules grant: mode, reason, window close, remaining, paid."""


def _refuse(mode: Mode, reason: Reason, closes: datetime | None) -> Decision:
    return _new(Decision, (False, mode, reason, closes, None, False, None, None))


def decide(
    caps: ChannelCapabilities,
    conversation: ConversationState,
    message: Message,
    *,
    now: datetime,
    account: AccountState | None = None,
) -> Decision:
    """Decide whether ``message`` may go to a contact in ``conversation`` now, and how.

    Args:
        caps: the channel's capabilities, from ``profile.capabilities(kind, as_of=now)``.
        conversation: the contact's state on the sending account.
        message: what is to be sent.
        now: the instant of the send; must be timezone-aware.
        account: the sending account's state (chatbot-initiated quota, W6; monthly
            quota, P11).

    Returns:
        A :class:`Decision`; a refusal is a decision, not an exception.

    Raises:
        NaiveDatetimeError: ``now`` has no time zone.
        InputError: ``now`` is not a datetime or lies outside the supported range, or
            an argument is not of its type.
        ConfigurationError: a capability cannot be applied (a cap of messages per
            period below 1 or above :data:`~omnimsg.state.OUTBOUND_TIMES_KEPT`, a group
            rate that is not a positive number).
    """
    # try costs nothing until it catches (3.11): the checks a wrong argument would
    # fail are made only once something went wrong, so the hot path pays nothing.
    try:
        if now.tzinfo is None:
            raise NaiveDatetimeError(
                f"now must be timezone-aware, got naive datetime {now.isoformat()!r}"
            )
        if caps.retired:
            return _RETIRED  # P15: before anything else, nothing goes

        # Consent first (X1, P13, B12): the one consent rule, for every marketing send
        # and, where an opt-out ends every message (opt_out_scope "all"), for all.
        marketing = message.marketing or message.broadcast
        if marketing or (
            caps.opt_out_scope == "all" and conversation.consent.status is _UNSUBSCRIBED
        ):
            refusal = consent_refusal(
                conversation.consent.status,
                broadcast=message.broadcast,
                double_opt_in=caps.double_opt_in is not None,
                broadcasts=caps.broadcasts,
                marketing=marketing,
                opt_out_scope=caps.opt_out_scope,
            )
            if refusal is not None:
                return _REFUSED[refusal]

        window = caps.window
        last = conversation.last_inbound_at
        if last is None and not caps.new_conversations:
            return _NO_NEW_CONVERSATIONS  # P15
        closes: datetime | None = None
        remaining: int | None = None
        paid = False
        if window is None:
            if last is None and caps.requires_prior_inbound:
                return _NO_PRIOR_INBOUND
            mode = _FREE_FORM if message.template is None else _TEMPLATE
            reason = _NO_WINDOW
        elif (
            # P9: where later messages do not extend it, the window runs from the
            # session's start (a record without one: from the last message).
            start := last if caps.window_extends else conversation.session_started_at or last
        ) is not None and now < (closes := start + window):
            cap = caps.window_outbound_cap
            if cap is not None and (remaining := cap - conversation.outbound_since_inbound) <= 0:
                # W5's cap is reached: only an event's allowance may still let it go (P8).
                granted = _after_event(caps, conversation, message, now)
                if granted is None or isinstance(granted, Decision):
                    return _CAP_REACHED if granted is None else granted
                mode, reason, closes, remaining, paid = granted
            else:
                mode = _FREE_FORM if message.template is None else _TEMPLATE
                reason = _WITHIN
        elif (
            # The HUMAN_AGENT reply inside the extended window is common enough (an agent
            # answering after a day) to be decided here without a call (W3, W4).
            last is not None
            and (tag := message.tag) is not None
            and tag == caps.extended_window_tag
            and (extended := caps.extended_window) is not None
            and now < (closes := last + extended)
        ):
            mode, reason = _TAG, _WITHIN_EXTENDED
        elif (
            # A template outside the window is what a broadcast mostly sends (W2).
            message.template is not None
            and caps.after_window is _AFTER_TEMPLATE
            and (last is not None or not caps.requires_prior_inbound)
        ):
            closes = None
            mode, reason = _TEMPLATE, _TEMPLATE_OUTSIDE
        else:
            closes = None
            granted = _outside_window(caps, message, now, account, conversation)
            if isinstance(granted, Decision):
                return granted
            mode, reason, closes, remaining, paid = granted

        # P6: no promotional content under any message tag, window or not.
        if marketing and message.tag is not None and not caps.marketing_under_tags:
            return _refuse(mode, Reason.MARKETING_UNDER_TAG, closes)

        # A template where the channel has none (C3): say what may go instead.
        if message.template is not None and not caps.templates:
            return _refuse(
                _FREE_FORM if mode is _TEMPLATE else mode, Reason.TEMPLATES_NOT_SUPPORTED, closes
            )

        # Content (C1-C6, X3): rendered once per message and content limits.
        limits = caps.content
        rendered = message._last
        if rendered is not None and rendered[0] is limits:
            content = rendered[1]
        else:
            content = message.render(limits)
        problem = content.problem
        if problem is not None:
            return _new(Decision, (False, mode, problem, closes, remaining, paid, content, None))
        paid_modes = caps.paid_modes
        if paid_modes and mode in paid_modes and reason is not _CHATBOT_FREE:
            paid = True  # a chatbot-initiated message within the free quota is free (W6, P9)
        # Last, what only delays a send: the monthly quota (P11) and the counts of
        # recent messages (P5, P9, P10), which need recorded messages to refuse.
        if conversation.outbound_times or caps.monthly_quota is not None:
            return _counted(
                caps, conversation, now, account, (mode, reason, closes, remaining, paid), content
            )
        return _new(Decision, (True, mode, reason, closes, remaining, paid, content, None))
    except (AttributeError, TypeError, OverflowError) as exc:
        raise _bad_arguments(caps, conversation, message, now, account, exc) from None


def _bad_arguments(
    caps: object,
    conversation: object,
    message: object,
    now: object,
    account: object,
    exc: Exception,
) -> InputError:
    """The documented error for the arguments that made :func:`decide` fail."""
    for name, value, cls in (
        ("caps", caps, ChannelCapabilities),
        ("conversation", conversation, ConversationState),
        ("message", message, Message),
    ):
        if not isinstance(value, cls):
            return InputError(f"{name}: expected {cls.__name__}, got {type(value).__name__}")
    if account is not None and not isinstance(account, AccountState):
        return InputError(f"account: expected AccountState, got {type(account).__name__}")
    if not isinstance(now, datetime):
        return InputError(f"now: expected an aware datetime, got {type(now).__name__}")
    try:
        require_aware(now, "now")
    except NaiveDatetimeError as naive:
        return naive
    if isinstance(exc, OverflowError):
        return InputError(f"now: {now.isoformat()} is too close to the ends of the date range")
    return InputError(f"decide: unusable arguments ({type(exc).__name__}: {exc})")


def _outside_window(
    caps: ChannelCapabilities,
    message: Message,
    now: datetime,
    account: AccountState | None,
    conversation: ConversationState,
) -> Decision | _Allowed:
    """The standard window is closed (or never opened): an event's allowance (P8), the
    extended window, then what the channel allows after it."""
    event = _after_event(caps, conversation, message, now)
    if event is not None and not isinstance(event, Decision):
        return event
    granted = _after_window(caps, message, now, account, conversation.last_inbound_at)
    if event is not None and isinstance(granted, Decision) and granted.mode is _BLOCKED:
        return event  # nothing else would go: the event's used-up allowance is why
    return granted


def _after_window(
    caps: ChannelCapabilities,
    message: Message,
    now: datetime,
    account: AccountState | None,
    last: datetime | None,
) -> Decision | _Allowed:
    """The window rules once the standard window is closed (or never opened)."""
    extended_closes: datetime | None = None
    if last is not None and caps.extended_window is not None:
        extended_closes = last + caps.extended_window
        if now < extended_closes:
            tag = message.tag
            if tag is not None and tag == caps.extended_window_tag:
                return (_TAG, _WITHIN_EXTENDED, extended_closes, None, False)
        else:
            extended_closes = None
    elif last is None and caps.requires_prior_inbound:
        return _NO_PRIOR_INBOUND

    after = caps.after_window
    if after is _AFTER_TEMPLATE:
        if message.template is not None:
            return (_TEMPLATE, _TEMPLATE_OUTSIDE, None, None, False)
        return _refuse(_TEMPLATE, Reason.TEMPLATE_REQUIRED, None)
    if after is _AFTER_TAG:
        tag = message.tag
        if tag is not None and tag in caps.message_tags:
            return (_TAG, _TAG_OUTSIDE, extended_closes, None, False)
        if tag is None or (tag == caps.extended_window_tag and extended_closes is not None):
            return _refuse(_TAG, Reason.TAG_REQUIRED, extended_closes)
        return _refuse(_TAG, Reason.TAG_NOT_ALLOWED, extended_closes)
    if after is _AFTER_CHATBOT:
        acct = account if account is not None else _DEFAULT_ACCOUNT
        free = caps.chatbot_free_per_month
        cutoff = caps.chatbot_free_created_before
        if cutoff is not None and acct.created_at is not None and acct.created_at >= cutoff:
            free = 0  # a bot created from the cutoff has no free messages (P9)
        if free is None:
            if _CHATBOT in caps.paid_modes:  # no free quota: every one is paid (P9)
                return (_CHATBOT, Reason.CHATBOT_INITIATED_PAID, None, None, True)
            return (_CHATBOT, _CHATBOT_FREE, None, None, False)
        left = free - acct.chatbot_count_at(now)
        if left > 0:
            return (_CHATBOT, _CHATBOT_FREE, None, left, False)
        if acct.paid_chatbot_terms:
            return (_CHATBOT, Reason.CHATBOT_INITIATED_PAID, None, 0, True)
        return _refuse(_CHATBOT, Reason.CHATBOT_QUOTA_EXHAUSTED, None)
    # In the extended window only its tag may go; after it, nothing (W4).
    if extended_closes is not None:
        if message.tag is None:
            return _refuse(_TAG, Reason.TAG_REQUIRED, extended_closes)
        return _refuse(_TAG, Reason.TAG_NOT_ALLOWED, extended_closes)
    return _WINDOW_CLOSED


# --- the platforms' own rules (SPEC section 7) ------------------------------------------


def _after_event(
    caps: ChannelCapabilities, conversation: ConversationState, message: Message, now: datetime
) -> Decision | _Allowed | None:
    """What the contact's last menu click, follow or scan allows now (P8).

    ``None`` when no event's window is open; within it, up to ``event_outbound_cap``
    messages sent since the event, whatever the message window says.
    """
    at = conversation.last_event_at
    window = caps.event_window
    if at is None or window is None or now >= (closes := at + window):
        return None
    remaining = None
    cap = caps.event_outbound_cap
    if cap is not None:
        countable(cap, "event_outbound_cap")
        times = conversation.outbound_times
        remaining = cap - (len(times) - bisect_left(times, at))
        if remaining <= 0:
            return _EVENT_CAP_REACHED
    mode = _FREE_FORM if message.template is None else _TEMPLATE
    return (mode, _WITHIN_EVENT, closes, remaining, False)


def _counted(
    caps: ChannelCapabilities,
    conversation: ConversationState,
    now: datetime,
    account: AccountState | None,
    granted: _Allowed,
    content: OutboundContent,
) -> Decision:
    """An otherwise allowed send, against the monthly quota (P11) and the counts of
    recent messages (P9 unanswered, P5 per recipient, P10 per group)."""
    mode, reason, closes, remaining, paid = granted
    refusal, retry_at, remaining, paid = delays(caps, conversation, now, account, remaining, paid)
    if refusal is not None:
        return _new(Decision, (False, mode, refusal, closes, remaining, paid, content, retry_at))
    return _new(Decision, (True, mode, reason, closes, remaining, paid, content, None))
