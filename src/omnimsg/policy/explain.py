"""Decisions in words, for logs and command lines. Nothing here decides anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnimsg.policy.reasons import REASONS

if TYPE_CHECKING:
    from omnimsg.policy.decision import Decision

__all__ = ["explain"]


def explain(decision: Decision) -> str:
    """One line: verdict, mode, reason in words, rule id, window close, quota, retry time."""
    verdict = "allowed" if decision.allowed else "refused"
    words = REASONS[decision.reason].words
    content = decision.content
    if content is not None and content.detail and content.problem is decision.reason:
        words = f"{words} ({content.detail})"
    parts = [f"{verdict} ({decision.mode.value}): {words} [{decision.rule}]"]
    if decision.window_closes_at is not None:
        parts.append(f"window closes {decision.window_closes_at.isoformat()}")
    if decision.remaining_in_window is not None:
        parts.append(f"{decision.remaining_in_window} remaining")
    if decision.paid:
        parts.append("paid")
    if decision.retry_at is not None:
        parts.append(f"may go at {decision.retry_at.isoformat()}")
    return "; ".join(parts)
