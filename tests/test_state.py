"""The stored state: conversations, consent, accounts and usage, and their transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from odd_zones import NoOffset
from omnimsg import (
    AccountState,
    ChannelIdentity,
    ChannelKind,
    Contact,
    ConversationState,
    InputError,
    Message,
    NaiveDatetimeError,
    OptInState,
    SenderUsage,
    SubscriptionStatus,
    conversation_state,
    decide,
    load_profile,
)
from omnimsg.state import CLOCK_SKEW

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
WECHAT = load_profile("respondio").capabilities("wechat", as_of=NOW)


def test_w5_a_late_webhook_never_moves_the_window_back_or_resets_the_count() -> None:
    """SPEC W5: an inbound older than the stored one (a late webhook) changes nothing."""
    state = ConversationState(last_inbound_at=NOW - H, outbound_since_inbound=19)
    late = state.after_inbound(NOW - 3 * H, now=NOW)
    assert late == state
    repeated = state.after_inbound(NOW - H, now=NOW)
    assert repeated == state
    assert decide(WECHAT, late, Message(text="x"), now=NOW).remaining_in_window == 1


def test_w5_a_newer_inbound_resets_the_window_and_the_count() -> None:
    """SPEC W5: a message from the contact resets both the clock and the counter."""
    state = ConversationState(last_inbound_at=NOW - 40 * H, outbound_since_inbound=20)
    new = state.after_inbound(NOW - H, now=NOW)
    assert new.last_inbound_at == NOW - H
    assert new.outbound_since_inbound == 0


def test_an_inbound_from_the_future_is_refused_beyond_the_skew_tolerance() -> None:
    state = ConversationState()
    assert state.after_inbound(NOW + CLOCK_SKEW, now=NOW).last_inbound_at == NOW + CLOCK_SKEW
    with pytest.raises(InputError, match="later than now"):
        state.after_inbound(NOW + CLOCK_SKEW + timedelta(seconds=1), now=NOW)
    with pytest.raises(InputError, match="later than now"):
        state.after_inbound(NOW + H, now=NOW, skew=timedelta(0))


def test_after_inbound_refuses_naive_and_missing_instants() -> None:
    state = ConversationState()
    with pytest.raises(NaiveDatetimeError):
        state.after_inbound(datetime(2026, 1, 1), now=NOW)
    with pytest.raises(InputError):
        state.after_inbound(None, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        state.after_inbound(NOW, now="now")  # type: ignore[arg-type]


def test_w5_an_outbound_reported_late_does_not_count_in_the_new_window() -> None:
    """SPEC W5: a message sent before the last inbound belonged to an earlier window."""
    state = ConversationState(last_inbound_at=NOW - H, outbound_since_inbound=2)
    late = state.after_outbound(NOW - 2 * H)
    assert late.outbound_since_inbound == 2
    # Its instant is kept all the same: per-recipient rates count every message (P5, P10).
    assert late.outbound_times == (NOW - 2 * H,)
    assert state.after_outbound(NOW).outbound_since_inbound == 3
    assert state.after_outbound().outbound_since_inbound == 3


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=200)),
        max_size=30,
    )
)
def test_w5_the_window_never_moves_back_whatever_the_order_of_events(
    events: list[tuple[bool, int]],
) -> None:
    """SPEC W5: windows never reopen without an inbound, never move back with a late one."""
    state = ConversationState()
    start = NOW - 300 * H
    for inbound, offset in events:
        at = start + offset * H
        before = state
        if inbound:
            state = state.after_inbound(at, now=NOW)
            assert before.last_inbound_at is None or state.last_inbound_at is not None
            if before.last_inbound_at is not None:
                assert state.last_inbound_at is not None
                assert state.last_inbound_at >= before.last_inbound_at
                if state.last_inbound_at == before.last_inbound_at:
                    assert state.outbound_since_inbound == before.outbound_since_inbound
        else:
            state = state.after_outbound(at)
            assert state.last_inbound_at == before.last_inbound_at
            assert state.outbound_since_inbound >= before.outbound_since_inbound


def test_w6_a_chatbot_count_without_its_month_is_refused() -> None:
    """SPEC W6: a count is a count in a month; without the month it cannot be read."""
    with pytest.raises(InputError, match="chatbot_month"):
        AccountState(chatbot_initiated_count=5)
    assert AccountState(chatbot_initiated_count=0).chatbot_count_at(NOW) == 0


def test_states_refuse_instants_at_the_ends_of_the_date_range() -> None:
    for extreme in (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)):
        with pytest.raises(InputError, match="supported range"):
            ConversationState(last_inbound_at=extreme)
        with pytest.raises(InputError, match="supported range"):
            OptInState(status="prompted", prompts_sent=1, last_prompt_at=extreme)
        with pytest.raises(InputError):
            AccountState().after_chatbot_initiated(extreme)


def test_a_tzinfo_without_an_offset_counts_as_naive() -> None:
    with pytest.raises(NaiveDatetimeError):
        ConversationState(last_inbound_at=datetime(2026, 1, 1, tzinfo=NoOffset()))
    with pytest.raises(InputError, match="no UTC offset"):
        AccountState(timezone=NoOffset())
    with pytest.raises(NaiveDatetimeError):
        decide(
            WECHAT,
            ConversationState(last_inbound_at=NOW),
            Message(text="x"),
            now=datetime(2026, 1, 1, tzinfo=NoOffset()),
        )


def test_conversation_state_is_built_from_a_contact_and_an_account() -> None:
    """The one documented call: window from the identity, consent from the contact."""
    contact = Contact(
        id="c1",
        identities=(ChannelIdentity("wx-1", ChannelKind.WECHAT, "o1", last_inbound_at=NOW - H),),
        subscriptions={"wx-1": "declined"},
    )
    state = conversation_state(contact, "wx-1", outbound_since_inbound=4)
    assert state.last_inbound_at == NOW - H
    assert state.outbound_since_inbound == 4
    assert state.consent is contact.subscriptions["wx-1"]
    assert state.subscription is SubscriptionStatus.DECLINED
    other = conversation_state(contact, "wx-2")
    assert other.last_inbound_at is None
    assert other.consent.status is SubscriptionStatus.NOT_ASKED
    newer = OptInState(status="subscribed")
    assert conversation_state(contact, "wx-1", consent=newer).consent is newer
    with pytest.raises(InputError, match="contact"):
        conversation_state({"id": "c1"}, "wx-1")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="account_id"):
        conversation_state(contact, 5)  # type: ignore[arg-type]


def test_consent_accepts_a_record_a_status_or_its_string() -> None:
    assert ConversationState(consent="subscribed").consent == OptInState(status="subscribed")
    prompted = OptInState.of("prompted")
    assert prompted.prompts_sent == 1
    assert prompted.last_prompt_at is None
    with pytest.raises(InputError, match="consent"):
        ConversationState(consent="maybe")
    with pytest.raises(InputError, match="consent"):
        ConversationState(consent=5)  # type: ignore[arg-type]


def test_b11_usage_counts_distinct_recipients_per_day_of_the_accounts_zone() -> None:
    """SPEC B11: recipients per day, in the sender's own time zone."""
    tokyo = AccountState(timezone="Asia/Tokyo")
    # 14:30 UTC is 23:30 in Tokyo; 15:30 UTC is the next day there.
    day_one = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    usage = SenderUsage().after_sends(
        [(day_one, "a"), (day_one + timedelta(minutes=1), "b"), (day_one, "a")], account=tokyo
    )
    assert usage.day == date(2026, 11, 23)
    assert usage.recipients_today == 2
    next_day = usage.after_sends([(day_one + H, "a")], account=tokyo)
    assert next_day.day == date(2026, 11, 24)
    assert next_day.recipients_today == 1
    assert next_day.recipients_on(date(2026, 11, 23)) == 0


def test_b13_unique_recipients_in_a_rolling_window() -> None:
    """SPEC B13: unique recipients in a rolling 24 h."""
    account = AccountState()
    sends = [(NOW - 30 * H, "a"), (NOW - 10 * H, "b"), (NOW - 5 * H, "b"), (NOW - H, "c")]
    usage = SenderUsage().after_sends(sends, account=account)
    assert usage.unique_recipients(NOW - 24 * H, NOW) == 2
    assert usage.unique_recipients(NOW - 48 * H, NOW) == 3
    pruned = usage.after_sends([(NOW + 8 * 24 * H, "z")], account=account)
    assert [r for _, r in pruned.recent] == ["z"]


def test_usage_refuses_malformed_records() -> None:
    with pytest.raises(InputError, match="recent"):
        SenderUsage(recent=[("yesterday", "a")])  # type: ignore[list-item]
    with pytest.raises(InputError, match="day"):
        SenderUsage(day="soon")  # type: ignore[arg-type]
    assert SenderUsage(day="2026-11-23").day == date(2026, 11, 23)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        SenderUsage().unique_recipients(NOW.replace(tzinfo=None), NOW)


def test_stored_strings_and_offsets_are_converted() -> None:
    offset = timezone(timedelta(hours=5))
    state = ConversationState(last_inbound_at=datetime(2026, 1, 1, 5, tzinfo=offset))
    assert state.last_inbound_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert AccountState(chatbot_month=[2026, 11], chatbot_initiated_count=3).chatbot_month == (
        2026,
        11,
    )


def test_w5_p8_a_late_inbound_webhook_keeps_the_sends_made_after_it() -> None:
    """SPEC W5, P8: five messages went after 10:05; the webhook of a message written at
    10:05 arrives late. The cap stays reached: the sends after it still count."""
    t = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    state = ConversationState().after_inbound(t, now=t)
    for minute in range(10, 15):
        state = state.after_outbound(t + timedelta(minutes=minute))
    late = state.after_inbound(t + timedelta(minutes=5), now=t + timedelta(minutes=20))
    assert late.last_inbound_at == t + timedelta(minutes=5)
    assert late.outbound_since_inbound == 5
    fresh = state.after_inbound(t + timedelta(minutes=30), now=t + timedelta(minutes=30))
    assert fresh.outbound_since_inbound == 0


def test_b14_a_known_quality_rating_sets_quality_low_both_ways() -> None:
    """SPEC B14, P3: a rating that recovers from low lifts quality_low with it."""
    low = AccountState(quality="low")
    assert low.quality_low
    assert not attrs.evolve(low, quality="high").quality_low
    assert AccountState(quality_low=True).quality_low  # no rating: the flag as given
