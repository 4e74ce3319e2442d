"""Order updates on WhatsApp: free text while the window is open, the template after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from bakery import ORDER_READY_TEMPLATE, SMS, WHATSAPP, notify_order_ready, order_ready

from omnimsg import Contact, ConversationState, Decision, Message, Mode, Profile
from omnimsg.audit import LogEntry, entry_from_request
from omnimsg.stores.memory import MemoryStateStore
from omnimsg.testing import (
    FixedClock,
    RecordingTransport,
    assert_allowed,
    assert_no_violations,
    assert_refused,
)

Customer = Callable[..., Contact]


def notify(
    contact: Contact,
    profile: Profile,
    clock: FixedClock,
    transport: RecordingTransport,
    store: MemoryStateStore,
    order_id: str = "A-17",
) -> Decision:
    return notify_order_ready(
        contact, order_id, profile=profile, clock=clock, transport=transport, store=store
    )


def test_inside_the_window_the_update_is_free_text(
    customer: Customer,
    omnimsg_profile: Profile,
    omnimsg_clock: FixedClock,
    omnimsg_transport: RecordingTransport,
    omnimsg_state_store: MemoryStateStore,
) -> None:
    """The customer wrote an hour ago: the 24 h window is open (W2)."""
    ana = customer(first_name="Ana", last_inbound=timedelta(hours=1))
    decision = notify(ana, omnimsg_profile, omnimsg_clock, omnimsg_transport, omnimsg_state_store)
    assert_allowed(decision, reason="within_window", mode=Mode.FREE_FORM)
    (sent,) = omnimsg_transport.sent
    assert sent.content.text == "Hola Ana, tu pedido A-17 está listo 🥐"
    assert sent.template is None


def test_after_the_window_the_update_is_the_template(
    customer: Customer,
    omnimsg_profile: Profile,
    omnimsg_clock: FixedClock,
    omnimsg_transport: RecordingTransport,
    omnimsg_state_store: MemoryStateStore,
) -> None:
    """The window closed yesterday: only the approved template may go (W2)."""
    bo = customer(first_name="Bo", last_inbound=timedelta(days=2))
    decision = notify(bo, omnimsg_profile, omnimsg_clock, omnimsg_transport, omnimsg_state_store)
    assert_allowed(decision, reason="template_outside_window", rule="W2", mode="template")
    assert [r.template for r in omnimsg_transport.sent] == [ORDER_READY_TEMPLATE]


def test_the_window_closes_24_hours_after_the_customers_message(
    customer: Customer,
    omnimsg_profile: Profile,
    omnimsg_clock: FixedClock,
    omnimsg_transport: RecordingTransport,
    omnimsg_state_store: MemoryStateStore,
) -> None:
    """Moving the clock past the window switches the same update to the template."""
    eva = customer(last_inbound=timedelta(hours=23))
    first = notify(eva, omnimsg_profile, omnimsg_clock, omnimsg_transport, omnimsg_state_store)
    assert_allowed(first, mode="free_form")
    omnimsg_clock.advance(timedelta(hours=1, seconds=1))
    second = notify(
        eva, omnimsg_profile, omnimsg_clock, omnimsg_transport, omnimsg_state_store, "A-18"
    )
    assert_allowed(second, mode="template")
    assert [r.mode for r in omnimsg_transport.sent] == [Mode.FREE_FORM, Mode.TEMPLATE]


def test_free_text_outside_the_window_is_refused(
    omnimsg_profile: Profile, omnimsg_now: datetime
) -> None:
    """What the fallback exists for: free text after the window is refused (W2)."""
    whatsapp = omnimsg_profile.capabilities("whatsapp", as_of=omnimsg_now)
    closed = ConversationState(last_inbound_at=omnimsg_now - timedelta(days=3))
    assert_refused(
        whatsapp, closed, order_ready("A-17", "Ana"), now=omnimsg_now, reason="template_required"
    )


@pytest.mark.omnimsg_profile("respondio")
def test_under_respondio_the_same_rule_holds(
    omnimsg_profile: Profile, omnimsg_now: datetime
) -> None:
    """The seed profile agrees on WhatsApp's window (W2)."""
    whatsapp = omnimsg_profile.capabilities("whatsapp", as_of=omnimsg_now)
    closed = ConversationState(last_inbound_at=omnimsg_now - timedelta(days=3))
    assert_refused(whatsapp, closed, Message(text="¿Qué tal?"), now=omnimsg_now, rule="W2")


def test_after_stop_not_even_an_order_update_goes_by_sms(
    customer: Customer, omnimsg_profile: Profile, omnimsg_now: datetime
) -> None:
    """US-style opt-out scope: STOP ends every business message on that number (X1, P13)."""
    from omnimsg import conversation_state

    luis = customer(opted_out=[SMS])
    sms = omnimsg_profile.capabilities("sms", as_of=omnimsg_now)
    update = Message(text="Tu pedido A-17 está listo")
    assert_refused(sms, conversation_state(luis, SMS), update, now=omnimsg_now, reason="opted_out")


def test_a_day_of_order_updates_passes_the_auditor(
    customer: Customer,
    omnimsg_profile: Profile,
    omnimsg_clock: FixedClock,
    omnimsg_transport: RecordingTransport,
    omnimsg_state_store: MemoryStateStore,
) -> None:
    """Replay what the shop sent, with what customers wrote, through the auditor."""
    customers = [customer(last_inbound=timedelta(hours=h)) for h in (1, 5, 30, 80)]
    log = [
        LogEntry(
            at=omnimsg_clock.now() - timedelta(hours=h),
            direction="inbound",
            channel="whatsapp",
            account=WHATSAPP,
            contact=c.id,
            text="¿Está mi pedido?",
        )
        for c, h in sorted(zip(customers, (1, 5, 30, 80), strict=True), key=lambda p: -p[1])
    ]
    for n, contact in enumerate(customers):
        omnimsg_clock.advance(timedelta(minutes=10))
        notify(
            contact,
            omnimsg_profile,
            omnimsg_clock,
            omnimsg_transport,
            omnimsg_state_store,
            f"B-{n}",
        )
        log.append(entry_from_request(omnimsg_transport.requests[-1], omnimsg_clock.now()))
    assert len(omnimsg_transport.sent) == 4
    assert_no_violations(log, omnimsg_profile, contacts=customers)
