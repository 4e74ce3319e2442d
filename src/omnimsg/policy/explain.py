"""Decisions in words, for logs and command lines. Nothing here decides anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnimsg.policy.reasons import REASONS

if TYPE_CHECKING:
    from omnimsg.policy.decision import Decision

__all__ = ["explain"]


def explain(decision: Decision) -> str:
    """One line: verdict, mode, reason in words, rule id, window close and quota."""
    verdict = "allowed" if decision.allowed else "refused"
    words = REASONS[decision.reason].words
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
