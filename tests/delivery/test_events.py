"""Webhooks into the store, and the double opt-in the dispatcher follows (B12, B5, W5, X1).

The platforms repeat webhooks: each is applied once per message id. Replies move the
opt-in machine; the dispatcher reads the result at send time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcasts.plan_strategies import (
    EXPERTCONNECT,
    NOW,
    RESPONDIO,
    K,
    ident,
    make_draft,
    messages,
    person,
)
from omnimsg.broadcasts import Sender, SendKind, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import Contact
from omnimsg.delivery import InboundResult, on_inbound, on_outbound
from omnimsg.delivery.events import last_channel
from omnimsg.errors import InputError
from omnimsg.policy.optin import DropBroadcast, OpenTicket, ReleaseBroadcast
from omnimsg.protocols import DeliveryStore
from omnimsg.state import ConversationState, OptInState, SubscriptionStatus
from omnimsg.testing import RecordingTransport
from omnimsg.transports import SendResult, SendStatus

from .test_dispatcher import (
    STORES,
    World,
    keys_called,
    ledger,
    open_stores,
    plan_text,
    run_text,
    sends_of,
    sms_contacts,
    sms_draft,
)


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from open_stores(request.param, tmp_path)


@pytest.fixture
def store(make_store: Callable[..., DeliveryStore]) -> DeliveryStore:
    return make_store()


def inbound(
    store: DeliveryStore,
    text: str | None,
    *,
    message_id: str = "in-1",
    contact_id: str = "h1",
    account_id: str = "sms-1",
    channel: ChannelKind | str = "sms",
    at: Any = None,
    now: Any = None,
    profile: Any = EXPERTCONNECT,
) -> InboundResult:
    when = NOW if now is None else now
    return on_inbound(
        store,
        contact_id=contact_id,
        account_id=account_id,
        channel=channel,
        message_id=message_id,
        at=when if at is None else at,
        now=when,
        profile=profile,
        text=text,
    )


# --- B12: double opt-in ---------------------------------------------------------------------


def held() -> tuple[Any, Contact, Any]:
    """A draft, a contact never asked (held: prompt now, reminder 24 h later), its plan."""
    contact = person("h1", phone="+34612340001")
    draft = sms_draft()
    plan = plan_broadcast(draft, [contact], profile=EXPERTCONNECT, now=NOW)
    return draft, contact, plan


def by_kind(sends: list[Any]) -> dict[SendKind, Any]:
    return {send.kind: send for send in sends}


def test_a_held_contact_gets_the_prompt_then_the_reminder_24h_later(store: DeliveryStore) -> None:
    # SPEC B12: the prompt is sent at send time and again 24 h later, while unanswered
    world = World(store)
    draft, contact, _ = held()
    text = plan_text(draft, [contact])
    header, sends = sends_of(text)
    kinds = by_kind(sends)
    assert set(kinds) == {SendKind.PROMPT, SendKind.REMINDER}
    report = run_text(world.dispatcher(world.transport()), text)
    assert report.counts == {"sent": 2}
    sent_at = world.sent_at()
    assert sent_at[kinds[SendKind.PROMPT].key] == [header.start]
    assert sent_at[kinds[SendKind.REMINDER].key] == [header.start + timedelta(days=1)]
    state = store.get_conversation("h1", "sms-1")
    assert state is not None
    assert (state.consent.status, state.consent.prompts_sent) == (SubscriptionStatus.PROMPTED, 2)
    assert state.consent.held == ("bc-1",)
    prompt_text = EXPERTCONNECT.capabilities(K.SMS, as_of=NOW).double_opt_in
    assert prompt_text is not None
    assert {r.content.text for _, r in world.accepted} == {prompt_text.prompt}


def test_s_releases_the_broadcast_which_goes_once(store: DeliveryStore) -> None:
    # SPEC B12: the contact answers S; the held broadcast is sent, once however often released
    world = World(store)
    draft, contact, plan = held()
    text = plan_text(draft, [contact])
    header, sends = sends_of(text)
    kinds = by_kind(sends)
    transport = world.transport()
    world.dispatcher(transport).run((header, [kinds[SendKind.PROMPT]]))
    answer = inbound(store, "s ", now=NOW + timedelta(hours=2))
    assert answer.events == (ReleaseBroadcast("bc-1"),)
    assert answer.state.consent.status is SubscriptionStatus.SUBSCRIBED
    dispatcher = world.dispatcher(transport, profile=EXPERTCONNECT)
    release = dispatcher.released(draft, contact, start=plan.start)
    assert [send.kind for send in release[1]] == [SendKind.MESSAGE]
    assert dispatcher.run(release).counts == {"sent": 2}
    again = dispatcher.released(draft, contact, start=plan.start)
    assert again[1][0].key == release[1][0].key
    assert dispatcher.run(again).counts == {"sent": 2}
    message_key = release[1][0].key
    assert keys_called(transport).count(message_key) == 1
    # the reminder, due later in the plan, is not sent to a contact who answered
    report = run_text(world.dispatcher(transport), text)
    reminder = ledger(store)[kinds[SendKind.REMINDER].key]
    assert (reminder.status.value, reminder.reason, reminder.rule) == (
        "skipped",
        "opt_in_answered",
        "B12",
    )
    assert report.counts == {"sent": 2, "skipped": 1}
    assert keys_called(transport).count(kinds[SendKind.PROMPT].key) == 1
    assert kinds[SendKind.REMINDER].key not in keys_called(transport)


def test_n_drops_the_broadcast_and_the_reminder(store: DeliveryStore) -> None:
    # SPEC B12: N means the contact never gets it
    world = World(store)
    draft, contact, plan = held()
    text = plan_text(draft, [contact])
    header, sends = sends_of(text)
    kinds = by_kind(sends)
    transport = world.transport()
    world.dispatcher(transport).run((header, [kinds[SendKind.PROMPT]]))
    answer = inbound(store, "N", now=NOW + timedelta(hours=1))
    assert [type(e) for e in answer.events] == [DropBroadcast]
    assert answer.state.consent.status is SubscriptionStatus.DECLINED
    dispatcher = world.dispatcher(transport, profile=EXPERTCONNECT)
    assert dispatcher.released(draft, contact, start=plan.start)[1] == []
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 1, "skipped": 1}
    assert report.failed[0].reason == "opt_in_answered"
    assert keys_called(transport) == [kinds[SendKind.PROMPT].key]


def test_any_other_reply_opens_a_ticket_and_keeps_waiting(store: DeliveryStore) -> None:
    # SPEC B12: "sí" is not S
    world = World(store)
    draft, contact, _ = held()
    text = plan_text(draft, [contact])
    header, sends = sends_of(text)
    world.dispatcher(world.transport()).run((header, [by_kind(sends)[SendKind.PROMPT]]))
    answer = inbound(store, "sí", now=NOW + timedelta(hours=1))
    assert answer.events == (OpenTicket("sí"),)
    assert answer.state.consent.status is SubscriptionStatus.PROMPTED
    assert run_text(world.dispatcher(world.transport()), text).counts == {"sent": 2}


def test_a_prompt_is_not_sent_to_a_contact_who_subscribed_meanwhile(
    store: DeliveryStore,
) -> None:
    # SPEC B12, X1: START before the prompt's time
    world = World(store)
    draft, contact, _ = held()
    text = plan_text(draft, [contact])
    assert inbound(store, "START").state.consent.status is SubscriptionStatus.SUBSCRIBED
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"skipped": 2}
    assert {f.reason for f in report.failed} == {"opt_in_answered"}
    assert transport.requests == []


def test_a_stop_reply_drops_what_is_held(store: DeliveryStore) -> None:
    # SPEC X1, B12
    world = World(store)
    draft, contact, _ = held()
    text = plan_text(draft, [contact])
    header, sends = sends_of(text)
    world.dispatcher(world.transport()).run((header, [by_kind(sends)[SendKind.PROMPT]]))
    answer = inbound(store, "STOP", now=NOW + timedelta(hours=1))
    assert DropBroadcast in {type(e) for e in answer.events}
    assert answer.state.consent.status is SubscriptionStatus.UNSUBSCRIBED


def test_the_reminder_waits_24h_after_a_late_prompt(store: DeliveryStore) -> None:
    # SPEC B12: the prompt went 2 h late (the platform asked to retry): the reminder
    # goes 24 h after the prompt that went, not after the planned one
    world = World(store)
    draft, contact, _ = held()
    text = plan_text(draft, [contact])
    kinds = by_kind(sends_of(text)[1])
    answers = [timedelta(hours=2)]

    def handler(request: Any) -> Any:
        if answers:
            return SendResult(request.idempotency_key, SendStatus.RETRY, retry_after=answers.pop())
        return world.accept(request)

    assert run_text(world.dispatcher(RecordingTransport(handler)), text).counts == {"sent": 2}
    prompt_at = world.sent_at()[kinds[SendKind.PROMPT].key][0]
    assert prompt_at >= NOW + timedelta(hours=2)
    assert world.sent_at()[kinds[SendKind.REMINDER].key] == [prompt_at + timedelta(days=1)]


def prompted_elsewhere() -> tuple[Contact, OptInState]:
    """A contact asked 2 h ago, before this store knew of it (an import)."""
    state = OptInState(
        status=SubscriptionStatus.PROMPTED,
        prompts_sent=1,
        first_prompt_at=NOW - timedelta(hours=2),
        last_prompt_at=NOW - timedelta(hours=2),
        held=("bc-0",),
    )
    return person("p1", phone="+34612340001", subs={"sms-1": state}), state


def test_a_contact_prompted_elsewhere_gets_its_reminder_once_the_store_knows(
    store: DeliveryStore,
) -> None:
    # SPEC B12: the store is where the dispatcher reads consent: seeded, the reminder goes
    contact, state = prompted_elsewhere()
    text = plan_text(sms_draft(), [contact])
    (reminder,) = sends_of(text)[1]
    assert reminder.kind is SendKind.REMINDER
    assert reminder.not_before == NOW + timedelta(hours=22)
    store.put_conversation("p1", "sms-1", ConversationState(consent=state))
    world = World(store)
    assert run_text(world.dispatcher(world.transport()), text).counts == {"sent": 1}
    assert world.sent_at()[reminder.key] == [NOW + timedelta(hours=22)]


def test_a_contact_prompted_elsewhere_is_unknown_to_an_empty_store(store: DeliveryStore) -> None:
    # SPEC B12: without the conversation record the store says the prompt never went
    # (documented reason prompt_not_sent), and an S is not read as an answer
    contact, _ = prompted_elsewhere()
    text = plan_text(sms_draft(), [contact])
    world = World(store)
    report = run_text(world.dispatcher(world.transport()), text)
    assert report.counts == {"skipped": 1}
    assert (report.failed[0].reason, report.failed[0].rule) == ("prompt_not_sent", "B12")
    assert inbound(store, "S", contact_id="p1").events == ()


# --- B5: the last interacted channel ---------------------------------------------------------


def test_inbound_sets_the_last_channel_and_broadcasts_never_change_it(
    store: DeliveryStore,
) -> None:
    # SPEC B5, B3
    world = World(store)
    assert last_channel(store, "c0") is None
    inbound(store, None, contact_id="c0", account_id="tg-1", channel="telegram", at=NOW)
    assert last_channel(store, "c0") == (ChannelKind.TELEGRAM, "tg-1")
    text = plan_text(sms_draft(), sms_contacts(2))
    assert run_text(world.dispatcher(world.transport()), text).counts == {"sent": 2}
    assert last_channel(store, "c0") == (ChannelKind.TELEGRAM, "tg-1")
    assert last_channel(store, "c1") is None
    on_outbound(store, contact_id="c0", account_id="tg-1", message_id="o-1", at=NOW)
    assert last_channel(store, "c0") == (ChannelKind.TELEGRAM, "tg-1")
    inbound(
        store,
        None,
        message_id="in-2",
        contact_id="c0",
        channel=ChannelKind.SMS,
        at=NOW + timedelta(minutes=1),
        now=NOW + timedelta(minutes=1),
    )
    assert last_channel(store, "c0") == (ChannelKind.SMS, "sms-1")


def test_a_late_webhook_does_not_move_the_last_channel_back(store: DeliveryStore) -> None:
    # SPEC B5: webhooks arrive out of order
    inbound(store, None, message_id="late", contact_id="c0", channel="sms", at=NOW)
    inbound(
        store,
        None,
        message_id="early",
        contact_id="c0",
        account_id="tg-1",
        channel="telegram",
        at=NOW - timedelta(hours=1),
    )
    assert last_channel(store, "c0") == (ChannelKind.SMS, "sms-1")


# --- W5: WeChat's count, and webhooks applied once ---------------------------------------------


def wechat(store: DeliveryStore, message_id: str, at: Any, **extra: Any) -> InboundResult:
    return inbound(
        store,
        extra.pop("text", None),
        message_id=message_id,
        contact_id="w1",
        account_id="wc-1",
        channel="wechat",
        at=at,
        now=extra.pop("now", at),
        profile=RESPONDIO,
    )


def count(store: DeliveryStore) -> int:
    state = store.get_conversation("w1", "wc-1")
    assert state is not None
    return state.outbound_since_inbound


def test_outbound_counts_once_per_message_and_inbound_resets(store: DeliveryStore) -> None:
    # SPEC W5
    assert not on_outbound(store, contact_id="w1", account_id="wc-1", message_id="o-0", at=NOW)
    assert store.get_conversation("w1", "wc-1") is None
    wechat(store, "in-1", NOW)
    for n in range(5):
        assert on_outbound(store, contact_id="w1", account_id="wc-1", message_id=f"o-{n}", at=NOW)
    assert not on_outbound(store, contact_id="w1", account_id="wc-1", message_id="o-3", at=NOW)
    assert count(store) == 5
    later = NOW + timedelta(minutes=5)
    result = wechat(store, "in-2", later)
    assert not result.duplicate
    assert result.state.outbound_since_inbound == 0
    assert count(store) == 0
    assert result.state.last_inbound_at == later
    # a message sent before the last inbound one belonged to the earlier window
    assert not on_outbound(store, contact_id="w1", account_id="wc-1", message_id="o-9", at=NOW)
    assert count(store) == 0


def test_a_repeated_inbound_webhook_changes_nothing(store: DeliveryStore) -> None:
    # SPEC W5, B12: applied once per message id; a redelivery gives the same events
    # again (the first delivery may have failed after the write), never applies twice
    world = World(store)
    draft, contact, _ = held()
    header, sends = sends_of(plan_text(draft, [contact]))
    world.dispatcher(world.transport()).run((header, [by_kind(sends)[SendKind.PROMPT]]))
    first = inbound(store, "S", message_id="wamid-7", now=NOW + timedelta(hours=1))
    assert first.events == (ReleaseBroadcast("bc-1"),)
    again = inbound(store, "S", message_id="wamid-7", now=NOW + timedelta(hours=2))
    assert again.duplicate
    assert again.events == first.events
    assert again.state == first.state
    third = inbound(store, "N", message_id="wamid-7", now=NOW + timedelta(hours=3))
    assert third.duplicate
    assert third.events == first.events  # what the message did, not what a new text would


def test_a_late_inbound_does_not_reset_the_count(store: DeliveryStore) -> None:
    # SPEC W5: monotone window
    wechat(store, "in-2", NOW)
    on_outbound(store, contact_id="w1", account_id="wc-1", message_id="o-1", at=NOW)
    result = wechat(store, "in-1", NOW - timedelta(hours=1), now=NOW)
    assert not result.duplicate
    assert result.state.outbound_since_inbound == 1
    assert result.state.last_inbound_at == NOW


def test_an_inbound_from_the_future_is_refused(store: DeliveryStore) -> None:
    with pytest.raises(InputError, match="clock-skew"):
        wechat(store, "in-1", NOW + timedelta(hours=1), now=NOW)
    assert store.get_conversation("w1", "wc-1") is None


def test_a_reset_window_lets_the_dispatcher_send_again(store: DeliveryStore) -> None:
    # SPEC W5: at 20 the send is skipped; after the contact writes it goes
    text = wechat_plan(NOW - timedelta(hours=1))
    wechat(store, "in-1", NOW - timedelta(hours=1), now=NOW)
    for n in range(20):
        on_outbound(store, contact_id="w1", account_id="wc-1", message_id=f"o-{n}", at=NOW)
    wechat(store, "in-2", NOW)
    world = World(store)
    assert run_text(world.dispatcher(world.transport()), text).counts == {"sent": 1}
    assert count(store) == 1


def test_the_same_webhook_on_several_threads_is_applied_once(
    make_store: Callable[..., DeliveryStore],
) -> None:
    # SPEC W5: two workers receive the same delivery at the same instant
    stores = [make_store() for _ in range(4)]
    wechat(stores[0], "in-0", NOW - timedelta(minutes=1), now=NOW)
    counted: list[bool] = []
    duplicates: list[bool] = []
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        barrier.wait()
        counted.append(
            on_outbound(stores[n], contact_id="w1", account_id="wc-1", message_id="o-1", at=NOW)
        )
        duplicates.append(wechat(stores[n], "in-1", NOW).duplicate)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(counted) == [False, False, False, True]
    assert sorted(duplicates) == [False, True, True, True]
    state = stores[0].get_conversation("w1", "wc-1")
    assert state is not None
    assert state.last_inbound_at == NOW


def test_inbound_on_a_wechat_identity_keeps_the_conversation_apart_per_account(
    store: DeliveryStore,
) -> None:
    wechat(store, "in-1", NOW)
    on_outbound(store, contact_id="w1", account_id="wc-1", message_id="o-1", at=NOW)
    inbound(store, None, contact_id="w1", account_id="wc-2", channel="wechat", profile=RESPONDIO)
    other = store.get_conversation("w1", "wc-2")
    assert other is not None
    assert other.outbound_since_inbound == 0
    assert count(store) == 1


# --- decided again at send time (X1, W5) ----------------------------------------------------------


def test_an_opt_out_after_planning_skips_the_send(store: DeliveryStore) -> None:
    # SPEC X1: STOP arrives between planning and sending
    world = World(store)
    text = plan_text(sms_draft(), sms_contacts(3))
    result = on_inbound(
        store,
        contact_id="c1",
        account_id="sms-1",
        channel="sms",
        message_id="in-1",
        at=NOW,
        now=NOW,
        profile=EXPERTCONNECT,
        text="STOP",
    )
    assert not result.duplicate
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"sent": 2, "skipped": 1}
    (skipped,) = report.failed
    assert (skipped.contact_id, skipped.reason, skipped.rule) == ("c1", "opted_out", "X1")
    assert "c1" not in {r.contact_id for r in transport.requests}


def wechat_plan(last_inbound: datetime) -> str:
    contact = person("w1", identities=[ident("wc-1", K.WECHAT, "wx-1", last_inbound)])
    draft = make_draft(
        {K.WECHAT: messages("hi")},
        [Sender("wc-1", K.WECHAT)],
        targeting="account",
        account="wc-1",
    )
    return plan_text(draft, [contact], profile=RESPONDIO)


def test_a_wechat_conversation_at_20_outbound_is_skipped(store: DeliveryStore) -> None:
    # SPEC W5: 20 messages went since the contact wrote (counted by the webhooks)
    world = World(store)
    text = wechat_plan(NOW - timedelta(hours=1))
    on_inbound(
        store,
        contact_id="w1",
        account_id="wc-1",
        channel="wechat",
        message_id="in-1",
        at=NOW - timedelta(hours=1),
        now=NOW,
        profile=RESPONDIO,
    )
    for n in range(20):
        assert on_outbound(store, contact_id="w1", account_id="wc-1", message_id=f"out-{n}", at=NOW)
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"skipped": 1}
    assert (report.failed[0].reason, report.failed[0].rule) == ("window_cap_reached", "W5")
    assert transport.requests == []


def test_a_window_closed_since_planning_skips_the_send(store: DeliveryStore) -> None:
    # SPEC W5: planned inside the 48 h window, sent after it closed
    text = wechat_plan(NOW - timedelta(hours=47))
    on_inbound(
        store,
        contact_id="w1",
        account_id="wc-1",
        channel="wechat",
        message_id="in-1",
        at=NOW - timedelta(hours=47),
        now=NOW,
        profile=RESPONDIO,
    )
    world = World(store, start=NOW + timedelta(hours=2))
    transport = world.transport()
    report = run_text(world.dispatcher(transport), text)
    assert report.counts == {"skipped": 1}
    assert report.failed[0].reason == "window_closed"
    assert transport.requests == []


def test_a_wechat_send_counts_toward_the_20(store: DeliveryStore) -> None:
    # SPEC W5: a broadcast message sent is counted in the stored conversation
    world = World(store)
    text = wechat_plan(NOW - timedelta(hours=1))
    on_inbound(
        store,
        contact_id="w1",
        account_id="wc-1",
        channel="wechat",
        message_id="in-1",
        at=NOW - timedelta(hours=1),
        now=NOW,
        profile=RESPONDIO,
    )
    run_text(world.dispatcher(world.transport()), text)
    state = store.get_conversation("w1", "wc-1")
    assert state is not None
    assert state.outbound_since_inbound == 1


def test_a_repeated_no_gives_its_drop_again_with_its_reason(store: DeliveryStore) -> None:
    # SPEC B12: an N drops the held broadcast; its redelivery says the same, reason kept
    world = World(store)
    draft, contact, _ = held()
    header, sends = sends_of(plan_text(draft, [contact]))
    world.dispatcher(world.transport()).run((header, [by_kind(sends)[SendKind.PROMPT]]))
    first = inbound(store, "N", message_id="wamid-9", now=NOW + timedelta(hours=1))
    assert [type(e).__name__ for e in first.events] == ["DropBroadcast"]
    again = inbound(store, "N", message_id="wamid-9", now=NOW + timedelta(hours=2))
    assert again.duplicate
    assert again.events == first.events
    assert again.events[0].reason is first.events[0].reason
