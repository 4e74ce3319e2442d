"""Reason codes: why a decision came out the way it did, with their rule and words.

Each value is a stable string (users store and match on it). :data:`REASONS` is the
one table that says, for each reason, the SPEC rule it comes from and what it means
in words; :data:`RULE_OF` and the explanations are read from it. docs/decisions.md
lists them all.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["REASONS", "RULE_OF", "Reason", "ReasonInfo"]


class Reason(StrEnum):
    """Why a message may or may not go, one code per rule."""

    # allowed
    NO_WINDOW = "no_window"
    WITHIN_WINDOW = "within_window"
    WITHIN_EXTENDED_WINDOW = "within_extended_window"
    TEMPLATE_OUTSIDE_WINDOW = "template_outside_window"
    TAG_OUTSIDE_WINDOW = "tag_outside_window"
    CHATBOT_INITIATED_FREE = "chatbot_initiated_free"
    CHATBOT_INITIATED_PAID = "chatbot_initiated_paid"
    WITHIN_EVENT_WINDOW = "within_event_window"
    # refused: window and mode
    NO_PRIOR_INBOUND = "no_prior_inbound"
    TEMPLATE_REQUIRED = "template_required"
    TEMPLATES_NOT_SUPPORTED = "templates_not_supported"
    TAG_REQUIRED = "tag_required"
    TAG_NOT_ALLOWED = "tag_not_allowed"
    WINDOW_CLOSED = "window_closed"
    WINDOW_CAP_REACHED = "window_cap_reached"
    CHATBOT_QUOTA_EXHAUSTED = "chatbot_quota_exhausted"
    EVENT_CAP_REACHED = "event_cap_reached"
    # refused: the platforms' own rules (SPEC section 7)
    CHANNEL_RETIRED = "channel_retired"
    NO_NEW_CONVERSATIONS = "no_new_conversations"
    MARKETING_UNDER_TAG = "marketing_under_tag"
    UNANSWERED_CAP_REACHED = "unanswered_cap_reached"
    RECIPIENT_RATE = "recipient_rate"
    GROUP_RATE = "group_rate"
    MONTHLY_QUOTA_REACHED = "monthly_quota_reached"
    # refused: consent and plan
    OPTED_OUT = "opted_out"
    OPT_IN_REQUIRED = "opt_in_required"
    OPT_IN_PENDING = "opt_in_pending"
    OPT_IN_DECLINED = "opt_in_declined"
    BROADCASTS_NOT_SUPPORTED = "broadcasts_not_supported"
    # refused: content
    CONTENT_TOO_LONG = "content_too_long"
    VOICE_NOTE_TOO_LONG = "voice_note_too_long"


class ReasonInfo(NamedTuple):
    """What one reason means: its SPEC rule id and its words."""

    rule: str
    words: str


_R = Reason
REASONS = MappingProxyType(
    {
        _R.NO_WINDOW: ReasonInfo(
            "W1", "the channel has no messaging window: any message may be sent"
        ),
        _R.WITHIN_WINDOW: ReasonInfo("W2", "inside the messaging window: any message may be sent"),
        _R.WITHIN_EXTENDED_WINDOW: ReasonInfo(
            "W3", "inside the extended window, with the tag that grants it"
        ),
        _R.TEMPLATE_OUTSIDE_WINDOW: ReasonInfo(
            "W2", "outside the window, sent as a pre-approved template"
        ),
        _R.TAG_OUTSIDE_WINDOW: ReasonInfo("W3", "outside the window, sent with a message tag"),
        _R.CHATBOT_INITIATED_FREE: ReasonInfo(
            "W6",
            "outside the window: a chatbot-initiated message, within the free monthly quota",
        ),
        _R.CHATBOT_INITIATED_PAID: ReasonInfo(
            "W6",
            "outside the window: a chatbot-initiated message beyond the free monthly quota, "
            "billed under the account's paid terms",
        ),
        _R.WITHIN_EVENT_WINDOW: ReasonInfo(
            "P8",
            "the message window is closed, but the contact clicked a menu, followed or "
            "scanned a code moments ago: a few messages may follow it",
        ),
        _R.NO_PRIOR_INBOUND: ReasonInfo("W8", "the contact has never written on this channel"),
        _R.TEMPLATE_REQUIRED: ReasonInfo(
            "W2", "the window is closed: only a pre-approved template may be sent"
        ),
        _R.TEMPLATES_NOT_SUPPORTED: ReasonInfo(
            "C3", "this channel has no pre-approved templates: send the text itself"
        ),
        _R.TAG_REQUIRED: ReasonInfo(
            "W3", "the standard window is closed: only a message with a tag may be sent"
        ),
        _R.TAG_NOT_ALLOWED: ReasonInfo("W3", "this message tag is not accepted now"),
        _R.WINDOW_CLOSED: ReasonInfo(
            "W4", "the window is closed: nothing may be sent until the contact writes"
        ),
        _R.WINDOW_CAP_REACHED: ReasonInfo(
            "W5",
            "the window's outbound message cap is reached: nothing more until the contact writes",
        ),
        _R.CHATBOT_QUOTA_EXHAUSTED: ReasonInfo(
            "W6",
            "the free monthly quota of chatbot-initiated messages is used up and the "
            "account has not agreed to paid terms",
        ),
        _R.EVENT_CAP_REACHED: ReasonInfo(
            "P8",
            "the messages allowed after the contact's menu click, follow or scan are used up",
        ),
        _R.CHANNEL_RETIRED: ReasonInfo(
            "P15", "the platform has shut this channel down: nothing may be sent"
        ),
        _R.NO_NEW_CONVERSATIONS: ReasonInfo(
            "P15",
            "the channel takes no new conversations: only a contact who has written may be sent to",
        ),
        _R.MARKETING_UNDER_TAG: ReasonInfo(
            "P6", "promotional content may not be sent under a message tag"
        ),
        _R.UNANSWERED_CAP_REACHED: ReasonInfo(
            "P9",
            "the contact has not replied to the messages already sent in this period: "
            "no more until the period passes or the contact writes",
        ),
        _R.RECIPIENT_RATE: ReasonInfo(
            "P5", "too soon after the last message to this recipient: it may go later"
        ),
        _R.GROUP_RATE: ReasonInfo(
            "P10", "the group chat's messages per minute are used up: it may go later"
        ),
        _R.MONTHLY_QUOTA_REACHED: ReasonInfo(
            "P11",
            "the plan's monthly message quota is used up and the plan does not pay for "
            "more; replies within the free reply window still go",
        ),
        _R.OPTED_OUT: ReasonInfo(
            "X1",
            "the contact opted out of this sender's marketing (of every business-initiated "
            "message where the opt-out's scope is all, P13)",
        ),
        _R.OPT_IN_REQUIRED: ReasonInfo(
            "B12", "the contact must first confirm the subscription prompt"
        ),
        _R.OPT_IN_PENDING: ReasonInfo(
            "B12", "the subscription prompt was sent and is not answered yet"
        ),
        _R.OPT_IN_DECLINED: ReasonInfo(
            "B12", "the contact declined the subscription: no marketing from this sender"
        ),
        _R.BROADCASTS_NOT_SUPPORTED: ReasonInfo(
            "B4", "this channel (or plan) does not support broadcasts"
        ),
        _R.CONTENT_TOO_LONG: ReasonInfo("C3", "the content is longer than the channel allows"),
        _R.VOICE_NOTE_TOO_LONG: ReasonInfo(
            "C4", "the voice note is longer than the channel allows"
        ),
    }
)
"""Every reason's SPEC rule id and words.

A length refusal's rule depends on the limit broken (X3, C1 or C3): the content
says which (:attr:`~omnimsg.policy.content.OutboundContent.rule`), and
``Decision.rule`` reports it.
"""

RULE_OF = MappingProxyType({reason: info.rule for reason, info in REASONS.items()})
"""The SPEC rule id each reason comes from (read from :data:`REASONS`)."""
