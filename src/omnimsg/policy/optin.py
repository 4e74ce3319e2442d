"""Opt-in and opt-out state per contact and sender (B12, X1).

This module owns the consent state machine of one contact with one sender: the
double opt-in before the first broadcast (B12) and the opt-out, re-subscribe and help
keywords (X1). All of its transitions live here, as pure functions from a state (the
consent record, :class:`~omnimsg.state.OptInState`) and an input (a broadcast to
send, a reply, the passing of time) to a new state and the events a backend must act
on. Whether a broadcast may go is the consent rule of
:mod:`omnimsg.policy.consent`, the same one :func:`omnimsg.decide` applies. Nothing
here sends, stores or reads the clock: time comes in as ``now=`` and every event is a
value for the caller to carry out.

The state diagram, the events and the choices made are in docs/optin.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

import attrs

from omnimsg._convert import out_of_range, to_instant
from omnimsg.channels.capabilities import ChannelCapabilities, DoubleOptIn, KeywordSet
from omnimsg.errors import ConfigurationError, InputError
from omnimsg.policy.consent import consent_refusal
from omnimsg.policy.reasons import Reason
from omnimsg.state import OptInState, SubscriptionStatus

__all__ = [
    "DeliverBroadcast",
    "DropBroadcast",
    "HoldBroadcast",
    "KeywordAction",
    "OpenTicket",
    "OptInEvent",
    "OptInRules",
    "RefuseBroadcast",
    "ReleaseBroadcast",
    "SendHelp",
    "SendOptOutConfirmation",
    "SendPrompt",
    "Transition",
    "classify_reply",
    "next_prompt_at",
    "receive_reply",
    "request_broadcast",
    "tick",
]


class KeywordAction(StrEnum):
    """What a keyword reply asks for (X1)."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# --- keywords (X1) -----------------------------------------------------------------


def _normal(text: str) -> str:
    """A reply as compared: outer whitespace dropped, inner runs made one space, casefolded."""
    return " ".join(text.split()).casefold()


def _locales(keywords: Mapping[str, KeywordSet], locale: str | None) -> list[str]:
    """The locales to match in: ``locale`` (or its language) if configured, else all."""
    if locale is not None:
        wanted = locale.replace("_", "-").casefold()
        language = wanted.split("-", 1)[0]
        by_name = {name.replace("_", "-").casefold(): name for name in keywords}
        for candidate in (wanted, language):
            if candidate in by_name:
                return [by_name[candidate]]
    return list(keywords)


def _words(keywords: KeywordSet, action: KeywordAction) -> frozenset[str]:
    if action is KeywordAction.OPT_OUT:
        return keywords.opt_out
    if action is KeywordAction.OPT_IN:
        return keywords.opt_in
    return keywords.help


def _match(
    text: str, keywords: Mapping[str, KeywordSet], locale: str | None
) -> tuple[KeywordAction, str] | None:
    """The first action (in :class:`KeywordAction` order) whose keyword ``text`` is."""
    reply = _normal(text)
    if not reply:
        return None
    preferred = _locales(keywords, locale)
    # An opt-out is honoured in any configured language: a contact filed under "es"
    # who texts STOP has opted out all the same.
    everywhere = preferred + [name for name in keywords if name not in preferred]
    for action in KeywordAction:
        names = everywhere if action is KeywordAction.OPT_OUT else preferred
        for name in names:
            if any(_normal(word) == reply for word in _words(keywords[name], action)):
                return action, name
    return None


def classify_reply(
    text: str, keywords: Mapping[str, KeywordSet], locale: str | None = None
) -> KeywordAction | None:
    """The keyword action a reply asks for (X1), or ``None`` when it is no keyword.

    The whole reply must equal a keyword, outer whitespace and letter case aside
    (runs of inner whitespace count as one space: ``"opt  out"`` is ``OPT OUT``).
    ``keywords`` maps a locale to its :class:`KeywordSet`. Opt-out words match in
    every locale, always. For opt-in and help words, with ``locale`` only that
    locale's set is used (``"es-MX"`` falls back to ``"es"``); a locale with no set of
    its own, or no locale, matches across all sets. When a word is in several lists,
    opting out wins over opting in, and opting in over help.
    """
    if not isinstance(text, str):
        raise InputError(f"text: expected the reply as text, got {type(text).__name__}")
    if not isinstance(keywords, Mapping) or not all(
        isinstance(words, KeywordSet) for words in keywords.values()
    ):
        raise InputError("keywords: expected a mapping of locale to KeywordSet")
    if locale is not None and not isinstance(locale, str):
        raise InputError(f"locale: expected text or None, got {type(locale).__name__}")
    found = _match(text, keywords, locale)
    return None if found is None else found[0]


# --- rules, state, events ----------------------------------------------------------

_NO_KEYWORDS: Mapping[str, KeywordSet] = MappingProxyType({})


def _frozen_keywords(value: Mapping[str, KeywordSet]) -> Mapping[str, KeywordSet]:
    if not isinstance(value, Mapping) or not all(
        isinstance(locale, str) and isinstance(words, KeywordSet) for locale, words in value.items()
    ):
        raise InputError("OptInRules.keywords: expected a mapping of locale to KeywordSet")
    return MappingProxyType(dict(value))


def _double_opt_in(value: object) -> DoubleOptIn | None:
    if value is not None and not isinstance(value, DoubleOptIn):
        raise InputError(
            f"OptInRules.double_opt_in: expected DoubleOptIn or None, got {type(value).__name__}"
        )
    return value


@attrs.frozen
class OptInRules:
    """The consent rules of one sender: double opt-in (B12) and reply keywords (X1).

    Build once per sender (see :meth:`from_capabilities`) and pass to every
    transition. ``double_opt_in`` of ``None`` means broadcasts need no prompt.

    Raises :class:`~omnimsg.errors.ConfigurationError` when the double opt-in rules
    cannot work: no prompt allowed, a reminder delay that is not positive, or a reply
    that is both yes and no.
    """

    double_opt_in: DoubleOptIn | None = attrs.field(default=None, converter=_double_opt_in)
    keywords: Mapping[str, KeywordSet] = attrs.field(
        default=_NO_KEYWORDS, converter=_frozen_keywords
    )
    _yes: frozenset[str] = attrs.field(init=False, eq=False, repr=False)
    _no: frozenset[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        rules = self.double_opt_in or _DEFAULT_DOUBLE_OPT_IN
        yes = frozenset(_normal(word) for word in rules.yes_replies) - {""}
        no = frozenset(_normal(word) for word in rules.no_replies) - {""}
        if self.double_opt_in is not None:
            problems = []
            if rules.max_prompts < 1:
                problems.append(f"max_prompts must be at least 1, got {rules.max_prompts}")
            if rules.reminder_after <= timedelta(0):
                problems.append(f"reminder_after must be positive, got {rules.reminder_after}")
            if not yes or not no:
                problems.append("yes_replies and no_replies must each hold a reply")
            if yes & no:
                problems.append(f"replies both yes and no: {sorted(yes & no)}")
            if problems:
                raise ConfigurationError("invalid double opt-in (B12): " + "; ".join(problems))
        object.__setattr__(self, "_yes", yes)
        object.__setattr__(self, "_no", no)

    @classmethod
    def from_capabilities(cls, capabilities: ChannelCapabilities) -> OptInRules:
        """The rules a channel's capabilities give (its ``double_opt_in`` and ``keywords``)."""
        if not isinstance(capabilities, ChannelCapabilities):
            raise InputError(
                f"capabilities: expected ChannelCapabilities, got {type(capabilities).__name__}"
            )
        return cls(double_opt_in=capabilities.double_opt_in, keywords=capabilities.keywords)

    def answer(self, text: str) -> bool | None:
        """``True`` for a yes reply, ``False`` for a no reply, ``None`` for anything else."""
        if not isinstance(text, str):
            raise InputError(f"text: expected the reply as text, got {type(text).__name__}")
        reply = _normal(text)
        if reply in self._yes:
            return True
        if reply in self._no:
            return False
        return None


_DEFAULT_DOUBLE_OPT_IN = DoubleOptIn()


@attrs.frozen
class SendPrompt:
    """Send the subscription prompt ``text``; ``number`` 1 is the first, 2 the reminder."""

    text: str
    number: int

    @property
    def reminder(self) -> bool:
        """Whether this prompt repeats an earlier one."""
        return self.number > 1


@attrs.frozen
class OpenTicket:
    """Open a ticket for the business with a reply that answered no prompt (B12)."""

    reply: str


@attrs.frozen
class DeliverBroadcast:
    """Send the broadcast now: the contact's consent allows it."""

    broadcast_id: str


@attrs.frozen
class HoldBroadcast:
    """Keep the broadcast for this contact until the opt-in is answered (B12)."""

    broadcast_id: str
    reason: Reason


@attrs.frozen
class ReleaseBroadcast:
    """Send a held broadcast now: the contact subscribed."""

    broadcast_id: str


@attrs.frozen
class DropBroadcast:
    """Discard a held broadcast for this contact; ``reason`` says why (B15 reporting)."""

    broadcast_id: str
    reason: Reason


@attrs.frozen
class RefuseBroadcast:
    """Do not send the broadcast to this contact; ``reason`` says why."""

    broadcast_id: str
    reason: Reason


@attrs.frozen
class SendHelp:
    """Answer a HELP keyword with the sender's help text, in ``locale`` when known."""

    locale: str | None = None


@attrs.frozen
class SendOptOutConfirmation:
    """Send the one confirmation an opt-out allows, in ``locale`` when known (X1)."""

    locale: str | None = None


OptInEvent: TypeAlias = (
    SendPrompt
    | OpenTicket
    | DeliverBroadcast
    | HoldBroadcast
    | ReleaseBroadcast
    | DropBroadcast
    | RefuseBroadcast
    | SendHelp
    | SendOptOutConfirmation
)
"""Everything a transition can ask the backend to do."""

Transition: TypeAlias = tuple[OptInState, tuple[OptInEvent, ...]]
"""A new state and the events to act on, in order."""


# --- transitions -------------------------------------------------------------------


def _checked(state: object, rules: object, now: object) -> datetime:
    """Refuse arguments of the wrong kind with :class:`InputError`; ``now`` in UTC."""
    if not isinstance(state, OptInState):
        raise InputError(f"state: expected an OptInState, got {type(state).__name__}")
    if not isinstance(rules, OptInRules):
        raise InputError(f"rules: expected OptInRules, got {type(rules).__name__}")
    return to_instant(now, "now")


def request_broadcast(
    state: OptInState, broadcast_id: str, rules: OptInRules, *, now: datetime
) -> Transition:
    """A broadcast would go to the contact now: deliver, hold, or refuse it (B12, X1).

    The consent rule (:func:`~omnimsg.policy.consent.consent_refusal`) decides; this
    machine acts on its answer. No refusal delivers. OPT_IN_REQUIRED sends the first
    prompt, holds the broadcast and makes the contact PROMPTED. OPT_IN_PENDING holds
    it too (asking again for one already held changes nothing). OPT_IN_DECLINED and
    OPTED_OUT refuse it.
    """
    at = _checked(state, rules, now)
    if not isinstance(broadcast_id, str):
        raise InputError(f"broadcast_id: expected text, got {type(broadcast_id).__name__}")
    refusal = consent_refusal(
        state.status, broadcast=True, double_opt_in=rules.double_opt_in is not None
    )
    if refusal is None:
        return state, (DeliverBroadcast(broadcast_id),)
    if refusal is Reason.OPT_IN_REQUIRED and rules.double_opt_in is not None:
        prompted = OptInState(
            status=SubscriptionStatus.PROMPTED,
            prompts_sent=1,
            first_prompt_at=at,
            last_prompt_at=at,
            held=(broadcast_id,),
            changed_at=at,
        )
        return prompted, (
            SendPrompt(rules.double_opt_in.prompt, 1),
            HoldBroadcast(broadcast_id, refusal),
        )
    if refusal is Reason.OPT_IN_PENDING:
        event = HoldBroadcast(broadcast_id, refusal)
        if broadcast_id in state.held:
            return state, (event,)
        return attrs.evolve(state, held=(*state.held, broadcast_id)), (event,)
    return state, (RefuseBroadcast(broadcast_id, refusal),)


def next_prompt_at(state: OptInState, rules: OptInRules) -> datetime | None:
    """When :func:`tick` will next send a reminder prompt, or ``None`` if never.

    ``None`` too for a PROMPTED status imported without the time of its prompt.
    """
    if not isinstance(state, OptInState) or not isinstance(rules, OptInRules):
        raise InputError("next_prompt_at: expected an OptInState and OptInRules")
    opt_in = rules.double_opt_in
    if (
        opt_in is None
        or state.status is not SubscriptionStatus.PROMPTED
        or state.prompts_sent >= opt_in.max_prompts
        or state.last_prompt_at is None
    ):
        return None
    try:
        return state.last_prompt_at + opt_in.reminder_after
    except OverflowError:
        raise out_of_range("last_prompt_at", state.last_prompt_at) from None


def tick(state: OptInState, rules: OptInRules, *, now: datetime) -> Transition:
    """Time has passed: send the reminder prompt once it is due (B12).

    A contact still PROMPTED gets the next prompt ``reminder_after`` the previous
    one, until ``max_prompts`` were sent (by default the second and last prompt,
    24 h after the first). A late tick sends one prompt, not the ones it missed.
    """
    at = _checked(state, rules, now)
    due = next_prompt_at(state, rules)
    if due is None or at < due or rules.double_opt_in is None:
        return state, ()
    number = state.prompts_sent + 1
    new = attrs.evolve(state, prompts_sent=number, last_prompt_at=at)
    return new, (SendPrompt(rules.double_opt_in.prompt, number),)


def _settle(
    state: OptInState, status: SubscriptionStatus, now: datetime, drop: Reason | None
) -> Transition:
    """Leave PROMPTED (or any state) for ``status``, releasing or dropping what is held."""
    events: tuple[OptInEvent, ...]
    if drop is None:
        events = tuple(ReleaseBroadcast(b) for b in state.held)
    else:
        events = tuple(DropBroadcast(b, drop) for b in state.held)
    new = attrs.evolve(state, status=status, held=(), changed_at=now)
    return new, events


def receive_reply(
    state: OptInState,
    text: str,
    rules: OptInRules,
    *,
    now: datetime,
    locale: str | None = None,
) -> Transition:
    """The contact replied ``text``: apply keywords (X1) and opt-in answers (B12).

    In order:

    1. An opt-out keyword makes the contact UNSUBSCRIBED from any state, drops every
       held broadcast (OPTED_OUT) and asks for one confirmation; a contact already
       UNSUBSCRIBED gets nothing more.
    2. While PROMPTED, a yes reply (``S``) subscribes and releases the held
       broadcasts; a no reply (``N``) declines and drops them (OPT_IN_DECLINED).
       Either prompt may be answered, before or after the reminder.
    3. An opt-in keyword (START, UNSTOP) subscribes from any other state, releasing
       anything held.
    4. HELP asks for the help text; the state does not change.
    5. Any other reply while PROMPTED opens a ticket with the reply and changes
       nothing. Outside PROMPTED, any other reply (``S`` and ``N`` included) is an
       ordinary message: no event, no change.
    """
    at = _checked(state, rules, now)
    if not isinstance(text, str):
        raise InputError(f"text: expected the reply as text, got {type(text).__name__}")
    if locale is not None and not isinstance(locale, str):
        raise InputError(f"locale: expected text or None, got {type(locale).__name__}")
    found = _match(text, rules.keywords, locale)
    action, matched_locale = found if found is not None else (None, None)
    status = state.status
    if action is KeywordAction.OPT_OUT:
        if status is SubscriptionStatus.UNSUBSCRIBED:
            return state, ()
        new, events = _settle(state, SubscriptionStatus.UNSUBSCRIBED, at, Reason.OPTED_OUT)
        return new, (*events, SendOptOutConfirmation(matched_locale))
    if status is SubscriptionStatus.PROMPTED:
        answer = rules.answer(text)
        if answer is True:
            return _settle(state, SubscriptionStatus.SUBSCRIBED, at, None)
        if answer is False:
            return _settle(state, SubscriptionStatus.DECLINED, at, Reason.OPT_IN_DECLINED)
    if action is KeywordAction.OPT_IN:
        if status is SubscriptionStatus.SUBSCRIBED:
            return state, ()
        return _settle(state, SubscriptionStatus.SUBSCRIBED, at, None)
    if action is KeywordAction.HELP:
        return state, (SendHelp(matched_locale),)
    if status is SubscriptionStatus.PROMPTED:
        return state, (OpenTicket(text),)
    return state, ()
