"""Webhooks and stored records for the platforms' own rules (SPEC P5, P8, P9, P10, P11).

``on_inbound`` keeps a Viber session's start (P9) and a group mark (P10), ``on_event``
records WeChat's menu clicks, follows and scans once per event id (P8), ``on_outbound``
keeps the instants the rates count (P5, P9, P10); every new field survives the
store's text format, and a record written before the fields existed still reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels.registry import Profile, load_profile, profile_from_dict
from omnimsg.delivery.events import on_event, on_inbound, on_outbound
from omnimsg.delivery.records import (
    decode_account,
    decode_conversation,
    encode_account,
    encode_conversation,
)
from omnimsg.errors import CorruptRecordError, InputError
from omnimsg.policy.decision import Message, decide
from omnimsg.policy.reasons import Reason
from omnimsg.protocols import DeliveryStore
from omnimsg.state import (
    OUTBOUND_TIMES_KEPT,
    AccountState,
    ConversationState,
    OptInState,
    SubscriptionStatus,
)

from .test_dispatcher import STORES, open_stores

T = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)
HELLO = Message(text="Hello")
OFFICIAL = load_profile("official")
EXTENDING = profile_from_dict(
    {"name": "extending", "channels": {"viber": {"window": "24h", "after_window": "nothing"}}}
)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    makers: Iterator[Callable[..., DeliveryStore]] = open_stores(request.param, tmp_path)
    make = next(makers)
    yield make()
    next(makers, None)


def inbound(
    store: DeliveryStore,
    message_id: str,
    at: datetime,
    *,
    channel: str = "viber",
    profile: Profile = OFFICIAL,
    group: bool | None = None,
) -> ConversationState:
    return on_inbound(
        store,
        contact_id="c1",
        account_id="acct",
        channel=channel,
        message_id=message_id,
        at=at,
        now=at,
        profile=profile,
        group=group,
    ).state


def stored(store: DeliveryStore) -> ConversationState:
    state = store.get_conversation("c1", "acct")
    assert state is not None
    return state


# --- P9: the session's start ------------------------------------------------------------


def test_p9_on_inbound_keeps_the_session_start_where_the_window_does_not_extend(
    store: DeliveryStore,
) -> None:
    """SPEC P9: session at T, a message at T+10h, a send at T+25h is chatbot-initiated."""
    inbound(store, "m1", T)
    inbound(store, "m2", T + 10 * H)
    state = stored(store)
    assert (state.session_started_at, state.last_inbound_at) == (T, T + 10 * H)
    caps = OFFICIAL.capabilities("viber", as_of=T)
    d = decide(caps, state, HELLO, now=T + 25 * H)
    assert (d.allowed, d.reason) == (True, Reason.CHATBOT_INITIATED_FREE)
    assert decide(caps, state, HELLO, now=T + 23 * H).reason is Reason.WITHIN_WINDOW


def test_p9_where_the_window_extends_every_message_starts_it_again(store: DeliveryStore) -> None:
    """SPEC P9, W2: with window_extends (the default) the window runs from the last message."""
    inbound(store, "m1", T, profile=EXTENDING)
    inbound(store, "m2", T + 10 * H, profile=EXTENDING)
    state = stored(store)
    assert state.session_started_at == T + 10 * H
    caps = EXTENDING.capabilities("viber", as_of=T)
    assert decide(caps, state, HELLO, now=T + 25 * H).reason is Reason.WITHIN_WINDOW


def test_p9_a_repeated_webhook_does_not_move_the_session(store: DeliveryStore) -> None:
    """SPEC P9: the same message id twice is applied once."""
    inbound(store, "m1", T)
    inbound(store, "m2", T + 30 * H)
    inbound(store, "m1", T)
    assert stored(store).session_started_at == T + 30 * H


def test_p10_on_inbound_marks_a_group_chat(store: DeliveryStore) -> None:
    """SPEC P10: the group mark is set, kept when not given, and cleared on request."""
    inbound(store, "m1", T, channel="telegram", group=True)
    assert stored(store).group is True
    inbound(store, "m2", T + S, channel="telegram")
    assert stored(store).group is True
    inbound(store, "m3", T + 2 * S, channel="telegram", group=False)
    assert stored(store).group is False


@pytest.mark.parametrize("group", ["yes", 1, b"x"])
def test_on_inbound_refuses_a_group_mark_that_is_not_a_flag(
    store: DeliveryStore, group: Any
) -> None:
    with pytest.raises(InputError, match="group"):
        inbound(store, "m1", T, group=group)


# --- P8: events -------------------------------------------------------------------------


def event(store: DeliveryStore, event_id: str, at: datetime, now: datetime | None = None) -> bool:
    return on_event(
        store,
        contact_id="c1",
        account_id="acct",
        event_id=event_id,
        at=at,
        now=at if now is None else now,
    )


def test_p8_on_event_records_an_event_once_per_id(store: DeliveryStore) -> None:
    """SPEC P8: a follow by a new contact opens the event's minute for 3 messages."""
    assert event(store, "follow-1", T) is True
    assert event(store, "follow-1", T) is False  # a repeated delivery
    state = stored(store)
    assert (state.last_event_at, state.last_inbound_at) == (T, None)
    caps = OFFICIAL.capabilities("wechat", as_of=T)
    d = decide(caps, state, HELLO, now=T + 10 * S)
    assert (d.allowed, d.reason, d.remaining_in_window) == (True, Reason.WITHIN_EVENT_WINDOW, 3)
    for i in range(3):
        on_outbound(store, contact_id="c1", account_id="acct", message_id=f"o{i}", at=T + i * S)
    full = stored(store)
    assert len(full.outbound_times) == 3
    assert decide(caps, full, HELLO, now=T + 10 * S).reason is Reason.EVENT_CAP_REACHED


def test_p8_an_older_event_changes_nothing_and_a_newer_one_renews(store: DeliveryStore) -> None:
    """SPEC P8: events are monotone like inbound messages."""
    assert event(store, "e2", T)
    assert event(store, "e1", T - H, now=T) is False
    assert stored(store).last_event_at == T
    assert event(store, "e3", T + H)
    assert stored(store).last_event_at == T + H


def test_p8_event_ids_are_kept_apart_from_message_ids(store: DeliveryStore) -> None:
    """SPEC P8: a message and an event may carry the same platform id."""
    inbound(store, "42", T, channel="wechat")
    assert event(store, "42", T + S)
    assert stored(store).last_event_at == T + S
    inbound(store, "43", T + 2 * S, channel="wechat")
    assert event(store, "42", T + 3 * S) is False


@pytest.mark.parametrize(
    "event_id", ["", "a\x00b", "a\x1eb", "a\x1db", None, 5, "x" * 1001, "\ud800"]
)
def test_on_event_refuses_hostile_ids(store: DeliveryStore, event_id: Any) -> None:
    with pytest.raises(InputError):
        event(store, event_id, T)


@pytest.mark.parametrize(
    ("at", "now"),
    [
        (T + H, T),  # from the future beyond the clock-skew tolerance
        (datetime(2025, 5, 1), T),
        ("2025-05-01", T),
        (None, T),
        (T, datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_on_event_refuses_hostile_instants(store: DeliveryStore, at: Any, now: Any) -> None:
    with pytest.raises(InputError):
        on_event(store, contact_id="c1", account_id="acct", event_id="e", at=at, now=now)
    assert store.get_conversation("c1", "acct") is None


def test_message_ids_with_the_record_separators_are_refused(store: DeliveryStore) -> None:
    """X5: an id that could be mistaken for another in the applied list is refused."""
    with pytest.raises(InputError):
        inbound(store, "m\x1e1", T)
    with pytest.raises(InputError):
        on_outbound(store, contact_id="c1", account_id="acct", message_id="o\x1d", at=T)


# --- P5, P9, P10: outbound instants -------------------------------------------------------


def test_on_outbound_keeps_the_instant_once_per_message(store: DeliveryStore) -> None:
    """SPEC P5: an agent's reply sent outside omnimsg delays the next message."""
    inbound(store, "m1", T, channel="whatsapp")
    args = {"contact_id": "c1", "account_id": "acct", "message_id": "o1", "at": T + S}
    assert on_outbound(store, **args) is True
    assert on_outbound(store, **args) is False
    state = stored(store)
    assert (state.outbound_since_inbound, state.outbound_times) == (1, (T + S,))
    caps = OFFICIAL.capabilities("whatsapp", as_of=T)
    d = decide(caps, state, HELLO, now=T + 3 * S)
    assert (d.reason, d.retry_at) == (Reason.RECIPIENT_RATE, T + 7 * S)


def test_on_outbound_before_the_last_inbound_keeps_the_count(store: DeliveryStore) -> None:
    """SPEC W5: a late-reported message does not count in the new window; its time is kept."""
    inbound(store, "m1", T, channel="wechat")
    assert not on_outbound(store, contact_id="c1", account_id="acct", message_id="o1", at=T - H)
    state = stored(store)
    assert (state.outbound_since_inbound, state.outbound_times) == (0, (T - H,))


# --- the records --------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    last=st.none() | instants,
    session_back=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
    has_session=st.booleans(),
    times=st.lists(instants, max_size=20),
    event_at=st.none() | instants,
    group=st.booleans(),
    sent=st.integers(0, 1000),
)
def test_a_conversation_round_trips_through_its_record_with_every_field(
    last: datetime | None,
    session_back: timedelta,
    has_session: bool,
    times: list[datetime],
    event_at: datetime | None,
    group: bool,
    sent: int,
) -> None:
    """SPEC P5-P10: the new fields survive encode and decode exactly."""
    state = ConversationState(
        last_inbound_at=last,
        outbound_since_inbound=sent,
        consent=OptInState(status=SubscriptionStatus.SUBSCRIBED, changed_at=T),
        session_started_at=None if last is None or not has_session else last - session_back,
        outbound_times=times,
        last_event_at=event_at,
        group=group,
    )
    decoded, events = decode_conversation("k", encode_conversation(state, ("a", "b")))
    assert decoded == state
    assert events == ("a", "b")


def test_a_record_written_before_the_new_fields_still_reads() -> None:
    """SPEC P9: an old record has no session, times, event or group: their defaults."""
    old = json.dumps(
        {
            "last_inbound_at": 1_700_000_000_000_000,
            "outbound_since_inbound": 2,
            "consent": {
                "status": "subscribed",
                "prompts_sent": 0,
                "first_prompt_at": None,
                "last_prompt_at": None,
                "held": [],
                "changed_at": None,
            },
            "events": ["m1"],
        }
    )
    state, events = decode_conversation("k", old)
    assert (state.session_started_at, state.outbound_times, state.last_event_at, state.group) == (
        None,
        (),
        None,
        False,
    )
    assert (state.outbound_since_inbound, events) == (2, ("m1",))
    # a state that never used them is written as before
    assert set(json.loads(encode_conversation(state))) == {
        "last_inbound_at",
        "outbound_since_inbound",
        "consent",
        "events",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"outbound_times": "x"},
        {"outbound_times": [True]},
        {"outbound_times": [1.5]},
        {"outbound_times": [10**20]},
        {"group": "yes"},
        {"session_started_at": "T"},
        {"session_started_at": 1_800_000_000_000_000},  # after the last inbound message
        {"last_event_at": [1]},
    ],
)
def test_a_corrupt_platform_field_is_a_corrupt_record(fields: dict[str, Any]) -> None:
    data = {
        "last_inbound_at": 1_700_000_000_000_000,
        "outbound_since_inbound": 0,
        "consent": {"status": "not_asked", "prompts_sent": 0, "held": []},
        "events": [],
        **fields,
    }
    with pytest.raises(CorruptRecordError):
        decode_conversation("k", json.dumps(data))


def test_the_kept_instants_are_bounded_in_a_record() -> None:
    """SPEC P9: a record never holds more than OUTBOUND_TIMES_KEPT instants."""
    state = ConversationState(outbound_times=[T + i * S for i in range(1000)])
    data = json.loads(encode_conversation(state))
    assert len(data["outbound_times"]) == OUTBOUND_TIMES_KEPT


def test_an_account_round_trips_with_its_quota_and_an_old_record_still_reads() -> None:
    """SPEC P11: the monthly quota count survives the record; old records default it."""
    account = AccountState(
        timezone="Asia/Tokyo", quota_month=(2025, 5), quota_count=7, paid_extra_messages=True
    )
    assert decode_account("a", encode_account(account)) == account
    old = json.dumps(
        {
            "timezone": "Asia/Tokyo",
            "chatbot_month": None,
            "chatbot_initiated_count": 0,
            "paid_chatbot_terms": False,
            "tier": 0,
            "quality_low": False,
        }
    )
    read = decode_account("a", old)
    assert (read.quota_month, read.quota_count, read.paid_extra_messages) == (None, 0, False)
    with pytest.raises(CorruptRecordError):
        decode_account("a", json.dumps({"quota_count": 3}))
