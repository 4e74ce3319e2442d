"""A recipient's messages keep the plan's spacing and order when one goes late (SPEC P5, P9).

The planner spaces one recipient's messages (6 s on WhatsApp, P5; Viber's unanswered
cap, P9). When the store holds no conversation the dispatcher does not decide again,
so the plan's spacing is all that keeps them apart: a message that a cap defers or a
transport asks to retry must not bring its recipient's next message closer to it,
nor let it overtake. Before this guard, a retried first message went 4 s before the
second (P5), and two messages deferred to the tier's first free moment went 12.5 ms
apart, the second first.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from omnimsg import load_profile
from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Sender, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.delivery import Dispatcher
from omnimsg.state import SubscriptionStatus
from omnimsg.stores.memory import MemoryStore
from omnimsg.testing import FixedClock, RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

NOW = datetime(2021, 1, 1, tzinfo=UTC)
WA = ChannelKind.WHATSAPP
SIX = timedelta(seconds=6)


def _draft() -> Draft:
    return Draft(
        id="bc-1",
        name="Two parts",
        audience=Audience(),
        content={
            WA: (
                BroadcastMessage(text="part 1", template="offer"),
                BroadcastMessage(text="part 2", template="offer"),
            )
        },
        senders=(Sender("wa-0", WA),),
    )


def _contact(cid: str, phone: str, wrote: datetime | None = None) -> Contact:
    return Contact(
        id=cid,
        phone=phone,
        last_interacted_channel=WA,
        identities=(
            ChannelIdentity(
                account_id="wa-0", channel=WA, external_id=phone, last_inbound_at=wrote
            ),
        ),
        subscriptions={"wa-0": SubscriptionStatus.SUBSCRIBED},
    )


def _run(
    contacts: list[Contact], profile_name: str = "official", *, retry_first: bool = False
) -> dict[str, list[tuple[datetime, str]]]:
    """Each contact's messages as they went: the instant and the text, in order."""
    profile = load_profile("official")
    if profile_name == "small":
        profile = profile.derive(
            "small", {"channels": {"whatsapp": {"tiers": {"limits": [3, 10]}}}}
        )
    clock = FixedClock(NOW)
    went: dict[str, list[tuple[datetime, str]]] = {}

    def accept(request: SendRequest) -> SendResult:
        went.setdefault(request.contact_id or "", []).append(
            (clock.now(), request.content.text or "")
        )
        return SendResult(request.idempotency_key, SendStatus.ACCEPTED)

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    transport = RecordingTransport(accept)
    if retry_first:
        transport.fail_call(1, SendStatus.RETRY)
    plan = plan_broadcast(_draft(), contacts, profile=profile, now=NOW)
    store = MemoryStore()
    try:
        Dispatcher(store, transport, clock=clock, sleep=sleep, seed=7).run(plan)
    finally:
        store.close()
    return went


def _apart_and_in_order(went: dict[str, list[tuple[datetime, str]]]) -> None:
    for contact, sent in went.items():
        assert [text for _, text in sent] == ["part 1", "part 2"], contact
        for (a, _), (b, _) in itertools.pairwise(sent):
            assert b - a >= SIX, (contact, sent)


def test_p5_a_retried_first_message_pushes_the_second_back() -> None:
    went = _run([_contact("c0", "+34611000001")], retry_first=True)
    assert len(went["c0"]) == 2
    assert went["c0"][0][0] > NOW  # the first went again after its backoff
    _apart_and_in_order(went)


def test_p5_two_messages_deferred_by_the_tier_keep_their_distance_and_order() -> None:
    # Four business-initiated users under a tier of three (B13): the one who wrote
    # lately counts for the dispatcher (a template, and no conversation in the store),
    # so the fourth contact's two messages wait a day for the tier's first free moment.
    contacts = [
        _contact("c0", "+34611000001", wrote=NOW - timedelta(hours=27)),
        _contact("c1", "+34611000002"),
        _contact("c2", "+34611000003"),
        _contact("c3", "+34611000004", wrote=NOW - timedelta(minutes=52)),
    ]
    went = _run(contacts, "small")
    late = [c for c, sent in went.items() if sent[0][0] > NOW + timedelta(hours=23)]
    assert late  # the tier did defer someone
    assert sum(len(sent) for sent in went.values()) == 8
    _apart_and_in_order(went)
