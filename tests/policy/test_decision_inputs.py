"""Values read back from storage, odd inputs and time zones (SPEC W2, W3, W6, W8, X1, B12, B17).

A backend stores states as strings, lists and numbers; they must convert to what the
core compares, or be refused with an InputError naming the field, never silently
change a decision.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omnimsg import (
    AccountState,
    ConversationState,
    InputError,
    Media,
    MediaKind,
    Message,
    Mode,
    NaiveDatetimeError,
    Reason,
    decide,
    load_profile,
)
from omnimsg.channels import ChannelCapabilities

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def caps(profile: str, kind: str) -> ChannelCapabilities:
    return load_profile(profile).capabilities(kind, as_of=NOW)


def test_x1_a_stored_unsubscribed_string_still_blocks_marketing() -> None:
    """SPEC X1: "unsubscribed" read back from a database is the opt-out it says."""
    state = ConversationState(consent="unsubscribed")
    d = decide(caps("respondio", "sms"), state, Message(text="Sale!", marketing=True), now=NOW)
    assert (d.allowed, d.reason) == (False, Reason.OPTED_OUT)


def test_b12_a_stored_subscribed_string_lets_the_broadcast_go() -> None:
    """SPEC B12."""
    state = ConversationState(consent="subscribed")
    msg = Message(text="Sale!", broadcast=True)
    assert decide(caps("expertconnect", "sms"), state, msg, now=NOW).allowed


def test_w6_a_month_stored_as_a_list_still_counts_the_quota() -> None:
    """SPEC W6: a JSON round trip turns (2026, 11) into [2026, 11]; the count still holds."""
    account = AccountState(chatbot_month=[2026, 11], chatbot_initiated_count=10_000)  # type: ignore[arg-type]
    state = ConversationState(last_inbound_at=NOW - timedelta(days=3))
    d = decide(caps("respondio", "viber"), state, Message(text="x"), now=NOW, account=account)
    assert d.reason is Reason.CHATBOT_QUOTA_EXHAUSTED


def test_w6_account_time_zone_may_be_an_iana_name() -> None:
    account = AccountState(timezone="Asia/Tokyo")  # type: ignore[arg-type]
    assert account.timezone == ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: ConversationState(consent="bogus"), "consent"),
        (lambda: ConversationState(outbound_since_inbound="3"), "outbound_since_inbound"),
        (lambda: ConversationState(outbound_since_inbound=-1), "outbound_since_inbound"),
        (lambda: ConversationState(last_inbound_at="yesterday"), "last_inbound_at"),
        (lambda: AccountState(chatbot_month=(2026, 13)), "chatbot_month"),
        (lambda: AccountState(timezone="Mars/Olympus"), "timezone"),
        (lambda: AccountState(chatbot_initiated_count=True), "chatbot_initiated_count"),
        (lambda: Message(text=None), "text"),
        (lambda: Message(text=123), "text"),
        (lambda: Message(media="https://ex.co/a.jpg"), "media"),
        (lambda: Message(media=["https://ex.co/a.jpg"]), r"media\[0\]"),
        (lambda: Message(marketing="yes"), "marketing"),
    ],
)
def test_bad_state_and_message_values_are_input_errors_naming_the_field(
    build: object, needle: str
) -> None:
    with pytest.raises(InputError, match=needle):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("now", [date(2026, 11, 23), "2026-11-23T12:00:00Z", None])
def test_now_that_is_not_a_datetime_is_an_input_error(now: object) -> None:
    with pytest.raises(InputError, match="now"):
        decide(caps("respondio", "sms"), ConversationState(), Message(text="x"), now=now)  # type: ignore[arg-type]


def test_naive_now_is_still_the_naive_datetime_error() -> None:
    with pytest.raises(NaiveDatetimeError):
        decide(caps("respondio", "sms"), ConversationState(), Message(), now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("last_local", "hours_later", "open_"),
    [
        # 2026-11-01 02:00 New York falls back to 01:00: 24 real hours end at 11:00 local.
        (datetime(2026, 10, 31, 12, tzinfo=ZoneInfo("America/New_York")), 23.5, True),
        (datetime(2026, 10, 31, 12, tzinfo=ZoneInfo("America/New_York")), 24.5, False),
        # 2026-03-08 clocks spring forward in New York.
        (datetime(2026, 3, 7, 12, tzinfo=ZoneInfo("America/New_York")), 23.5, True),
        (datetime(2026, 3, 7, 12, tzinfo=ZoneInfo("America/New_York")), 24.0, False),
    ],
)
def test_w2_window_is_24_real_hours_across_daylight_saving(
    last_local: datetime, hours_later: float, open_: bool
) -> None:
    """SPEC W2: the window is 24 hours of elapsed time, not of wall-clock time."""
    state = ConversationState(last_inbound_at=last_local)
    now = last_local.astimezone(UTC) + timedelta(hours=hours_later)
    d = decide(caps("respondio", "whatsapp"), state, Message(text="hi"), now=now)
    assert (d.reason is Reason.WITHIN_WINDOW) is open_
    if open_:
        assert d.window_closes_at == last_local.astimezone(UTC) + timedelta(hours=24)


def test_b17_livetex_whatsapp_template_inside_the_window_is_still_paid() -> None:
    """SPEC W8, B17: LiveTex bills WhatsApp templates, whenever they go."""
    state = ConversationState(last_inbound_at=NOW - timedelta(hours=1))
    msg = Message(text="Your booking changed", template="booking_update")
    d = decide(caps("livetex", "whatsapp"), state, msg, now=NOW)
    assert (d.allowed, d.mode, d.reason, d.paid) == (
        True,
        Mode.TEMPLATE,
        Reason.WITHIN_WINDOW,
        True,
    )
    free = decide(caps("livetex", "whatsapp"), state, Message(text="Thanks!"), now=NOW)
    assert (free.mode, free.paid) == (Mode.FREE_FORM, False)


@pytest.mark.parametrize("kind", ["messenger", "viber"])
def test_w8_respondio_messenger_and_viber_cannot_start_with_someone_who_never_wrote(
    kind: str,
) -> None:
    """SPEC W3, W6 (and W8's "contacted at least once"): no tag or bot message to a stranger."""
    msg = Message(text="Your account changed", tag="ACCOUNT_UPDATE")
    d = decide(caps("respondio", kind), ConversationState(), msg, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.BLOCKED, Reason.NO_PRIOR_INBOUND)


def test_w4_instagram_wrong_tag_in_extended_window_is_not_allowed_like_messenger() -> None:
    """SPEC W3, W4: a tag other than HUMAN_AGENT is refused the same way on both."""
    state = ConversationState(last_inbound_at=NOW - timedelta(days=2))
    msg = Message(text="x", tag="PROMOTION")
    for kind in ("instagram", "messenger"):
        assert decide(caps("respondio", kind), state, msg, now=NOW).reason is Reason.TAG_NOT_ALLOWED


def test_c4_voice_note_given_by_its_string_kind_is_still_limited() -> None:
    """SPEC C4: Media(kind="voice") converts, so a 2-hour note cannot slip through."""
    note = Media("https://ex.co/v.ogg", "voice", duration=timedelta(hours=2))  # type: ignore[arg-type]
    assert note.kind is MediaKind.VOICE
    state = ConversationState(last_inbound_at=NOW - timedelta(hours=1))
    d = decide(caps("respondio", "whatsapp"), state, Message(media=(note,)), now=NOW)
    assert d.reason is Reason.VOICE_NOTE_TOO_LONG
