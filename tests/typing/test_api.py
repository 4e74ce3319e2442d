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
