"""Reason codes: why a decision came out the way it did.

Each value is a stable string (users store and match on it) and names the SPEC
rule it comes from in :data:`RULE_OF`. docs/decisions.md lists them all.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

__all__ = ["RULE_OF", "Reason"]


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
    # refused: window and mode
    NO_PRIOR_INBOUND = "no_prior_inbound"
    TEMPLATE_REQUIRED = "template_required"
    TAG_REQUIRED = "tag_required"
    TAG_NOT_ALLOWED = "tag_not_allowed"
    WINDOW_CLOSED = "window_closed"
    WINDOW_CAP_REACHED = "window_cap_reached"
    CHATBOT_QUOTA_EXHAUSTED = "chatbot_quota_exhausted"
    # refused: consent and plan
    OPTED_OUT = "opted_out"
    OPT_IN_REQUIRED = "opt_in_required"
    OPT_IN_PENDING = "opt_in_pending"
    OPT_IN_DECLINED = "opt_in_declined"
    BROADCASTS_NOT_SUPPORTED = "broadcasts_not_supported"
    # refused: content
    CONTENT_TOO_LONG = "content_too_long"
    VOICE_NOTE_TOO_LONG = "voice_note_too_long"


RULE_OF = MappingProxyType(
    {
        Reason.NO_WINDOW: "W1",
        Reason.WITHIN_WINDOW: "W2",
        Reason.WITHIN_EXTENDED_WINDOW: "W3",
        Reason.TEMPLATE_OUTSIDE_WINDOW: "W2",
        Reason.TAG_OUTSIDE_WINDOW: "W3",
        Reason.CHATBOT_INITIATED_FREE: "W6",
        Reason.CHATBOT_INITIATED_PAID: "W6",
        Reason.NO_PRIOR_INBOUND: "W8",
        Reason.TEMPLATE_REQUIRED: "W2",
        Reason.TAG_REQUIRED: "W3",
        Reason.TAG_NOT_ALLOWED: "W3",
        Reason.WINDOW_CLOSED: "W4",
        Reason.WINDOW_CAP_REACHED: "W5",
        Reason.CHATBOT_QUOTA_EXHAUSTED: "W6",
        Reason.OPTED_OUT: "X1",
        Reason.OPT_IN_REQUIRED: "B12",
        Reason.OPT_IN_PENDING: "B12",
        Reason.OPT_IN_DECLINED: "B12",
        Reason.BROADCASTS_NOT_SUPPORTED: "B4",
        Reason.CONTENT_TOO_LONG: "C1",
        Reason.VOICE_NOTE_TOO_LONG: "C4",
    }
)
"""The SPEC rule id each reason comes from (the most specific one)."""
