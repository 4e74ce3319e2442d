"""Obrador Lucía's messaging code: the code its compliance suite tests.

A bakery in Madrid tells customers on WhatsApp when their order is ready and sends
weekend promotions by SMS, under omnimsg's ``official`` profile. Only omnimsg's public
API is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from omnimsg import (
    AccountState,
    Clock,
    Contact,
    Decision,
    Message,
    Mode,
    Plan,
    Profile,
    conversation_state,
    decide,
    draft_from_dict,
    plan_broadcast,
)
from omnimsg.protocols import StateStore, Transport
from omnimsg.transports import SendRequest

WHATSAPP = "wa-shop"
"""The shop's WhatsApp Business number."""

SMS = "sms-promo"
"""The long code the promotions go out from."""

ORDER_READY_TEMPLATE = "order_ready"
"""The pre-approved WhatsApp template for a closed window (W2)."""

MADRID = AccountState(timezone="Europe/Madrid")


def order_ready(order_id: str, first_name: str | None) -> Message:
    """The free-form text of an order update (inside the window)."""
    return Message(text=f"Hola {first_name or ''}, tu pedido {order_id} está listo 🥐".strip())


def order_ready_template(order_id: str) -> Message:
    """The same update as the approved template, for a closed window."""
    return Message(text=f"Pedido {order_id} listo", template=ORDER_READY_TEMPLATE)


def notify_order_ready(
    contact: Contact,
    order_id: str,
    *,
    profile: Profile,
    clock: Clock,
    transport: Transport,
    store: StateStore,
) -> Decision:
    """Tell a customer their order is ready: free text in the window, else the template.

    Returns the decision the send went out (or was held back) under.
    """
    now = clock.now()
    caps = profile.capabilities("whatsapp", as_of=now)
    state = store.get_conversation(contact.id, WHATSAPP) or conversation_state(contact, WHATSAPP)
    message = order_ready(order_id, contact.first_name)
    decision = decide(caps, state, message, now=now)
    if not decision.allowed and decision.mode is Mode.TEMPLATE:
        message = order_ready_template(order_id)
        decision = decide(caps, state, message, now=now)
    identity = contact.identity_on(WHATSAPP)
    if decision.allowed and decision.content is not None and identity is not None:
        transport.send(
            SendRequest(
                idempotency_key=f"order-ready-{order_id}",
                account_id=WHATSAPP,
                channel="whatsapp",
                recipient=identity.external_id,
                content=decision.content,
                mode=decision.mode,
                template=message.template,
                contact_id=contact.id,
            )
        )
        store.put_conversation(contact.id, WHATSAPP, state.after_outbound(now))
    return decision


def weekend_promo(
    contacts: Iterable[Contact], *, profile: Profile, now: datetime, text: str | None = None
) -> Plan:
    """Plan the weekend SMS promotion to every customer tagged ``promos``."""
    draft = draft_from_dict(
        {
            "id": "weekend-promo",
            "name": "Weekend promo",
            "targeting": "account",
            "account": SMS,
            "audience": {"segment": {"field": "tags", "op": "has_any", "value": ["promos"]}},
            "senders": [{"account": SMS, "channel": "sms"}],
            "content": {"sms": [{"text": text or "Este finde: 2x1 en croissants. STOP para baja"}]},
            "frequency_cap": {"messages": 2, "period": "7d"},
        }
    )
    return plan_broadcast(draft, contacts, profile=profile, now=now, accounts={SMS: MADRID})
