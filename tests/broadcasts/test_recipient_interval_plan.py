"""The planner spaces one recipient's messages by the channel's interval (SPEC P5, P10).

WhatsApp asks for about 6 s between two messages to one user (P5, uncertain), Telegram
for about one message per second in one chat (P10). A broadcast of several messages
per contact places them that far apart, with or without a send rate (B10), and
``decide`` at each planned instant, with the earlier messages counted, allows it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import ConversationState, Message, Reason, decide, load_profile
from omnimsg.broadcasts import Audience, BroadcastMessage, Draft, Rate, Sender, plan_broadcast
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact

OFFICIAL = load_profile("official")
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
K = ChannelKind


def _contacts(channel: ChannelKind, account: str, count: int) -> list[Contact]:
    people = []
    for n in range(count):
        phone = f"+3461100{n:04d}"
        external = phone if channel is K.WHATSAPP else f"tg-{n}"
        people.append(
            Contact(
                id=f"c{n}",
                phone=phone,
                last_interacted_channel=channel,
                identities=(
                    ChannelIdentity(
                        account_id=account,
                        channel=channel,
                        external_id=external,
                        last_inbound_at=NOW - timedelta(hours=1),
                    ),
                ),
            )
        )
    return people


def _draft(channel: ChannelKind, account: str, messages: int, rate: Rate | None) -> Draft:
    return Draft(
        id="news",
        name="News",
        audience=Audience(),
        content={channel: tuple(BroadcastMessage(text=f"part {n}") for n in range(messages))},
        senders=(Sender(account, channel),),
        rate=rate,
    )


@settings(max_examples=30)
@given(
    channel=st.sampled_from([K.WHATSAPP, K.TELEGRAM]),
    messages=st.integers(min_value=1, max_value=4),
    people=st.integers(min_value=1, max_value=12),
    rate=st.one_of(
        st.none(),
        st.sampled_from([(1, 2), (2, 1), (50, 1), (7, 60)]).map(
            lambda r: Rate(messages=r[0], per=timedelta(seconds=r[1]))
        ),
    ),
)
def test_p5_p10_one_recipients_messages_are_the_interval_apart(
    channel: ChannelKind, messages: int, people: int, rate: Rate | None
) -> None:
    account = "acct-1"
    caps = OFFICIAL.capabilities(channel, as_of=NOW)
    interval = caps.recipient_interval
    assert interval is not None
    plan = plan_broadcast(
        _draft(channel, account, messages, rate),
        _contacts(channel, account, people),
        profile=OFFICIAL,
        now=NOW,
    )
    planned = [outcome for outcome in plan if outcome.sends]
    assert len(planned) == people  # nobody lost
    for outcome in planned:
        times = [send.not_before for send in outcome.sends]
        assert len(times) == messages
        assert all(b - a >= interval for a, b in itertools.pairwise(times))
        # decide at each planned instant, with the earlier messages counted, allows it
        for n, at in enumerate(times):
            state = ConversationState(
                last_inbound_at=NOW - timedelta(hours=1), outbound_times=tuple(times[:n])
            )
            decision = decide(caps, state, Message(text="part"), now=at)
            assert decision.reason is not Reason.RECIPIENT_RATE, (n, times)
