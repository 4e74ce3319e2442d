"""Type-checked use of the public API (run by `mypy tests/typing`, not only by pytest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnimsg import (
    ChannelCapabilities,
    ConversationState,
    Decision,
    Message,
    Mode,
    Reason,
    decide,
    load_profile,
)


def test_the_embedding_example_type_checks() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    caps: ChannelCapabilities = load_profile("respondio").capabilities("whatsapp", as_of=now)
    state = ConversationState(last_inbound_at=now - timedelta(hours=30))
    decision: Decision = decide(caps, state, Message(text="Hi"), now=now)
    mode: Mode = decision.mode
    reason: Reason = decision.reason
    closes: datetime | None = decision.window_closes_at
    assert (mode, reason, closes) == (Mode.TEMPLATE, Reason.TEMPLATE_REQUIRED, None)
