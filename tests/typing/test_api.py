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


def test_a_plug_in_satisfies_a_protocol_without_importing_omnimsg_bases() -> None:
    from omnimsg import AccountState, SenderUsage
    from omnimsg.protocols import StateStore

    class DictStore:
        def __init__(self) -> None:
            self.conversations: dict[tuple[str, str], ConversationState] = {}
            self.accounts: dict[str, AccountState] = {}
            self.usage: dict[str, SenderUsage] = {}

        def get_conversation(self, contact_id: str, account_id: str, /) -> ConversationState | None:
            return self.conversations.get((contact_id, account_id))

        def put_conversation(
            self, contact_id: str, account_id: str, state: ConversationState, /
        ) -> None:
            self.conversations[(contact_id, account_id)] = state

        def get_account(self, account_id: str, /) -> AccountState | None:
            return self.accounts.get(account_id)

        def put_account(self, account_id: str, state: AccountState, /) -> None:
            self.accounts[account_id] = state

        def get_usage(self, account_id: str, /) -> SenderUsage | None:
            return self.usage.get(account_id)

        def put_usage(self, account_id: str, usage: SenderUsage, /) -> None:
            self.usage[account_id] = usage

    store: StateStore = DictStore()
    from omnimsg.testing import check_state_store

    check_state_store(DictStore)
    assert store.get_account("x") is None


def test_state_is_built_from_a_contact_in_one_call() -> None:
    from omnimsg import ChannelIdentity, ChannelKind, Contact, conversation_state

    now = datetime(2026, 11, 23, tzinfo=UTC)
    contact = Contact(
        id="c1",
        identities=(ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "1", last_inbound_at=now),),
        subscriptions={"wa-1": "subscribed"},
    )
    state: ConversationState = conversation_state(contact, "wa-1")
    caps = load_profile("respondio").capabilities("whatsapp", as_of=now)
    assert decide(caps, state, Message(text="Hi", marketing=True), now=now).allowed


def test_the_users_kit_type_checks() -> None:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from omnimsg import Profile, profile_json_schema
    from omnimsg.audit import AuditReport, LogEntry, Violation, audit, audit_log, read_log
    from omnimsg.policy.catalogue import ReasonEntry, RuleEntry, reason, rule
    from omnimsg.testing import assert_allowed, assert_refused, derive_profile

    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    profile: Profile = derive_profile("official", whatsapp={"window": "48h"})
    caps = profile.capabilities("whatsapp", as_of=now)
    state = ConversationState(last_inbound_at=now - timedelta(hours=30))
    allowed: Decision = assert_allowed(caps, state, Message(text="Hi"), now=now)
    refused: Decision = assert_refused(
        load_profile("official").capabilities("whatsapp", as_of=now),
        state,
        Message(text="Hi"),
        now=now,
        reason="template_required",
    )
    assert allowed.allowed
    assert not refused.allowed

    lines = [
        '{"at": "2026-11-23T11:00:00Z", "direction": "outbound", "channel": "whatsapp",'
        ' "account": "wa-1", "contact": "34600000001", "text": "Hola"}'
    ]
    entries: Iterator[LogEntry] = read_log(lines)
    found: list[Violation] = list(audit_log(entries, load_profile("official")))
    rules_broken: list[str] = [violation.rule for violation in found]
    report: AuditReport = audit(read_log(lines), load_profile("official"))
    counts: Mapping[str, int] = report.by_rule
    assert rules_broken == ["W2"]
    assert dict(counts) == {"W2": 1}
    assert not report.clean

    w2: RuleEntry = rule("W2")
    why: ReasonEntry = reason("template_required")
    schema: dict[str, Any] = profile_json_schema()
    assert w2.id == "W2"
    assert "W2" in why.rules
    assert schema["title"] == "omnimsg profile"
