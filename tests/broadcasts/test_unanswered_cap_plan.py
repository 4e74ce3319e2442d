"""The planner spaces one recipient's messages under Viber's unanswered cap (SPEC P9).

A Viber bot may send a subscriber at most ``unanswered_cap`` messages per
``unanswered_period`` without a reply (100 an hour in the official profile). A
broadcast with more messages per contact than a (derived, smaller) cap places them
so that any ``cap + 1`` of them span the period, and ``decide`` at each planned
instant, with the earlier messages counted, allows it. Before this spacing every
message went at once and the third of three under a cap of two broke P9.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import ConversationState, Message, Profile, decide, load_profile
from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Rate, Sender, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
WROTE = NOW - timedelta(hours=1)
VIBER = ChannelKind.VIBER


def _profile(cap: int) -> Profile:
    return load_profile("official").derive(
        f"viber-cap-{cap}", {"channels": {"viber": {"unanswered_cap": cap}}}
    )


def _contacts(count: int) -> list[Contact]:
    return [
        Contact(
            id=f"c{n}",
            last_interacted_channel=VIBER,
            identities=(
                ChannelIdentity(
                    account_id="vb-1", channel=VIBER, external_id=f"vb-{n}", last_inbound_at=WROTE
                ),
            ),
        )
        for n in range(count)
    ]


def _draft(messages: int, rate: Rate | None = None) -> Draft:
    return Draft(
        id="news",
        name="News",
        audience=Audience(),
        content={VIBER: tuple(BroadcastMessage(text=f"part {n}") for n in range(messages))},
        senders=(Sender("vb-1", VIBER),),
        rate=rate,
    )


def test_p9_three_messages_under_a_cap_of_two_are_half_an_hour_apart() -> None:
    profile = _profile(2)
    plan = plan_broadcast(_draft(3), _contacts(1), profile=profile, now=NOW)
    (outcome,) = list(plan)
    times = [send.not_before for send in outcome.sends]
    assert times == [NOW, NOW + timedelta(minutes=30), NOW + timedelta(hours=1)]


def test_p9_the_official_cap_of_100_leaves_three_messages_together() -> None:
    plan = plan_broadcast(_draft(3), _contacts(1), profile=load_profile("official"), now=NOW)
    (outcome,) = list(plan)
    assert {send.not_before for send in outcome.sends} == {NOW}


@settings(max_examples=25, deadline=None)
@given(
    cap=st.integers(1, 3),
    messages=st.integers(1, 4),
    people=st.integers(1, 5),
    rate=st.none() | st.just(Rate(messages=1, per=timedelta(minutes=7))),
)
def test_p9_decide_allows_every_planned_message(
    cap: int, messages: int, people: int, rate: Rate | None
) -> None:
    profile = _profile(cap)
    caps = profile.capabilities(VIBER, as_of=NOW)
    plan = plan_broadcast(_draft(messages, rate), _contacts(people), profile=profile, now=NOW)
    planned = [outcome for outcome in plan if outcome.sends]
    assert len(planned) == people  # nobody lost: the spacing fits the session's 24 h
    for outcome in planned:
        times = [send.not_before for send in outcome.sends]
        for n, at in enumerate(times):
            state = ConversationState(last_inbound_at=WROTE, outbound_times=tuple(times[:n]))
            decision = decide(caps, state, Message(text="part", marketing=True), now=at)
            assert decision.allowed, (n, times, decision.explain())
