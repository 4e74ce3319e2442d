"""The platforms' own rules in decide and the states (SPEC P5, P6, P8, P9, P10, P11, P13, P15, X1).

Each rule is checked on capabilities built here (``profile_from_dict``) and, where the
``official`` profile dates it, just inside and just outside its dates.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels import ChannelCapabilities, Mode
from omnimsg.channels.registry import Profile, load_profile, profile_from_dict
from omnimsg.errors import ConfigurationError, InputError, NaiveDatetimeError
from omnimsg.policy.consent import consent_refusal
from omnimsg.policy.decision import Decision, Message, decide
from omnimsg.policy.rates import counts_against_quota
from omnimsg.policy.reasons import REASONS, RULE_OF, Reason
from omnimsg.state import (
    OUTBOUND_TIMES_KEPT,
    AccountState,
    ConversationState,
    SubscriptionStatus,
)

T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
HELLO = Message(text="Hello")
OFFICIAL = load_profile("official")


def profile(**channels: dict[str, Any]) -> Profile:
    return profile_from_dict({"name": "platform-test", "channels": channels})


def caps_of(kind: str, **settings: Any) -> ChannelCapabilities:
    return profile(**{kind: settings}).capabilities(kind, as_of=T)


def official(kind: str, at: datetime) -> ChannelCapabilities:
    return OFFICIAL.capabilities(kind, as_of=at)


def sent_at(state: ConversationState, *instants: datetime) -> ConversationState:
    for at in instants:
        state = state.after_outbound(at)
    return state


# --- the reason table ------------------------------------------------------------------

NEW_REASONS = {
    Reason.CHANNEL_RETIRED: "P15",
    Reason.NO_NEW_CONVERSATIONS: "P15",
    Reason.MARKETING_UNDER_TAG: "P6",
    Reason.UNANSWERED_CAP_REACHED: "P9",
    Reason.WITHIN_EVENT_WINDOW: "P8",
    Reason.EVENT_CAP_REACHED: "P8",
    Reason.RECIPIENT_RATE: "P5",
    Reason.GROUP_RATE: "P10",
    Reason.MONTHLY_QUOTA_REACHED: "P11",
}


@pytest.mark.parametrize(("reason", "rule"), sorted(NEW_REASONS.items()))
def test_every_platform_reason_has_its_rule_and_words(reason: Reason, rule: str) -> None:
    """SPEC P5-P15: each new reason is in the one table, with its rule id and words."""
    assert RULE_OF[reason] == rule
    assert REASONS[reason].words
    assert reason.value == reason.name.lower()


@pytest.mark.parametrize("reason", sorted(NEW_REASONS))
def test_explain_covers_every_platform_reason(reason: Reason) -> None:
    """SPEC W7: explain() says every reason in words, with its rule and a retry time."""
    d = Decision(False, Mode.FREE_FORM, reason, retry_at=T)
    text = d.explain()
    assert REASONS[reason].words in text
    assert f"[{NEW_REASONS[reason]}]" in text
    assert f"may go at {T.isoformat()}" in text


def test_decision_keeps_its_fields_and_adds_retry_at_last() -> None:
    """SPEC W7: Decision stays a named tuple; retry_at comes last with a default."""
    assert Decision._fields[-1] == "retry_at"
    assert Decision(True, Mode.FREE_FORM, Reason.NO_WINDOW).retry_at is None
    assert len(Decision(True, Mode.FREE_FORM, Reason.NO_WINDOW)) == 8


# --- P15: retired channels and no new conversations ---------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        HELLO,
        Message(text="Sale", marketing=True),
        Message(text="Sale", broadcast=True),
        Message(text="x", template="t"),
        Message(text="x", tag="HUMAN_AGENT"),
    ],
)
def test_p15_a_retired_channel_refuses_everything(message: Message) -> None:
    """SPEC P15: a retired channel takes nothing, even inside an open window."""
    caps = caps_of("google_business", window="30d", retired=True)
    d = decide(caps, ConversationState(last_inbound_at=T - H), message, now=T)
    assert (d.allowed, d.mode, d.reason, d.rule) == (
        False,
        Mode.BLOCKED,
        Reason.CHANNEL_RETIRED,
        "P15",
    )


def test_p15_no_new_conversations_refuses_only_a_contact_who_never_wrote() -> None:
    """SPEC P15: no new chats; a conversation already under way goes on."""
    caps = caps_of("google_business", window="30d", new_conversations=False)
    never = decide(caps, ConversationState(), HELLO, now=T)
    assert (never.allowed, never.reason, never.rule) == (False, Reason.NO_NEW_CONVERSATIONS, "P15")
    wrote = decide(caps, ConversationState(last_inbound_at=T - D), HELLO, now=T)
    assert (wrote.allowed, wrote.reason) == (True, Reason.WITHIN_WINDOW)
    no_window = caps_of("sms", new_conversations=False)
    assert decide(no_window, ConversationState(), HELLO, now=T).reason is (
        Reason.NO_NEW_CONVERSATIONS
    )


@pytest.mark.parametrize(
    ("at", "never_wrote", "wrote"),
    [
        (datetime(2024, 7, 14, 23, 59, tzinfo=UTC), True, True),
        (datetime(2024, 7, 15, 0, 0, tzinfo=UTC), False, True),
        (datetime(2024, 7, 30, 23, 59, tzinfo=UTC), False, True),
        (datetime(2024, 7, 31, 0, 0, tzinfo=UTC), False, False),
    ],
)
def test_p15_official_google_business_dates(at: datetime, never_wrote: bool, wrote: bool) -> None:
    """SPEC P15: no new chats from 2024-07-15, shut down 2024-07-31 (official profile)."""
    caps = official("google_business", at)
    first = decide(caps, ConversationState(), HELLO, now=at)
    ongoing = decide(caps, ConversationState(last_inbound_at=at - H), HELLO, now=at)
    assert ongoing.allowed is wrote
    if not wrote:
        assert (first.reason, ongoing.reason) == (Reason.CHANNEL_RETIRED, Reason.CHANNEL_RETIRED)
    elif not never_wrote:
        assert first.reason is Reason.NO_NEW_CONVERSATIONS
    else:
        assert first.reason is not Reason.NO_NEW_CONVERSATIONS


# --- P6: no promotional content under a message tag ---------------------------------------

MESSENGER = caps_of(
    "messenger",
    window="24h",
    extended_window="7d",
    extended_window_tag="HUMAN_AGENT",
    after_window="message_tag",
    message_tags=["ACCOUNT_UPDATE"],
    marketing_under_tags=False,
)


@pytest.mark.parametrize(
    ("ago", "tag", "mode"),
    [
        (2 * H, "ACCOUNT_UPDATE", Mode.FREE_FORM),  # inside the window, with a tag anyway
        (2 * D, "HUMAN_AGENT", Mode.TAG),  # the extended window
        (10 * D, "ACCOUNT_UPDATE", Mode.TAG),  # after every window
    ],
)
@pytest.mark.parametrize("flag", ["marketing", "broadcast"])
def test_p6_marketing_under_any_tag_is_refused(
    ago: timedelta, tag: str, mode: Mode, flag: str
) -> None:
    """SPEC P6: no promotional content under any tag, HUMAN_AGENT included."""
    state = ConversationState(last_inbound_at=T - ago, consent="subscribed")
    service = decide(MESSENGER, state, Message(text="Your order", tag=tag), now=T)
    assert service.allowed
    promo = decide(MESSENGER, state, Message(text="Sale", tag=tag, **{flag: True}), now=T)
    assert (promo.allowed, promo.mode, promo.reason, promo.rule) == (
        False,
        mode,
        Reason.MARKETING_UNDER_TAG,
        "P6",
    )


def test_p6_marketing_without_a_tag_or_where_allowed_still_goes() -> None:
    """SPEC P6: the rule is about tags; a profile allowing it lets the message go."""
    state = ConversationState(last_inbound_at=T - H)
    assert decide(MESSENGER, state, Message(text="Sale", marketing=True), now=T).allowed
    allowing = caps_of(
        "messenger", after_window="message_tag", message_tags=["ACCOUNT_UPDATE"], window="24h"
    )
    late = ConversationState(last_inbound_at=T - 3 * D)
    tagged = Message(text="Sale", tag="ACCOUNT_UPDATE", marketing=True)
    assert decide(allowing, late, tagged, now=T).reason is Reason.TAG_OUTSIDE_WINDOW


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        (datetime(2020, 3, 3, 23, 59, tzinfo=UTC), Reason.TAG_OUTSIDE_WINDOW),
        (datetime(2020, 3, 4, 0, 0, tzinfo=UTC), Reason.MARKETING_UNDER_TAG),
    ],
)
def test_p6_official_messenger_from_2020_03_04(at: datetime, reason: Reason) -> None:
    """SPEC P6 (from 2020-03-04): the official profile dates the rule."""
    caps = official("messenger", at)
    state = ConversationState(last_inbound_at=at - 3 * D)
    d = decide(caps, state, Message(text="Sale", tag="ACCOUNT_UPDATE", marketing=True), now=at)
    assert d.reason is reason


# --- P9: Viber sessions are not extended ---------------------------------------------------


def viber(**settings: Any) -> ChannelCapabilities:
    base: dict[str, Any] = {"window": "24h", "after_window": "nothing"}
    return caps_of("viber", **{**base, **settings})


def opened(caps: ChannelCapabilities, *inbound: datetime) -> ConversationState:
    """The state after the contact's messages, as on_inbound applies them."""
    session = None if caps.window_extends else caps.window
    state = ConversationState()
    for at in inbound:
        state = state.after_inbound(at, now=at, session=session)
    return state


@pytest.mark.parametrize(("extends", "allowed"), [(False, False), (True, True)])
def test_p9_a_session_is_not_extended_by_later_messages(extends: bool, allowed: bool) -> None:
    """SPEC P9: session opened at T, second message at T+10h, a send at T+25h."""
    caps = viber(window_extends=extends)
    state = opened(caps, T, T + 10 * H)
    assert state.session_started_at == (T if not extends else T + 10 * H)
    inside = decide(caps, state, HELLO, now=T + 23 * H + 59 * M)
    assert (inside.allowed, inside.reason) == (True, Reason.WITHIN_WINDOW)
    later = decide(caps, state, HELLO, now=T + 25 * H)
    assert later.allowed is allowed
    assert later.reason is (Reason.WITHIN_WINDOW if extends else Reason.WINDOW_CLOSED)
    if not extends:
        assert inside.window_closes_at == T + 24 * H
        assert decide(caps, state, HELLO, now=T + 24 * H).reason is Reason.WINDOW_CLOSED


def test_p9_official_viber_outside_the_session_is_chatbot_initiated() -> None:
    """SPEC P9, W6: after the session the official Viber send is chatbot-initiated."""
    at = datetime(2025, 5, 1, tzinfo=UTC)
    caps = official("viber", at)
    assert caps.window_extends is False
    state = opened(caps, at, at + 10 * H)
    d = decide(caps, state, HELLO, now=at + 25 * H)
    assert (d.allowed, d.mode, d.reason) == (
        True,
        Mode.CHATBOT_INITIATED,
        Reason.CHATBOT_INITIATED_FREE,
    )
    extending = OFFICIAL.derive("extends", {"channels": {"viber": {"window_extends": True}}})
    caps2 = extending.capabilities("viber", as_of=at)
    d2 = decide(caps2, opened(caps2, at, at + 10 * H), HELLO, now=at + 25 * H)
    assert (d2.allowed, d2.reason) == (True, Reason.WITHIN_WINDOW)


def test_p9_a_message_after_the_session_opens_a_new_one() -> None:
    """SPEC P9: the subscriber writing after the session has ended opens a new session."""
    caps = viber(window_extends=False)
    state = opened(caps, T, T + 10 * H, T + 30 * H, T + 40 * H)
    assert state.session_started_at == T + 30 * H
    assert state.last_inbound_at == T + 40 * H
    assert decide(caps, state, HELLO, now=T + 53 * H).allowed
    assert not decide(caps, state, HELLO, now=T + 54 * H).allowed


def test_p9_a_record_without_a_session_start_uses_the_last_message() -> None:
    """SPEC P9: an old state has no session start; its last inbound message stands in."""
    caps = viber(window_extends=False)
    old = ConversationState(last_inbound_at=T)
    assert decide(caps, old, HELLO, now=T + 23 * H).allowed
    assert not decide(caps, old, HELLO, now=T + 24 * H).allowed
    # its next message inside that window keeps the start
    assert old.after_inbound(T + H, now=T + H, session=D).session_started_at == T


def test_p9_a_late_or_repeated_inbound_moves_nothing() -> None:
    """SPEC P9, W5: a webhook no later than the stored message changes nothing."""
    state = ConversationState().after_inbound(T, now=T, session=D)
    assert state.after_inbound(T, now=T, session=D) is state
    assert state.after_inbound(T - H, now=T, session=D) is state


@given(
    events=st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=60 * 60 * 30)),
        min_size=1,
        max_size=40,
    )
)
def test_p9_a_viber_window_never_reopens_without_an_inbound_message(
    events: list[tuple[bool, int]],
) -> None:
    """SPEC P9: a session window closed at one check stays closed until the contact writes.

    A reference model (the session opens with a message when none is open and lasts
    24 h) agrees with decide at every check.
    """
    caps = viber(window_extends=False)
    state = ConversationState()
    now = T
    start: datetime | None = None
    closed_since_last_inbound = False
    for inbound, gap in events:
        now = now + timedelta(seconds=gap)
        if inbound:
            state = state.after_inbound(now, now=now, session=D)
            if start is None or now - start >= D:
                start = now
            closed_since_last_inbound = False
            continue
        d = decide(caps, state, HELLO, now=now)
        model_open = start is not None and now < start + D
        assert d.allowed is model_open
        if closed_since_last_inbound:
            assert not d.allowed
        if not d.allowed:
            closed_since_last_inbound = True
        else:
            state = state.after_outbound(now)


def test_p9_unanswered_cap_refuses_until_the_period_passes_or_the_contact_writes() -> None:
    """SPEC P9: at most N messages per period to a contact who has not replied."""
    caps = caps_of("viber", unanswered_cap=3, unanswered_period="1h")
    state = sent_at(ConversationState(last_inbound_at=T - D), T, T + M, T + 2 * M)
    d = decide(caps, state, HELLO, now=T + 3 * M)
    assert (d.allowed, d.reason, d.rule, d.retry_at) == (
        False,
        Reason.UNANSWERED_CAP_REACHED,
        "P9",
        T + H,
    )
    assert d.mode is Mode.FREE_FORM  # how it will go once it may
    assert not decide(caps, state, HELLO, now=T + H - S).allowed
    assert decide(caps, state, HELLO, now=T + H).allowed
    replied = state.after_inbound(T + 4 * M, now=T + 4 * M)
    assert decide(caps, replied, HELLO, now=T + 5 * M).allowed


def test_p9_official_viber_100_messages_an_hour_without_a_reply() -> None:
    """SPEC P9 (from 2022-09-01): the 101st message within the hour is refused."""
    at = datetime(2025, 5, 1, tzinfo=UTC)
    caps = official("viber", at)
    state = opened(caps, at)
    for i in range(100):
        now = at + i * 30 * S
        assert decide(caps, state, HELLO, now=now).allowed, i
        state = state.after_outbound(now)
    d = decide(caps, state, HELLO, now=at + 50 * M)
    assert (d.reason, d.retry_at) == (Reason.UNANSWERED_CAP_REACHED, at + H)
    assert decide(caps, state, HELLO, now=at + H).allowed


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["in", "out", "out", "out"]), st.integers(0, 1200)),
        max_size=120,
    ),
    cap=st.integers(1, 6),
)
def test_p9_the_unanswered_cap_is_never_exceeded_in_any_period(
    steps: list[tuple[str, int]], cap: int
) -> None:
    """SPEC P9: whatever the timing, no period holds more than the cap since a reply."""
    period = timedelta(minutes=30)
    caps = caps_of("telegram", unanswered_cap=cap, unanswered_period="30m")
    state = ConversationState(last_inbound_at=T)
    now = T
    last_inbound = T
    sent: list[datetime] = []
    for kind, gap in steps:
        now = now + timedelta(seconds=gap)
        if kind == "in":
            state = state.after_inbound(now, now=now)
            last_inbound = now
            continue
        d = decide(caps, state, HELLO, now=now)
        if d.allowed:
            state = state.after_outbound(now)
            sent.append(now)
            since_reply = [t for t in sent if t >= last_inbound and t > now - period]
            assert len(since_reply) <= cap
        else:
            assert d.reason is Reason.UNANSWERED_CAP_REACHED
            assert d.retry_at is not None
            assert d.retry_at > now


# --- P8: WeChat's cap and events ------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "sixth_allowed"),
    [
        (datetime(2023, 6, 11, 23, 0, tzinfo=UTC), True),
        (datetime(2023, 6, 12, 0, 0, tzinfo=UTC), False),
    ],
)
def test_p8_wechat_cap_is_20_until_2023_06_11_and_5_from_2023_06_12(
    day: datetime, sixth_allowed: bool
) -> None:
    """SPEC P8, W5: the official profile's cap on the last day of 20 and the first of 5."""
    caps = official("wechat", day)
    state = ConversationState(last_inbound_at=day - H, outbound_since_inbound=4)
    fifth = decide(caps, state, HELLO, now=day)
    assert fifth.allowed
    assert fifth.remaining_in_window == (16 if sixth_allowed else 1)
    sixth = decide(caps, state.after_outbound(day), HELLO, now=day)
    assert sixth.allowed is sixth_allowed
    if not sixth_allowed:
        assert (sixth.reason, sixth.rule) == (Reason.WINDOW_CAP_REACHED, "W5")


WECHAT = caps_of(
    "wechat",
    window="48h",
    window_outbound_cap=5,
    requires_prior_inbound=True,
    event_window="1m",
    event_outbound_cap=3,
)


def test_p8_an_event_lets_three_messages_go_within_a_minute() -> None:
    """SPEC P8: after a menu click, follow or QR scan, 3 messages within 1 minute."""
    state = ConversationState().after_event(T, now=T)
    assert decide(WECHAT, ConversationState(), HELLO, now=T).reason is Reason.NO_PRIOR_INBOUND
    for i in range(3):
        now = T + (10 + i) * S
        d = decide(WECHAT, state, HELLO, now=now)
        assert (d.allowed, d.reason, d.rule) == (True, Reason.WITHIN_EVENT_WINDOW, "P8")
        assert (d.window_closes_at, d.remaining_in_window) == (T + M, 3 - i)
        state = state.after_outbound(now)
    full = decide(WECHAT, state, HELLO, now=T + 20 * S)
    assert (full.allowed, full.mode, full.reason) == (False, Mode.BLOCKED, Reason.EVENT_CAP_REACHED)
    after = decide(WECHAT, state.after_event(T - S, now=T), HELLO, now=T + M)
    assert after.reason is Reason.NO_PRIOR_INBOUND  # the event's minute is over


def test_p8_an_event_counts_only_the_messages_sent_since_it() -> None:
    """SPEC P8: messages before the event do not use its allowance; a new event renews it."""
    state = sent_at(ConversationState(last_inbound_at=T - 3 * D), T - 30 * S, T - 20 * S)
    state = state.after_event(T, now=T)
    d = decide(WECHAT, state, HELLO, now=T + S)
    assert (d.reason, d.remaining_in_window) == (Reason.WITHIN_EVENT_WINDOW, 3)
    used = sent_at(state, T + S, T + 2 * S, T + 3 * S)
    assert decide(WECHAT, used, HELLO, now=T + 4 * S).reason is Reason.EVENT_CAP_REACHED
    renewed = used.after_event(T + 5 * S, now=T + 5 * S)
    assert decide(WECHAT, renewed, HELLO, now=T + 6 * S).allowed


def test_p8_an_event_allows_messages_when_the_window_cap_is_reached() -> None:
    """SPEC P8, W5: the window's 5 are used, a menu click grants its own messages."""
    state = ConversationState(last_inbound_at=T - H, outbound_since_inbound=5)
    assert decide(WECHAT, state, HELLO, now=T).reason is Reason.WINDOW_CAP_REACHED
    clicked = state.after_event(T, now=T)
    d = decide(WECHAT, clicked, HELLO, now=T + S)
    assert (d.allowed, d.reason) == (True, Reason.WITHIN_EVENT_WINDOW)
    used = sent_at(clicked, T + S, T + 2 * S, T + 3 * S)
    full = decide(WECHAT, used, HELLO, now=T + 4 * S)
    assert (full.allowed, full.reason, full.rule) == (False, Reason.EVENT_CAP_REACHED, "P8")
    # inside an open window with room the event changes nothing
    room = ConversationState(last_inbound_at=T - H).after_event(T, now=T)
    assert decide(WECHAT, room, HELLO, now=T + S).reason is Reason.WITHIN_WINDOW


def test_p8_official_wechat_event_window() -> None:
    """SPEC P8: the official WeChat event allowance: 3 messages within 1 minute."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    caps = official("wechat", at)
    state = ConversationState().after_event(at, now=at)
    assert decide(caps, state, HELLO, now=at + 59 * S).allowed
    assert not decide(caps, state, HELLO, now=at + 60 * S).allowed
    state = sent_at(state, at, at + S, at + 2 * S)
    assert decide(caps, state, HELLO, now=at + 3 * S).reason is Reason.EVENT_CAP_REACHED


def test_p8_after_event_is_monotone_and_refuses_the_future() -> None:
    """SPEC P8: a late or repeated event changes nothing; one from the future is refused."""
    state = ConversationState().after_event(T, now=T)
    assert state.after_event(T, now=T) is state
    assert state.after_event(T - H, now=T) is state
    assert state.after_event(T + H, now=T + H).last_event_at == T + H
    with pytest.raises(InputError, match="later than now"):
        state.after_event(T + H, now=T)


# --- P5, P10: per recipient and per group ----------------------------------------------------


def test_p5_recipient_interval_refuses_a_message_too_soon_and_says_when() -> None:
    """SPEC P5: about one message per 6 s to the same user; retry_at says when."""
    caps = caps_of("whatsapp", window="24h", after_window="template", recipient_interval="6s")
    state = sent_at(ConversationState(last_inbound_at=T - H), T)
    d = decide(caps, state, HELLO, now=T + 5 * S)
    assert (d.allowed, d.mode, d.reason, d.rule, d.retry_at) == (
        False,
        Mode.FREE_FORM,
        Reason.RECIPIENT_RATE,
        "P5",
        T + 6 * S,
    )
    assert d.content is not None
    assert d.window_closes_at == T + 23 * H
    assert decide(caps, state, HELLO, now=T + 6 * S).allowed


def test_p5_official_whatsapp_six_seconds_per_user() -> None:
    """SPEC P5 (u): the official profile's 6 s between two messages to one user."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    caps = official("whatsapp", at)
    state = sent_at(ConversationState(last_inbound_at=at - H), at)
    assert decide(caps, state, HELLO, now=at + 5 * S).retry_at == at + 6 * S
    assert decide(caps, state, HELLO, now=at + 6 * S).allowed


@given(gaps=st.lists(st.integers(0, 20_000), min_size=1, max_size=40))
def test_p5_following_retry_at_never_breaks_the_interval(gaps: list[int]) -> None:
    """SPEC P5: a sender that waits for retry_at never sends two messages too close."""
    interval = timedelta(seconds=6)
    caps = caps_of("telegram", recipient_interval="6s")
    state = ConversationState(last_inbound_at=T)
    now = T
    sent: list[datetime] = []
    for gap in gaps:
        now = now + timedelta(milliseconds=gap)
        d = decide(caps, state, HELLO, now=now)
        if not d.allowed:
            assert d.reason is Reason.RECIPIENT_RATE
            assert d.retry_at is not None
            assert d.retry_at > now
            now = d.retry_at
            d = decide(caps, state, HELLO, now=now)
            assert d.allowed
        state = state.after_outbound(now)
        sent.append(now)
    assert all(b - a >= interval for a, b in itertools.pairwise(sent))


def test_p10_group_rate_twenty_a_minute_in_a_group_only() -> None:
    """SPEC P10: at most 20 messages in any minute to one group; a private chat is not a group."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    caps = official("telegram", at)
    times = [at + i * 2 * S for i in range(20)]
    group = sent_at(ConversationState(last_inbound_at=at, group=True), *times)
    d = decide(caps, group, HELLO, now=at + 40 * S)
    assert (d.allowed, d.reason, d.rule, d.retry_at) == (False, Reason.GROUP_RATE, "P10", at + M)
    assert decide(caps, group, HELLO, now=at + M).allowed
    private = sent_at(ConversationState(last_inbound_at=at), *times)
    assert decide(caps, private, HELLO, now=at + 40 * S).allowed


@pytest.mark.parametrize(
    ("rate", "count", "period"),
    [(0.5, 1, 2 * M), (2.5, 2, 48 * S), (1000.0, OUTBOUND_TIMES_KEPT, timedelta(seconds=15.36))],
)
def test_p10_a_fractional_or_large_group_rate_keeps_the_rate(
    rate: float, count: int, period: timedelta
) -> None:
    """SPEC P10: r a minute is floor(r) messages per floor(r)/r minutes (at most 256)."""
    caps = caps_of("telegram", group_rate_per_minute=rate)
    state = ConversationState(last_inbound_at=T, group=True)
    step = period / (count + 1)
    state = sent_at(state, *(T + i * step for i in range(count)))
    d = decide(caps, state, HELLO, now=T + count * step)
    assert (d.reason, d.retry_at) == (Reason.GROUP_RATE, T + period)
    assert decide(caps, state, HELLO, now=T + period).allowed


def test_p10_the_longest_wait_is_reported_when_several_rates_apply() -> None:
    """SPEC P5, P10: per chat 1 s and per group 2 a minute: the later retry wins."""
    caps = caps_of("telegram", recipient_interval="1s", group_rate_per_minute=2)
    state = sent_at(ConversationState(last_inbound_at=T, group=True), T, T + 10 * S)
    d = decide(caps, state, HELLO, now=T + 10 * S + S / 2)
    assert (d.reason, d.retry_at) == (Reason.GROUP_RATE, T + M)
    single = sent_at(ConversationState(last_inbound_at=T, group=True), T + 10 * S)
    d = decide(caps, single, HELLO, now=T + 10 * S + S / 2)
    assert (d.reason, d.retry_at) == (Reason.RECIPIENT_RATE, T + 11 * S)


def test_p9_a_cap_the_kept_instants_cannot_count_is_a_configuration_error() -> None:
    """SPEC P9: a cap above the instants a state keeps is refused, not clamped."""
    caps = ChannelCapabilities(kind="viber", unanswered_cap=OUTBOUND_TIMES_KEPT + 1)
    state = ConversationState(group=True).after_event(T, now=T).after_outbound(T)
    with pytest.raises(ConfigurationError):
        decide(caps, state, HELLO, now=T + S)


@pytest.mark.parametrize(
    "settings",
    [
        {"event_window": timedelta(minutes=1), "event_outbound_cap": 0},
        {"group_rate_per_minute": float("nan")},
        {"group_rate_per_minute": float("inf")},
        {"group_rate_per_minute": -1.0},
    ],
)
def test_p8_p10_caps_no_rule_can_count_are_refused_when_built(settings: dict[str, Any]) -> None:
    """SPEC P8, P10: a cap below one or a rate that is not a positive number is refused
    when the capabilities are built, before any decision."""
    window = timedelta(hours=48) if "event_window" in settings else None
    with pytest.raises(InputError):
        ChannelCapabilities(kind="wechat", window=window, **settings)


# --- P11: LINE's monthly quota ---------------------------------------------------------------

LINE = caps_of("line", monthly_quota=3, free_reply_window="1m")


def test_p11_business_initiated_messages_count_against_the_monthly_quota() -> None:
    """SPEC P11: pushes count; beyond the quota refused until next month."""
    state = ConversationState(last_inbound_at=T - D)
    account = AccountState()
    for left in (3, 2, 1):
        d = decide(LINE, state, HELLO, now=T, account=account)
        assert (d.allowed, d.remaining_in_window, d.paid) == (True, left, False)
        assert counts_against_quota(LINE, state, now=T)
        account = account.after_quota_message(T)
    d = decide(LINE, state, HELLO, now=T, account=account)
    assert (d.allowed, d.reason, d.rule) == (False, Reason.MONTHLY_QUOTA_REACHED, "P11")
    assert d.retry_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert decide(LINE, state, HELLO, now=datetime(2026, 4, 1, tzinfo=UTC), account=account)


def test_p11_a_reply_within_the_free_window_is_free_and_not_counted() -> None:
    """SPEC P11: replies are free (u): not counted, allowed with the quota used up."""
    used = AccountState(quota_month=(2026, 3), quota_count=3)
    state = ConversationState(last_inbound_at=T - 30 * S)
    d = decide(LINE, state, HELLO, now=T, account=used)
    assert (d.allowed, d.remaining_in_window, d.paid) == (True, None, False)
    assert not counts_against_quota(LINE, state, now=T)
    late = ConversationState(last_inbound_at=T - M)  # the free window is half-open
    assert counts_against_quota(LINE, late, now=T)
    assert not decide(LINE, late, HELLO, now=T, account=used).allowed


def test_p11_an_account_paying_for_extra_messages_sends_them_paid() -> None:
    """SPEC P11: a plan with paid extra messages goes beyond the quota, billed."""
    used = AccountState(quota_month=(2026, 3), quota_count=3, paid_extra_messages=True)
    d = decide(LINE, ConversationState(last_inbound_at=T - D), HELLO, now=T, account=used)
    assert (d.allowed, d.paid, d.remaining_in_window) == (True, True, 0)


def test_p11_the_month_is_the_accounts_own() -> None:
    """SPEC P11: the count resets on the 1st in the account's time zone."""
    tokyo = AccountState(timezone="Asia/Tokyo", quota_month=(2026, 3), quota_count=3)
    # 2026-03-31 15:00 UTC is already 1 April in Tokyo
    assert tokyo.quota_count_at(datetime(2026, 3, 31, 14, 59, tzinfo=UTC)) == 3
    assert tokyo.quota_count_at(datetime(2026, 3, 31, 15, 0, tzinfo=UTC)) == 0
    d = decide(LINE, ConversationState(), HELLO, now=T, account=tokyo)
    assert d.retry_at == datetime(2026, 4, 1, tzinfo=ZoneInfo("Asia/Tokyo"))


def test_p11_official_line_quota() -> None:
    """SPEC P11: the official profile's LINE quota applies to business-initiated messages."""
    at = datetime(2025, 6, 15, tzinfo=UTC)
    caps = official("line", at)
    assert caps.monthly_quota is not None
    full = AccountState(quota_month=(2025, 6), quota_count=caps.monthly_quota)
    state = ConversationState(last_inbound_at=at - D)
    assert decide(caps, state, HELLO, now=at, account=full).reason is Reason.MONTHLY_QUOTA_REACHED
    one_left = AccountState(quota_month=(2025, 6), quota_count=caps.monthly_quota - 1)
    assert decide(caps, state, HELLO, now=at, account=one_left).remaining_in_window == 1


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["in", "out", "out"]), st.integers(0, 4 * 24 * 3600)),
        max_size=60,
    ),
    quota=st.integers(1, 5),
)
def test_p11_the_monthly_quota_is_never_exceeded(steps: list[tuple[str, int]], quota: int) -> None:
    """SPEC P11: counted messages in any calendar month never exceed the quota."""
    caps = caps_of("line", monthly_quota=quota, free_reply_window="1h")
    state = ConversationState()
    account = AccountState()
    now = T
    counted: dict[tuple[int, int], int] = {}
    for kind, gap in steps:
        now = now + timedelta(seconds=gap)
        if kind == "in":
            state = state.after_inbound(now, now=now)
            continue
        d = decide(caps, state, HELLO, now=now, account=account)
        if not d.allowed:
            assert d.reason is Reason.MONTHLY_QUOTA_REACHED
            continue
        if counts_against_quota(caps, state, now=now):
            account = account.after_quota_message(now)
            month = (now.year, now.month)
            counted[month] = counted.get(month, 0) + 1
            assert counted[month] <= quota
        state = state.after_outbound(now)


# --- X1, P13: the scope of an opt-out --------------------------------------------------------


@pytest.mark.parametrize(
    "message", [HELLO, Message(text="Sale", marketing=True), Message(text="x", broadcast=True)]
)
def test_x1_p13_opt_out_scope_all_ends_every_message(message: Message) -> None:
    """SPEC X1, P13: under scope all an opted-out contact gets nothing, service included."""
    caps = caps_of("sms", opt_out_scope="all")
    out = ConversationState(last_inbound_at=T - H, consent="unsubscribed")
    d = decide(caps, out, message, now=T)
    assert (d.allowed, d.mode, d.reason, d.rule) == (False, Mode.BLOCKED, Reason.OPTED_OUT, "X1")
    assert decide(caps, ConversationState(consent="subscribed"), HELLO, now=T).allowed


def test_x1_opt_out_scope_marketing_still_lets_service_messages_go() -> None:
    """SPEC X1: the default scope ends marketing only."""
    caps = caps_of("sms")
    out = ConversationState(consent="unsubscribed")
    assert decide(caps, out, HELLO, now=T).allowed
    assert decide(caps, out, Message(text="x", marketing=True), now=T).reason is Reason.OPTED_OUT


def test_p13_official_sms_scope() -> None:
    """SPEC P13: the official US SMS profile ends every message after an opt-out."""
    at = datetime(2025, 6, 1, tzinfo=UTC)
    caps = official("sms", at)
    assert caps.opt_out_scope == "all"
    out = ConversationState(consent="unsubscribed")
    assert decide(caps, out, HELLO, now=at).reason is Reason.OPTED_OUT


@pytest.mark.parametrize("status", list(SubscriptionStatus))
def test_x1_the_consent_rule_states_the_scope_once(status: SubscriptionStatus) -> None:
    """SPEC X1, P13, B12: service messages are refused only for an opt-out under scope all."""
    service_all = consent_refusal(
        status, broadcast=False, double_opt_in=True, marketing=False, opt_out_scope="all"
    )
    service = consent_refusal(status, broadcast=False, double_opt_in=True, marketing=False)
    unsubscribed = status is SubscriptionStatus.UNSUBSCRIBED
    assert service_all == (Reason.OPTED_OUT if unsubscribed else None)
    assert service is None
    marketing = consent_refusal(status, broadcast=False, double_opt_in=True)
    assert marketing == consent_refusal(
        status, broadcast=False, double_opt_in=True, opt_out_scope="all"
    )


# --- the settings off cost nothing and change nothing ----------------------------------------


def test_settings_off_change_no_decision() -> None:
    """SPEC W1-W8: with every section-7 setting at its default, decisions are as before."""
    respondio = load_profile("respondio")
    for kind in respondio.kinds:
        caps = respondio.capabilities(kind, as_of=T)
        state = sent_at(ConversationState(last_inbound_at=T - H, group=True), T - M, T - S)
        plain = ConversationState(last_inbound_at=T - H)
        assert decide(caps, state, HELLO, now=T)[:3] == decide(caps, plain, HELLO, now=T)[:3]


# --- hostile inputs for the new functions and arguments --------------------------------------


@pytest.mark.parametrize("session", ["24h", -H, timedelta(0), 1, True, float("nan"), object()])
def test_after_inbound_refuses_a_session_that_is_not_a_positive_timedelta(session: Any) -> None:
    """SPEC P9: session is a positive timedelta or None."""
    with pytest.raises(InputError, match="session"):
        ConversationState().after_inbound(T, now=T, session=session)


def test_after_inbound_accepts_the_longest_session() -> None:
    """SPEC P9: a huge session only keeps the start; nothing overflows."""
    state = ConversationState().after_inbound(T, now=T, session=timedelta.max)
    assert state.after_inbound(T + H, now=T + H, session=timedelta.max).session_started_at == T


@pytest.mark.parametrize(
    ("at", "now", "error"),
    [
        (None, T, InputError),
        ("2026-01-01", T, InputError),
        (datetime(2026, 1, 1), T, NaiveDatetimeError),
        (T, None, InputError),
        (datetime.max.replace(tzinfo=UTC), T, InputError),
        (datetime.min.replace(tzinfo=timezone(timedelta(hours=1))), T, InputError),
    ],
)
def test_after_event_refuses_hostile_instants(at: Any, now: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        ConversationState().after_event(at, now=now)
    with pytest.raises(InputError):
        ConversationState().after_event(T, now=T, skew="2m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outbound_times", "2026-01-01"),
        ("outbound_times", b"x"),
        ("outbound_times", [None]),
        ("outbound_times", [datetime(2026, 1, 1)]),
        ("outbound_times", [datetime.max.replace(tzinfo=UTC)]),
        ("outbound_times", {T}),
        ("outbound_times", None),
        ("session_started_at", "yesterday"),
        ("last_event_at", 5),
        ("group", "yes"),
        ("group", None),
        ("group", 1),
    ],
)
def test_conversation_state_refuses_hostile_platform_fields(field: str, value: Any) -> None:
    with pytest.raises(InputError):
        ConversationState(last_inbound_at=T, **{field: value})


def test_a_session_needs_an_inbound_message_no_earlier_than_its_start() -> None:
    """SPEC P9: a session starts with the contact's message."""
    with pytest.raises(InputError, match="session_started_at"):
        ConversationState(session_started_at=T)
    with pytest.raises(InputError, match="session_started_at"):
        ConversationState(last_inbound_at=T, session_started_at=T + S)
    assert ConversationState(last_inbound_at=T, session_started_at=T).session_started_at == T


def test_outbound_times_are_sorted_bounded_and_in_utc() -> None:
    """SPEC P5-P10: the most recent OUTBOUND_TIMES_KEPT instants, oldest first, in UTC."""
    many = [T + i * S for i in range(100_000)]
    state = ConversationState(outbound_times=list(reversed(many)))
    assert state.outbound_times == tuple(many[-OUTBOUND_TIMES_KEPT:])
    local = datetime(2026, 3, 10, 10, 0, tzinfo=timezone(H))
    assert ConversationState(outbound_times=[local]).outbound_times[0].tzinfo is UTC
    grown = sent_at(ConversationState(), *many[:300])
    assert grown.outbound_times == tuple(many[300 - OUTBOUND_TIMES_KEPT : 300])
    assert grown.outbound_since_inbound == 300
    # older than everything kept: counted toward W5, not kept
    assert grown.after_outbound(T - H).outbound_times == grown.outbound_times
    assert grown.sent_since(many[299]) == 1
    with pytest.raises(InputError):
        grown.sent_since(None)  # type: ignore[arg-type]


def test_after_outbound_without_an_instant_counts_toward_w5_only() -> None:
    state = ConversationState(last_inbound_at=T).after_outbound()
    assert (state.outbound_since_inbound, state.outbound_times) == (1, ())
    with pytest.raises(InputError):
        state.after_outbound("now")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"quota_month": (2026, 13)},
        {"quota_month": "2026-03"},
        {"quota_month": [2026, True]},
        {"quota_count": -1},
        {"quota_count": 2},
        {"quota_count": "2", "quota_month": (2026, 3)},
        {"paid_extra_messages": "yes"},
        {"paid_extra_messages": None},
    ],
)
def test_account_state_refuses_hostile_quota_fields(fields: dict[str, Any]) -> None:
    """SPEC P11: a count needs its month; fields are of their types."""
    with pytest.raises(InputError):
        AccountState(**fields)


@pytest.mark.parametrize(
    "now", [None, "2026-03-01", datetime(2026, 3, 1), datetime.max.replace(tzinfo=UTC)]
)
def test_quota_transitions_refuse_hostile_instants(now: Any) -> None:
    with pytest.raises(InputError):
        AccountState().after_quota_message(now)
    with pytest.raises(InputError):
        AccountState().quota_count_at(now)


@pytest.mark.parametrize(
    ("caps", "conversation", "now"),
    [
        (None, ConversationState(), T),
        (LINE, "state", T),
        (LINE, ConversationState(), None),
        (LINE, ConversationState(), datetime(2026, 1, 1)),
        (LINE, ConversationState(), datetime.min.replace(tzinfo=UTC)),
    ],
)
def test_counts_against_quota_refuses_hostile_arguments(
    caps: Any, conversation: Any, now: Any
) -> None:
    with pytest.raises(InputError):
        counts_against_quota(caps, conversation, now=now)


def test_decide_refuses_an_account_of_the_wrong_type_on_a_quota_channel() -> None:
    with pytest.raises(InputError, match="account"):
        decide(LINE, ConversationState(), HELLO, now=T, account="acct")  # type: ignore[arg-type]


def test_p9_official_viber_chatbot_messages_within_the_free_quota_are_not_paid() -> None:
    """SPEC P9, W6: Viber bills chatbot-initiated messages beyond the 10,000 free ones;
    the free ones are not paid, and without a free quota every one is."""
    from omnimsg import load_profile

    viber = load_profile("official").capabilities("viber", as_of=T)
    state = ConversationState(last_inbound_at=T - timedelta(days=3))
    d = decide(viber, state, HELLO, now=T, account=AccountState())
    assert (d.allowed, d.reason, d.paid) == (True, Reason.CHATBOT_INITIATED_FREE, False)
    all_paid = attrs.evolve(viber, chatbot_free_per_month=None)
    d = decide(all_paid, state, HELLO, now=T, account=AccountState())
    assert (d.allowed, d.reason, d.paid) == (True, Reason.CHATBOT_INITIATED_PAID, True)


@pytest.mark.parametrize(
    ("created", "reason", "paid"),
    [
        (datetime(2024, 2, 4, 23, 59, tzinfo=UTC), Reason.CHATBOT_INITIATED_FREE, False),
        (datetime(2024, 2, 5, tzinfo=UTC), Reason.CHATBOT_INITIATED_PAID, True),
        (None, Reason.CHATBOT_INITIATED_FREE, False),
    ],
)
def test_p9_a_viber_bot_created_from_2024_02_05_has_no_free_messages(
    created: datetime | None, reason: Reason, paid: bool
) -> None:
    """SPEC P9: bots created before 2024-02-05 keep 10,000 free chatbot-initiated
    messages a month; a bot created 2024-02-05 pays for every one (with paid terms;
    without them it may not send one). An unknown creation date is taken as before."""
    from omnimsg import load_profile

    viber = load_profile("official").capabilities("viber", as_of=T)
    state = ConversationState(last_inbound_at=T - timedelta(days=3))
    account = AccountState(created_at=created, paid_chatbot_terms=True)
    d = decide(viber, state, HELLO, now=T, account=account)
    assert (d.allowed, d.reason, d.paid) == (True, reason, paid)
    unpaid = AccountState(created_at=created)
    refused = decide(viber, state, HELLO, now=T, account=unpaid)
    assert refused.allowed is (not paid)


def test_p9_an_accounts_creation_date_survives_its_record() -> None:
    from omnimsg.delivery.records import decode_account, encode_account

    account = AccountState(created_at=datetime(2024, 2, 5, tzinfo=UTC))
    assert decode_account("a", encode_account(account)) == account
    assert decode_account("a", encode_account(AccountState())).created_at is None
