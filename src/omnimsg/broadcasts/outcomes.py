"""What a plan says of each audience contact: planned, held or excluded, and why.

An outcome is a small immutable tuple, one per audience entry; a planned or held
contact's sends are :class:`PlannedSend` values carrying their account, batch, the
instant they may go and an idempotency key (X5). Reason codes are stable strings:
the planner's own (:class:`PlanReason`) and the refusals of
:func:`omnimsg.decide` (:class:`~omnimsg.policy.reasons.Reason`), each with its
SPEC rule (:func:`reason_rule`).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from omnimsg._convert import shown
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.errors import InputError
from omnimsg.policy.reasons import REASONS, Reason, ReasonInfo

__all__ = [
    "PLAN_REASONS",
    "ContactOutcome",
    "OutcomeKind",
    "PlanReason",
    "PlannedSend",
    "SendKind",
    "reason_rule",
    "reason_words",
]


class OutcomeKind(StrEnum):
    """What becomes of one audience entry."""

    PLANNED = "planned"
    """The broadcast's messages are planned for the contact."""
    HELD = "held"
    """Waiting for the double opt-in (B12); its prompts may be planned."""
    EXCLUDED = "excluded"
    """Nothing is sent; the reason says why."""


class SendKind(StrEnum):
    """What a planned send is."""

    MESSAGE = "message"
    """One of the broadcast's messages."""
    PROMPT = "prompt"
    """The double opt-in prompt, sent when the broadcast would first go (B12)."""
    REMINDER = "reminder"
    """The prompt again, ``reminder_after`` the first (B12)."""


class PlanReason(StrEnum):
    """Why the planner holds or excludes a contact, beyond :func:`omnimsg.decide`'s reasons."""

    NO_IDENTITY = "no_identity"
    NO_CHANNEL = "no_channel"
    CHANNEL_NOT_SELECTED = "channel_not_selected"
    NOT_INTERACTED = "not_interacted"
    NO_SENDER = "no_sender"
    INVALID_PHONE = "invalid_phone"
    UNKNOWN_CONTACT = "unknown_contact"
    UNKNOWN_ID = "unknown_id"
    OTHER_ACCOUNT = "other_account"
    DUPLICATE = "duplicate"
    FREQUENCY_CAP = "frequency_cap"
    AFTER_SEVEN_DAYS = "after_seven_days"
    MISSING_VARIABLE = "missing_variable"


_P = PlanReason
PLAN_REASONS = MappingProxyType(
    {
        _P.NO_IDENTITY: ReasonInfo(
            "B2", "the contact has no identity (or phone) on the channel account"
        ),
        _P.NO_CHANNEL: ReasonInfo(
            "B3", "the contact has no last interacted channel among the selected ones"
        ),
        _P.CHANNEL_NOT_SELECTED: ReasonInfo(
            "B3", "the contact's last interacted channel is not selected for this broadcast"
        ),
        _P.NOT_INTERACTED: ReasonInfo(
            "B6", "the contact never interacted on this channel and the broadcast asks for it"
        ),
        _P.NO_SENDER: ReasonInfo("B11", "no sender account of the broadcast can reach the contact"),
        _P.INVALID_PHONE: ReasonInfo("A5", "the contact's phone number is not a valid number"),
        _P.UNKNOWN_CONTACT: ReasonInfo("A2", "no contact has this id"),
        _P.UNKNOWN_ID: ReasonInfo("A4", "no contact has this id on the channel account"),
        _P.OTHER_ACCOUNT: ReasonInfo(
            "A4", "the id belongs to another channel account than the one chosen"
        ),
        _P.DUPLICATE: ReasonInfo("A3", "the contact is already in the audience: counted once"),
        _P.FREQUENCY_CAP: ReasonInfo(
            "X4", "the contact would get more marketing messages than the frequency cap allows"
        ),
        _P.AFTER_SEVEN_DAYS: ReasonInfo(
            "B10", "no send time is left within 7 days of the broadcast's start"
        ),
        _P.MISSING_VARIABLE: ReasonInfo(
            "C5", "the message names a variable the contact has no value for, without a fallback"
        ),
    }
)
"""The planner's own reasons, each with its SPEC rule and words."""

PHONE_ADDRESS = re.compile(r"\+?[1-9][0-9]{6,14}")
"""A phone address on a phone channel: E.164, or a WhatsApp id (its digits). An
address that does not match is an invalid phone (A5); the planner and the auditor
(which reads the number of a log's contact for a region's rules, P12) share it."""

UNCOUNTED_REASONS = frozenset({Reason.WITHIN_WINDOW, Reason.WITHIN_EXTENDED_WINDOW})
"""The reasons of a decision whose send does not count toward a messaging limit where
replies inside a window do not count (B13, P4: ``replies_in_window_count`` false);
the planner and the auditor share it."""


def reason_rule(code: str) -> str:
    """The SPEC rule id of a reason code (the planner's or :func:`omnimsg.decide`'s)."""
    return _info(code).rule


def reason_words(code: str) -> str:
    """A reason code in words."""
    return _info(code).words


def _info(code: str) -> ReasonInfo:
    info = _ALL_REASONS.get(code) if isinstance(code, str) else None
    if info is None:
        raise InputError(f"unknown reason code {shown(code)}")
    return info


_ALL_REASONS: dict[str, ReasonInfo] = {
    **{str(reason): info for reason, info in REASONS.items()},
    **{str(reason): info for reason, info in PLAN_REASONS.items()},
}


class PlannedSend(NamedTuple):
    """One message to one recipient on one account, not before an instant.

    ``key`` is the send's idempotency key (X5): the same draft, occurrence, contact
    and message always give the same key, whichever account sends it. ``batch``
    names the batch of ``account_id`` it belongs to; ``not_before`` is the earliest
    instant it may go (UTC). ``address`` is the recipient on the account (the
    platform id or the phone). ``text`` is the content as it goes (snippets filled,
    media links appended where the channel sends links); ``params`` the template's
    parameters, filled for the contact, and ``template`` its name (``tag`` a message
    tag, W3). ``number`` counts the contact's messages (or prompts) from 1.
    ``hours`` is the interval of the recipient's allowed hours (quiet hours, X2, P12)
    that holds ``not_before``, ``None`` when any time is allowed: a dispatcher running
    late keeps the send within the same hours of a later day.
    """

    key: str
    contact_id: str
    account_id: str
    channel: ChannelKind
    address: str
    kind: SendKind
    number: int
    not_before: datetime
    batch: str
    mode: Mode
    paid: bool
    text: str
    params: tuple[tuple[str, str], ...] = ()
    template: str | None = None
    tag: str | None = None
    hours: tuple[datetime, datetime] | None = None


class ContactOutcome(NamedTuple):
    """What the plan does for one audience entry.

    ``entry`` is the entry as the audience gave it (a contact id, or an external id
    of an id list); ``contact_id`` the contact it names (``None`` when no contact
    does). ``reason`` and ``rule`` say why a contact is held or excluded (a reason
    code and its SPEC id); ``channel`` and ``account_id`` say where it goes.
    """

    entry: str
    contact_id: str | None
    outcome: OutcomeKind
    reason: str | None
    rule: str | None
    channel: ChannelKind | None
    account_id: str | None
    sends: tuple[PlannedSend, ...] = ()

    @property
    def messages(self) -> int:
        """How many of the broadcast's messages are planned (prompts not counted)."""
        return sum(1 for send in self.sends if send.kind is SendKind.MESSAGE)
