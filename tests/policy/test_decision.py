"""The decision core, rule by rule (SPEC W1-W8, C1-C4, C6, X1, X3, B4, B12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omnimsg.channels import ChannelCapabilities, Mode
from omnimsg.channels.registry import load_profile
from omnimsg.errors import NaiveDatetimeError
from omnimsg.policy.content import Media, MediaKind
from omnimsg.policy.decision import AccountState, ConversationState, Message, decide
from omnimsg.policy.optin import SubscriptionStatus
from omnimsg.policy.reasons import RULE_OF, Reason

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HELLO = Message(text="Hello")


def caps(profile: str, kind: str) -> ChannelCapabilities:
    return load_profile(profile).capabilities(kind, as_of=NOW)


def wrote(ago: timedelta, sent: int = 0) -> ConversationState:
    return ConversationState(last_inbound_at=NOW - ago, outbound_since_inbound=sent)


NEVER = ConversationState()


# W1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["telegram", "line", "webchat", "sms", "email"])
@pytest.mark.parametrize(
    "state", [NEVER, ConversationState(last_inbound_at=NOW - timedelta(days=400))]
)
def test_w1_channels_without_window_allow_free_form_at_any_time(
    kind: str, state: ConversationState
) -> None:
    """SPEC W1: Telegram, LINE, web chat, SMS and e-mail have no messaging window."""
    d = decide(caps("respondio", kind), state, HELLO, now=NOW)
    assert d.allowed
    assert d.mode is Mode.FREE_FORM
    assert d.reason is Reason.NO_WINDOW
    assert d.window_closes_at is None


# W2 ---------------------------------------------------------------------------------


def test_w2_whatsapp_free_form_inside_24h_says_when_the_window_closes() -> None:
    """SPEC W2: 24 h window after the last inbound message."""
    d = decide(
        caps("respondio", "whatsapp"), wrote(timedelta(hours=23, minutes=59)), HELLO, now=NOW
    )
    assert (d.allowed, d.mode, d.reason) == (True, Mode.FREE_FORM, Reason.WITHIN_WINDOW)
    assert d.window_closes_at == NOW + timedelta(minutes=1)


def test_w2_whatsapp_at_exactly_24h_requires_a_template() -> None:
    """SPEC W2: the window is [last inbound, last inbound + 24 h); at 24 h it is closed."""
    d = decide(caps("respondio", "whatsapp"), wrote(timedelta(hours=24)), HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.TEMPLATE, Reason.TEMPLATE_REQUIRED)
    assert d.content is None


def test_w2_whatsapp_template_goes_after_the_window() -> None:
    msg = Message(text="Your order shipped", template="order_update")
    d = decide(caps("respondio", "whatsapp"), wrote(timedelta(days=3)), msg, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (True, Mode.TEMPLATE, Reason.TEMPLATE_OUTSIDE_WINDOW)


def test_w2_whatsapp_contact_who_never_wrote_needs_a_template() -> None:
    d = decide(caps("respondio", "whatsapp"), NEVER, HELLO, now=NOW)
    assert d.reason is Reason.TEMPLATE_REQUIRED


# W3 ---------------------------------------------------------------------------------


def test_w3_messenger_after_24h_without_tag_requires_a_tag() -> None:
    """SPEC W3: after the standard 24 h only a tagged message may go."""
    d = decide(caps("respondio", "messenger"), wrote(timedelta(hours=24)), HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.TAG, Reason.TAG_REQUIRED)
    assert d.window_closes_at == NOW + timedelta(days=6)


def test_w3_messenger_human_agent_extends_the_window_to_7_days() -> None:
    msg = Message(text="An agent here", tag="HUMAN_AGENT")
    ago = timedelta(days=6, hours=23, minutes=59)
    d = decide(caps("respondio", "messenger"), wrote(ago), msg, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (True, Mode.TAG, Reason.WITHIN_EXTENDED_WINDOW)
    assert d.window_closes_at == NOW + timedelta(minutes=1)


def test_w3_messenger_human_agent_at_exactly_7_days_is_not_accepted() -> None:
    msg = Message(text="An agent here", tag="HUMAN_AGENT")
    d = decide(caps("respondio", "messenger"), wrote(timedelta(days=7)), msg, now=NOW)
    assert (d.allowed, d.reason) == (False, Reason.TAG_NOT_ALLOWED)


def test_w3_messenger_message_tag_goes_after_7_days() -> None:
    msg = Message(text="Your account changed", tag="ACCOUNT_UPDATE")
    d = decide(caps("respondio", "messenger"), wrote(timedelta(days=30)), msg, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (True, Mode.TAG, Reason.TAG_OUTSIDE_WINDOW)


def test_w3_messenger_without_tag_after_7_days_requires_a_tag() -> None:
    d = decide(caps("respondio", "messenger"), wrote(timedelta(days=8)), HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.TAG, Reason.TAG_REQUIRED)


def test_w3_messenger_unknown_tag_is_not_allowed() -> None:
    msg = Message(text="Sale!", tag="PROMOTION")
    d = decide(caps("respondio", "messenger"), wrote(timedelta(days=2)), msg, now=NOW)
    assert d.reason is Reason.TAG_NOT_ALLOWED


# W4 ---------------------------------------------------------------------------------


def test_w4_instagram_human_agent_inside_7_days() -> None:
    """SPEC W4: 24 h standard, 7 days with HUMAN_AGENT."""
    msg = Message(text="An agent here", tag="HUMAN_AGENT")
    d = decide(caps("respondio", "instagram"), wrote(timedelta(days=6)), msg, now=NOW)
    assert (d.allowed, d.reason) == (True, Reason.WITHIN_EXTENDED_WINDOW)


def test_w4_instagram_between_24h_and_7d_without_tag_requires_the_tag() -> None:
    d = decide(caps("respondio", "instagram"), wrote(timedelta(days=2)), HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.TAG, Reason.TAG_REQUIRED)


@pytest.mark.parametrize(
    "msg",
    [
        HELLO,
        Message(text="x", tag="HUMAN_AGENT"),
        Message(text="x", tag="ACCOUNT_UPDATE"),
        Message(text="x", template="t"),
    ],
)
def test_w4_instagram_after_7_days_nothing_goes_with_a_tag_or_a_template(msg: Message) -> None:
    """SPEC W4: after the window closes no outbound message of any kind."""
    d = decide(caps("respondio", "instagram"), wrote(timedelta(days=7)), msg, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.BLOCKED, Reason.WINDOW_CLOSED)


# W5 ---------------------------------------------------------------------------------


def test_w5_wechat_20th_message_is_allowed_and_is_the_last() -> None:
    """SPEC W5: at most 20 outbound messages in the 48 h window."""
    d = decide(caps("respondio", "wechat"), wrote(timedelta(hours=47), sent=19), HELLO, now=NOW)
    assert (d.allowed, d.reason, d.remaining_in_window) == (True, Reason.WITHIN_WINDOW, 1)
    assert d.window_closes_at == NOW + timedelta(hours=1)


def test_w5_wechat_21st_message_is_blocked() -> None:
    d = decide(caps("respondio", "wechat"), wrote(timedelta(hours=1), sent=20), HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.BLOCKED, Reason.WINDOW_CAP_REACHED)


def test_w5_wechat_at_48h_is_closed() -> None:
    d = decide(caps("respondio", "wechat"), wrote(timedelta(hours=48)), HELLO, now=NOW)
    assert (d.allowed, d.reason) == (False, Reason.WINDOW_CLOSED)


def test_w5_wechat_reply_resets_clock_and_counter() -> None:
    """SPEC W5: a message from the contact resets both the 48 h clock and the counter."""
    state = wrote(timedelta(hours=47), sent=20)
    assert not decide(caps("respondio", "wechat"), state, HELLO, now=NOW)
    state = state.after_inbound(NOW, now=NOW)
    d = decide(caps("respondio", "wechat"), state, HELLO, now=NOW + timedelta(hours=47))
    assert (d.allowed, d.remaining_in_window) == (True, 20)


def test_w5_wechat_contact_who_never_wrote_is_blocked() -> None:
    assert decide(caps("respondio", "wechat"), NEVER, HELLO, now=NOW).reason is Reason.WINDOW_CLOSED


# W6 ---------------------------------------------------------------------------------

VIBER_OUTSIDE = ConversationState(last_inbound_at=NOW - timedelta(days=2))


def _viber_account(count: int, *, paid: bool = False, zone: str = "UTC") -> AccountState:
    tz = ZoneInfo(zone)
    local = NOW.astimezone(tz)
    return AccountState(
        timezone=tz,
        chatbot_month=(local.year, local.month),
        chatbot_initiated_count=count,
        paid_chatbot_terms=paid,
    )


def test_w6_viber_inside_window_is_free_form() -> None:
    d = decide(caps("respondio", "viber"), wrote(timedelta(hours=2)), HELLO, now=NOW)
    assert (d.mode, d.reason) == (Mode.FREE_FORM, Reason.WITHIN_WINDOW)


def test_w6_viber_10000th_chatbot_initiated_message_is_free() -> None:
    """SPEC W6: 10,000 chatbot-initiated messages are free each calendar month."""
    d = decide(
        caps("respondio", "viber"), VIBER_OUTSIDE, HELLO, now=NOW, account=_viber_account(9_999)
    )
    assert (d.allowed, d.mode, d.reason) == (
        True,
        Mode.CHATBOT_INITIATED,
        Reason.CHATBOT_INITIATED_FREE,
    )
    assert (d.remaining_in_window, d.paid) == (1, False)


def test_w6_viber_10001st_fails_without_paid_terms() -> None:
    d = decide(
        caps("respondio", "viber"), VIBER_OUTSIDE, HELLO, now=NOW, account=_viber_account(10_000)
    )
    assert (d.allowed, d.mode, d.reason) == (
        False,
        Mode.CHATBOT_INITIATED,
        Reason.CHATBOT_QUOTA_EXHAUSTED,
    )


def test_w6_viber_10001st_goes_paid_with_commercial_terms() -> None:
    account = _viber_account(10_000, paid=True)
    d = decide(caps("respondio", "viber"), VIBER_OUTSIDE, HELLO, now=NOW, account=account)
    assert (d.allowed, d.reason, d.paid) == (True, Reason.CHATBOT_INITIATED_PAID, True)


def test_w6_viber_quota_resets_on_the_1st_in_the_accounts_time_zone() -> None:
    """SPEC W6: the month is the account's calendar month, in its own time zone."""
    tokyo = ZoneInfo("Asia/Tokyo")
    last_of_month = datetime(2026, 11, 30, 14, 59, tzinfo=UTC)  # 23:59 in Tokyo
    account = AccountState(timezone=tokyo, chatbot_month=(2026, 11), chatbot_initiated_count=10_000)
    viber = caps("respondio", "viber")
    state = ConversationState(last_inbound_at=datetime(2026, 10, 1, tzinfo=UTC))
    assert not decide(viber, state, HELLO, now=last_of_month, account=account)
    first = last_of_month + timedelta(minutes=1)  # 00:00 on 1 December in Tokyo, still Nov in UTC
    d = decide(viber, state, HELLO, now=first, account=account)
    assert (d.allowed, d.remaining_in_window) == (True, 10_000)
    assert account.after_chatbot_initiated(first).chatbot_month == (2026, 12)


# W7 ---------------------------------------------------------------------------------


def test_w7_every_reason_has_a_stable_string_and_a_rule_id() -> None:
    """SPEC W7: machine-readable reasons; each cites its rule."""
    assert set(RULE_OF) == set(Reason)
    assert Reason("template_required") is Reason.TEMPLATE_REQUIRED
    d = decide(caps("respondio", "whatsapp"), NEVER, HELLO, now=NOW)
    assert d.rule == "W2"
    assert "template" in d.explain()
    assert bool(d) is False


# W8 ---------------------------------------------------------------------------------


def test_w8_livetex_telegram_visitor_who_wrote_long_ago_gets_a_free_message() -> None:
    """SPEC W8: LiveTex allows messaging anyone who contacted at any time in the past."""
    d = decide(caps("livetex", "telegram"), wrote(timedelta(days=900)), HELLO, now=NOW)
    assert (d.allowed, d.reason, d.paid) == (True, Reason.NO_WINDOW, False)


@pytest.mark.parametrize("kind", ["telegram", "vk", "viber", "instagram"])
def test_w8_livetex_visitor_who_never_wrote_cannot_be_messaged(kind: str) -> None:
    d = decide(caps("livetex", kind), NEVER, HELLO, now=NOW)
    assert (d.allowed, d.mode, d.reason) == (False, Mode.BLOCKED, Reason.NO_PRIOR_INBOUND)


def test_w8_livetex_whatsapp_template_to_any_number_is_paid() -> None:
    """SPEC W8, B17: WhatsApp Business by template to any phone number, paid."""
    msg = Message(text="Your booking changed", template="booking_update")
    d = decide(caps("livetex", "whatsapp"), NEVER, msg, now=NOW)
    assert (d.allowed, d.mode, d.paid) == (True, Mode.TEMPLATE, True)


def test_w8_same_kind_different_profiles_differ() -> None:
    """SPEC W8: Instagram after 30 days: LiveTex allows it, respond.io blocks it."""
    state = wrote(timedelta(days=30))
    assert decide(caps("livetex", "instagram"), state, HELLO, now=NOW).allowed
    assert not decide(caps("respondio", "instagram"), state, HELLO, now=NOW).allowed


# Content ----------------------------------------------------------------------------

LINK = "https://ex.co/p.jpg"


def test_c1_c2_expertconnect_240_characters_including_the_link_go() -> None:
    """SPEC C1, C2: 240 characters including media links, media as a link in the text."""
    sms = caps("expertconnect", "sms")
    text = "a" * (240 - len(LINK) - 1)
    d = decide(sms, NEVER, Message(text=text, media=Media(LINK, MediaKind.IMAGE)), now=NOW)
    assert d.allowed
    assert d.content is not None
    assert d.content.text.endswith(LINK)
    assert d.content.attachments == ()
    assert d.content.length == 240


def test_c1_expertconnect_241_characters_including_the_link_are_refused() -> None:
    sms = caps("expertconnect", "sms")
    text = "a" * (241 - len(LINK) - 1)
    d = decide(sms, NEVER, Message(text=text, media=Media(LINK, MediaKind.IMAGE)), now=NOW)
    assert (d.allowed, d.reason, d.rule) == (False, Reason.CONTENT_TOO_LONG, "C1")
    assert d.content is not None
    assert d.content.length == 241


def test_c6_an_emoji_counts_as_one_character() -> None:
    """SPEC C6: characters as a person sees them."""
    sms = caps("expertconnect", "sms")
    d = decide(sms, NEVER, Message(text="a" * 239 + "👍🏽"), now=NOW)
    assert d.allowed
    assert d.content is not None
    assert d.content.length == 240


def test_c3_the_same_message_meets_one_channel_and_not_another() -> None:
    """SPEC C3: each channel has its own content limits."""
    msg = Message(text="x" * 2001)
    state = wrote(timedelta(hours=1))
    assert decide(caps("respondio", "whatsapp"), state, msg, now=NOW).allowed
    refused = decide(caps("respondio", "messenger"), state, msg, now=NOW)
    assert (refused.reason, refused.rule) == (Reason.CONTENT_TOO_LONG, "C3")


def test_c4_voice_note_goes_as_voice_note_where_supported_and_as_file_elsewhere() -> None:
    """SPEC C4: voice notes on channels that support them, else as a file attachment."""
    voice = Media("https://ex.co/v.ogg", MediaKind.VOICE, duration=timedelta(minutes=5))
    msg = Message(media=(voice,))
    wa = decide(caps("respondio", "whatsapp"), wrote(timedelta(hours=1)), msg, now=NOW)
    assert wa.allowed
    assert wa.content is not None
    assert wa.content.voice_note is not None
    viber = decide(caps("respondio", "viber"), wrote(timedelta(hours=1)), msg, now=NOW)
    assert viber.allowed
    assert viber.content is not None
    assert viber.content.voice_note is None
    assert len(viber.content.attachments) == 1


def test_c4_voice_note_over_5_minutes_is_refused() -> None:
    voice = Media("https://ex.co/v.ogg", MediaKind.VOICE, duration=timedelta(minutes=5, seconds=1))
    d = decide(
        caps("respondio", "whatsapp"), wrote(timedelta(hours=1)), Message(media=(voice,)), now=NOW
    )
    assert (d.allowed, d.reason, d.rule) == (False, Reason.VOICE_NOTE_TOO_LONG, "C4")


def test_x3_sms_limit_counts_segments_and_extension_characters_twice() -> None:
    """SPEC X3: GSM-7 153 septets per part; an extension character counts twice."""
    sms = caps("respondio", "sms")  # at most 10 segments
    assert decide(sms, NEVER, Message(text="a" * 1530), now=NOW).allowed
    d = decide(sms, NEVER, Message(text="a" * 1529 + "€"), now=NOW)
    assert (d.allowed, d.reason, d.rule) == (False, Reason.CONTENT_TOO_LONG, "X3")
    assert d.content is not None
    assert d.content.sms is not None
    assert d.content.sms.segments == 11


# Consent ----------------------------------------------------------------------------


def test_x1_opted_out_contact_gets_no_marketing_but_service_messages_still_go() -> None:
    """SPEC X1: opt-out ends marketing sends to the contact on that sender."""
    state = ConversationState(consent=SubscriptionStatus.UNSUBSCRIBED)
    sms = caps("respondio", "sms")
    d = decide(sms, state, Message(text="Sale!", marketing=True), now=NOW)
    assert (d.allowed, d.mode, d.reason, d.rule) == (False, Mode.BLOCKED, Reason.OPTED_OUT, "X1")
    assert decide(sms, state, Message(text="Your code is 1234"), now=NOW).allowed


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (SubscriptionStatus.NOT_ASKED, Reason.OPT_IN_REQUIRED),
        (SubscriptionStatus.PROMPTED, Reason.OPT_IN_PENDING),
        (SubscriptionStatus.DECLINED, Reason.OPT_IN_DECLINED),
        (SubscriptionStatus.UNSUBSCRIBED, Reason.OPTED_OUT),
    ],
)
def test_b12_expertconnect_broadcast_waits_for_double_opt_in(
    status: SubscriptionStatus, reason: Reason
) -> None:
    """SPEC B12: a broadcast goes only after the contact confirmed with S."""
    d = decide(
        caps("expertconnect", "sms"),
        ConversationState(consent=status),
        Message(text="Sale!", broadcast=True),
        now=NOW,
    )
    assert (d.allowed, d.reason) == (False, reason)


def test_b12_subscribed_contact_receives_the_broadcast() -> None:
    state = ConversationState(consent=SubscriptionStatus.SUBSCRIBED)
    d = decide(caps("expertconnect", "sms"), state, Message(text="Sale!", broadcast=True), now=NOW)
    assert d.allowed


def test_b4_broadcast_on_a_channel_without_broadcasts_is_blocked() -> None:
    """SPEC B4: Instagram does not support broadcasts in the respond.io profile."""
    msg = Message(text="Sale!", broadcast=True)
    d = decide(caps("respondio", "instagram"), wrote(timedelta(hours=1)), msg, now=NOW)
    assert (d.allowed, d.reason) == (False, Reason.BROADCASTS_NOT_SUPPORTED)


# Input ------------------------------------------------------------------------------


def test_naive_now_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        decide(caps("respondio", "whatsapp"), NEVER, HELLO, now=datetime(2026, 1, 1))


def test_naive_last_inbound_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="last_inbound_at"):
        ConversationState(last_inbound_at=datetime(2026, 1, 1))


def test_rendered_content_is_reused_for_the_same_message_and_limits() -> None:
    wa = caps("respondio", "whatsapp")
    state = wrote(timedelta(hours=1))
    first = decide(wa, state, HELLO, now=NOW)
    second = decide(wa, state, HELLO, now=NOW)
    assert first.content is second.content
