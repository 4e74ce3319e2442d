"""Decisions in words, for logs and command lines. Nothing here decides anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnimsg.policy.reasons import Reason

if TYPE_CHECKING:
    from omnimsg.policy.decision import Decision

__all__ = ["explain"]

_WORDS = {
    Reason.NO_WINDOW: "the channel has no messaging window: any message may be sent",
    Reason.WITHIN_WINDOW: "inside the messaging window: any message may be sent",
    Reason.WITHIN_EXTENDED_WINDOW: "inside the extended window, with the tag that grants it",
    Reason.TEMPLATE_OUTSIDE_WINDOW: "outside the window, sent as a pre-approved template",
    Reason.TAG_OUTSIDE_WINDOW: "outside the window, sent with a message tag",
    Reason.CHATBOT_INITIATED_FREE: "outside the window: a chatbot-initiated message, within "
    "the free monthly quota",
    Reason.CHATBOT_INITIATED_PAID: "outside the window: a chatbot-initiated message beyond "
    "the free monthly quota, billed under the account's paid terms",
    Reason.NO_PRIOR_INBOUND: "the contact has never written on this channel",
    Reason.TEMPLATE_REQUIRED: "the window is closed: only a pre-approved template may be sent",
    Reason.TAG_REQUIRED: "the standard window is closed: only a message with a tag may be sent",
    Reason.TAG_NOT_ALLOWED: "this message tag is not accepted now",
    Reason.WINDOW_CLOSED: "the window is closed: nothing may be sent until the contact writes",
    Reason.WINDOW_CAP_REACHED: "the window's outbound message cap is reached: nothing more "
    "until the contact writes",
    Reason.CHATBOT_QUOTA_EXHAUSTED: "the free monthly quota of chatbot-initiated messages is "
    "used up and the account has not agreed to paid terms",
    Reason.OPTED_OUT: "the contact opted out of marketing messages from this sender",
    Reason.OPT_IN_REQUIRED: "the contact must first confirm the subscription prompt",
    Reason.OPT_IN_PENDING: "the subscription prompt was sent and is not answered yet",
    Reason.OPT_IN_DECLINED: "the contact declined the subscription",
    Reason.BROADCASTS_NOT_SUPPORTED: "this channel (or plan) does not support broadcasts",
    Reason.CONTENT_TOO_LONG: "the content is longer than the channel allows",
    Reason.VOICE_NOTE_TOO_LONG: "the voice note is longer than the channel allows",
}


def explain(decision: Decision) -> str:
    """One line: verdict, mode, reason in words, rule id, window close and quota."""
    verdict = "allowed" if decision.allowed else "refused"
    words = _WORDS[decision.reason]
    if decision.content is not None and decision.content.detail and not decision.allowed:
        words = f"{words} ({decision.content.detail})"
    parts = [f"{verdict} ({decision.mode.value}): {words} [{decision.rule}]"]
    if decision.window_closes_at is not None:
        parts.append(f"window closes {decision.window_closes_at.isoformat()}")
    if decision.remaining_in_window is not None:
        parts.append(f"{decision.remaining_in_window} remaining")
    if decision.paid:
        parts.append("paid")
    return "; ".join(parts)
