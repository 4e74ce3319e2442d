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


def test_the_segment_example_type_checks() -> None:
    from omnimsg import Contact, Segment, filter_contacts, parse_segment

    now = datetime(2026, 11, 23, tzinfo=UTC)
    segment: Segment = parse_segment(
        {"field": "tags", "op": "has_any", "value": ["vip"]}, custom_fields={}
    )
    contacts = [Contact(id="a", tags=frozenset({"vip"})), Contact(id="b")]
    members: list[Contact] = list(filter_contacts(segment, contacts, now=now))
    description: str = segment.describe()
    assert [c.id for c in members] == ["a"]
    assert "vip" in description
