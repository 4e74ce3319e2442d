"""Properties over generated customers, with omnimsg's public strategies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bakery import MADRID, SMS, WHATSAPP, notify_order_ready, weekend_promo
from hypothesis import given, settings

from omnimsg import ChannelKind, Contact, ConversationState, Mode, load_profile
from omnimsg.stores.memory import MemoryStateStore
from omnimsg.testing import FixedClock, RecordingTransport, assert_plan_respects
from omnimsg.testing import strategies as oms

OFFICIAL = load_profile("official")
NOW = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
SHOP = {WHATSAPP: ChannelKind.WHATSAPP, SMS: ChannelKind.SMS}


@settings(max_examples=40, deadline=None)
@given(oms.contact_lists(max_size=15, accounts=SHOP, now=NOW, tags=["promos", "wholesale"]))
def test_every_weekend_promo_respects_the_official_rules(contacts: list[Contact]) -> None:
    """Whoever the customers are, wherever their numbers and however they consented."""
    plan = weekend_promo(contacts, profile=OFFICIAL, now=NOW)
    assert_plan_respects(plan, contacts=contacts, accounts={SMS: MADRID})


@settings(max_examples=60, deadline=None)
@given(oms.contacts(id="c1", accounts={WHATSAPP: ChannelKind.WHATSAPP}, now=NOW))
def test_an_order_update_never_goes_free_form_outside_the_window(contact: Contact) -> None:
    """The update goes as free text only inside the 24 h window, else as the template."""
    store = MemoryStateStore()
    transport = RecordingTransport()
    decision = notify_order_ready(
        contact,
        "A-1",
        profile=OFFICIAL,
        clock=FixedClock(NOW),
        transport=transport,
        store=store,
    )
    identity = contact.identity_on(WHATSAPP)
    if identity is None:
        assert transport.sent == []
        return
    last = identity.last_inbound_at
    window_open = last is not None and last + timedelta(hours=24) > NOW
    assert decision.allowed
    (sent,) = transport.sent
    assert sent.mode is (Mode.FREE_FORM if window_open else Mode.TEMPLATE)
    stored = store.get_conversation(contact.id, WHATSAPP)
    assert isinstance(stored, ConversationState)
    assert stored.outbound_times == (NOW,)
