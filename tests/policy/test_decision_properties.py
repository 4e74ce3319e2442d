"""Invariants of the decision core, checked with hypothesis (SPEC W1-W6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels import ChannelCapabilities, ChannelKind, Mode
from omnimsg.channels.registry import builtin_profile_names, load_profile
from omnimsg.policy.decision import ConversationState, Message, decide
from omnimsg.policy.reasons import Reason

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OPEN_REASONS = {Reason.WITHIN_WINDOW, Reason.WITHIN_EXTENDED_WINDOW}

ALL_CAPS: list[ChannelCapabilities] = [
    load_profile(name).capabilities(kind, as_of=T0)
    for name in builtin_profile_names()
    for kind in load_profile(name).kinds
]
# A retired channel (Google Business Messages, P15) takes nothing, window or not.
WINDOWED = [c for c in ALL_CAPS if c.window is not None and not c.retired]

messages = st.builds(
    Message,
    text=st.text(max_size=30),
    template=st.none() | st.just("tpl"),
    tag=st.none() | st.sampled_from(["HUMAN_AGENT", "ACCOUNT_UPDATE", "PROMOTION"]),
)
offsets = st.integers(min_value=0, max_value=60 * 24 * 40).map(lambda m: timedelta(minutes=m))


@given(
    caps=st.sampled_from(WINDOWED),
    last=st.none() | offsets,
    sent=st.integers(0, 30),
    later=st.lists(offsets, min_size=1, max_size=6),
    msg=messages,
)
def test_a_window_never_reopens_without_an_inbound_message(
    caps: ChannelCapabilities,
    last: timedelta | None,
    sent: int,
    later: list[timedelta],
    msg: Message,
) -> None:
    """SPEC W2-W6: once a window is closed it stays closed until the contact writes.

    Sending more messages and letting time pass never turn a closed window open.
    """
    state = ConversationState(
        last_inbound_at=None if last is None else T0 + last, outbound_since_inbound=sent
    )
    now = T0 + (last or timedelta(0))
    was_open = True
    for step in sorted(later):
        now = now + step
        d = decide(caps, state, msg, now=now)
        is_open = d.reason in OPEN_REASONS
        assert not (is_open and not was_open), (caps.kind, state, now)
        was_open = was_open and is_open
        if d.allowed:
            state = state.after_outbound()


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["in", "out"]), st.integers(0, 60 * 60 * 30)), max_size=80
    )
)
def test_wechat_never_allows_a_21st_outbound_message_or_one_after_48h(
    events: list[tuple[str, int]],
) -> None:
    """SPEC W5: at most 20 outbound per 48 h window; a reply resets both."""
    caps = load_profile("respondio").capabilities(ChannelKind.WECHAT, as_of=T0)
    state = ConversationState()
    now = T0
    sent_since_inbound = 0
    for kind, gap_seconds in events:
        now = now + timedelta(seconds=gap_seconds)
        if kind == "in":
            state = state.after_inbound(now, now=now)
            sent_since_inbound = 0
            continue
        d = decide(caps, state, Message(text="hi"), now=now)
        if d.allowed:
            assert state.last_inbound_at is not None
            assert now - state.last_inbound_at < timedelta(hours=48)
            sent_since_inbound += 1
            assert sent_since_inbound <= 20
            assert d.remaining_in_window == 20 - sent_since_inbound + 1
            state = state.after_outbound()


@given(
    msg=messages, ago=st.integers(min_value=7 * 24 * 60, max_value=10**7), marketing=st.booleans()
)
def test_instagram_after_the_window_is_always_blocked(
    msg: Message, ago: int, marketing: bool
) -> None:
    """SPEC W4: after 7 days nothing goes, whatever the tag or template."""
    caps = load_profile("respondio").capabilities(ChannelKind.INSTAGRAM, as_of=T0)
    state = ConversationState(last_inbound_at=T0)
    d = decide(
        caps,
        state,
        Message(text=msg.text, tag=msg.tag, template=msg.template, marketing=marketing),
        now=T0 + timedelta(minutes=ago),
    )
    assert (d.allowed, d.mode) == (False, Mode.BLOCKED)


@given(caps=st.sampled_from(ALL_CAPS), msg=messages, last=st.none() | offsets, at=offsets)
def test_a_decision_is_consistent_with_itself(
    caps: ChannelCapabilities, msg: Message, last: timedelta | None, at: timedelta
) -> None:
    """SPEC W7: blocked means not allowed; an allowed decision carries its content."""
    state = ConversationState(last_inbound_at=None if last is None else T0 + last)
    d = decide(caps, state, msg, now=T0 + at)
    if d.mode is Mode.BLOCKED:
        assert not d.allowed
    if d.allowed:
        assert d.content is not None
        assert d.content.problem is None
    if d.window_closes_at is not None:
        assert d.window_closes_at > T0 + at


@given(
    caps=st.sampled_from(WINDOWED),
    last=offsets,
    into=st.floats(min_value=0, max_value=0.999),
    sent=st.integers(0, 19),
)
def test_inside_the_window_a_plain_message_always_goes(
    caps: ChannelCapabilities, last: timedelta, into: float, sent: int
) -> None:
    """SPEC W2-W6: the window is open for its whole length (and the cap, W5, not reached)."""
    assert caps.window is not None
    inbound = T0 + last
    now = inbound + caps.window * into
    if caps.window_outbound_cap is not None:
        sent = sent % caps.window_outbound_cap  # below the cap, whichever it is (W5, P8)
    state = ConversationState(last_inbound_at=inbound, outbound_since_inbound=sent)
    d = decide(caps, state, Message(text="ok"), now=now)
    assert (d.allowed, d.mode, d.reason) == (True, Mode.FREE_FORM, Reason.WITHIN_WINDOW)
    assert d.window_closes_at == inbound + caps.window


@given(
    caps=st.sampled_from(WINDOWED), last=st.none() | offsets, gap=offsets, sent=st.integers(0, 40)
)
def test_an_inbound_message_always_reopens_the_window(
    caps: ChannelCapabilities, last: timedelta | None, gap: timedelta, sent: int
) -> None:
    """SPEC W5: the contact's message resets the clock and the counter (a new message:
    one later than the last, since a repeated webhook changes nothing)."""
    state = ConversationState(
        last_inbound_at=None if last is None else T0 + last, outbound_since_inbound=sent
    )
    now = T0 + (last or timedelta(0)) + gap + timedelta(seconds=1)
    d = decide(caps, state.after_inbound(now, now=now), Message(text="ok"), now=now)
    assert d.reason is Reason.WITHIN_WINDOW
    if caps.window_outbound_cap is not None:
        assert d.remaining_in_window == caps.window_outbound_cap
