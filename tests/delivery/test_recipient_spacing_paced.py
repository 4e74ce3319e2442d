"""A recipient's spacing under the account's pacing (SPEC P5, B10).

When a run is behind (a late start, a resume, a tier's deferral) the dispatcher
paces the account's sends one slot each (B10). A recipient's earlier message that
waits for a slot must hold back the recipient's later one (P5: order and distance),
and a send that gave up its slot to keep that distance must not go later without
one (B10). Before this, a paced first message was overtaken by its second, and the
second then went without a slot, 1.3 s after another send under a rate of one per 10 s.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omnimsg import load_profile
from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Sender, plan_broadcast
from omnimsg.broadcasts.model import Rate
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.delivery import AsyncDispatcher, Dispatcher
from omnimsg.delivery import dispatcher as dispatcher_module
from omnimsg.state import SubscriptionStatus
from omnimsg.stores.memory import MemoryStore
from omnimsg.testing import FixedClock, RecordingTransport
from omnimsg.transports import SendRequest, SendResult, SendStatus

NOW = datetime(2021, 1, 1, tzinfo=UTC)
WA = ChannelKind.WHATSAPP
SIX = timedelta(seconds=6)
Went = list[tuple[datetime, str, str]]


def _contact(n: int, wrote: datetime | None = None) -> Contact:
    phone = f"+3461100000{n}"
    return Contact(
        id=f"c{n}",
        phone=phone,
        last_interacted_channel=WA,
        identities=(
            ChannelIdentity(
                account_id="wa-0", channel=WA, external_id=phone, last_inbound_at=wrote
            ),
        ),
        subscriptions={"wa-0": SubscriptionStatus.SUBSCRIBED},
    )


def _draft(per: timedelta) -> Draft:
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
        rate=Rate(1, per),
    )


def _dispatch(
    contacts: list[Contact],
    *,
    per: timedelta,
    start: datetime,
    retry_call: int | None = None,
    small_tier: bool = False,
    use_async: bool = False,
) -> Went:
    profile = load_profile("official")
    if small_tier:
        profile = profile.derive(
            "small", {"channels": {"whatsapp": {"tiers": {"limits": [3, 10]}}}}
        )
    clock = FixedClock(start)
    went: Went = []

    def accept(request: SendRequest) -> SendResult:
        went.append((clock.now(), request.contact_id or "", request.content.text or ""))
        return SendResult(request.idempotency_key, SendStatus.ACCEPTED)

    transport = RecordingTransport(accept)
    if retry_call is not None:
        transport.fail_call(retry_call, SendStatus.RETRY)
    plan = plan_broadcast(_draft(per), contacts, profile=profile, now=NOW)
    store = MemoryStore()
    try:
        if use_async:

            async def asleep(seconds: float) -> None:
                clock.advance(timedelta(seconds=seconds))

            asyncio.run(
                AsyncDispatcher(
                    store, transport, clock=clock, sleep=asleep, seed=7, concurrency=1
                ).run(plan)
            )
        else:

            def sleep(seconds: float) -> None:
                clock.advance(timedelta(seconds=seconds))

            Dispatcher(store, transport, clock=clock, sleep=sleep, seed=7).run(plan)
    finally:
        store.close()
    return sorted(went)


def _check(went: Went, per: timedelta) -> None:
    by_contact: dict[str, Went] = {}
    for sent in went:
        by_contact.setdefault(sent[1], []).append(sent)
    for contact, theirs in by_contact.items():
        assert [text for _, _, text in theirs] == ["part 1", "part 2"], (contact, theirs)  # P5
        assert theirs[1][0] - theirs[0][0] >= SIX, (contact, theirs)  # P5
    for a, b in itertools.pairwise(went):
        assert b[0] - a[0] >= per, (a, b)  # B10


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("late", "retry_call", "seconds"), [(100, 2, 10), (100, 1, 3), (1000, 2, 20)]
)
def test_p5_b10_a_resumed_run_with_a_retry_keeps_order_distance_and_rate(
    late: int, retry_call: int, seconds: int, use_async: bool
) -> None:
    per = timedelta(seconds=seconds)
    went = _dispatch(
        [_contact(n) for n in range(4)],
        per=per,
        start=NOW + timedelta(seconds=late),
        retry_call=retry_call,
        use_async=use_async,
    )
    assert len(went) == 8
    _check(went, per)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_p5_b13_two_recipients_deferred_by_the_tier_keep_their_order(use_async: bool) -> None:
    # Under a tier of three (B13) the two who wrote lately count for the dispatcher
    # (no conversation in the store) and wait a day; paced then, each keeps its order.
    wrote = NOW - timedelta(minutes=52)
    contacts = [
        _contact(0, NOW - timedelta(hours=27)),
        _contact(1),
        _contact(2),
        _contact(3, wrote),
        _contact(4, wrote),
    ]
    per = timedelta(minutes=1)
    went = _dispatch(contacts, per=per, start=NOW, small_tier=True, use_async=use_async)
    assert len(went) == 10
    assert went[-1][0] > NOW + timedelta(hours=23)  # the tier did defer someone
    _check(went, per)


def test_p5_the_run_forgets_a_recipient_once_their_sends_are_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the run keeps of a recipient's lateness goes with their last send: a
    # long run holds it only for recipients still being sent to.
    runs: list[Any] = []
    original = dispatcher_module._Run

    def keep(*args: Any) -> Any:
        run = original(*args)
        runs.append(run)
        return run

    monkeypatch.setattr(dispatcher_module, "_Run", keep)
    per = timedelta(seconds=10)
    went = _dispatch([_contact(n) for n in range(4)], per=per, start=NOW + timedelta(seconds=100))
    assert len(went) == 8
    assert len(runs) == 1
    assert runs[0].behind == {}
