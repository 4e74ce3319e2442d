"""The built-in profile ``official``: the platforms' own rules as dated data (SPEC P1-P15).

Each rule is checked at a date inside its period and at one just outside it (for
the rules SPEC gives as "always" or "current", at two far-apart dates). These tests
check the data; what decisions and plans make of it is tested with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels import AfterWindow, ChannelKind, Mode, TextUnit
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.registry import Profile, builtin_profile_names, load_profile


@pytest.fixture(scope="module")
def official() -> Profile:
    return load_profile("official")


def caps(profile: Profile, kind: str, when: date | datetime) -> ChannelCapabilities:
    return profile.capabilities(kind, as_of=when)


def _dated_lists(node: Any, path: str = "") -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every list of dated entries in raw profile data, with its key path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _dated_lists(value, f"{path}.{key}" if path else str(key))
    elif (
        isinstance(node, list) and node and all(isinstance(e, dict) and "value" in e for e in node)
    ):
        yield path, node


PLAIN = {"sources", "uncertain", "quiet_hours", "double_opt_in"}
"""Channel keys that stay plain tables or lists (docs/profiles.md)."""


# --- the file as a whole --------------------------------------------------------------


def test_official_is_a_builtin_profile_and_loads(official: Profile) -> None:
    """SPEC section 7: the platforms' rules ship as the built-in profile ``official``."""
    assert "official" in builtin_profile_names()
    assert official.name == "official"
    assert set(official.kinds) == {
        ChannelKind.WHATSAPP,
        ChannelKind.MESSENGER,
        ChannelKind.INSTAGRAM,
        ChannelKind.VIBER,
        ChannelKind.WECHAT,
        ChannelKind.TELEGRAM,
        ChannelKind.LINE,
        ChannelKind.SMS,
        ChannelKind.GOOGLE_BUSINESS,
    }


def test_every_setting_of_official_is_dated(official: Profile) -> None:
    """SPEC section 7: every value carries its period; only plain tables stay plain."""
    undated = []
    for kind, spec in official.raw["channels"].items():
        for key, value in spec.items():
            if key in PLAIN:
                continue
            nested = key in ("content", "tiers", "regions")
            for sub, item in value.items() if nested else [("", value)]:
                entries = item if isinstance(item, list) else None
                if not entries or not all(isinstance(e, dict) and "value" in e for e in entries):
                    undated.append(f"{kind}.{key}.{sub}".rstrip("."))
    assert undated == []


def test_every_dated_entry_of_official_names_its_source(official: Profile) -> None:
    """SPEC section 7: every dated value has a source (a URL or a document's name)."""
    lists = list(_dated_lists(official.raw))
    assert len(lists) > 60
    missing = [
        f"{path}[{i}]"
        for path, entries in lists
        for i, entry in enumerate(entries)
        if not isinstance(entry.get("source"), str) or len(entry["source"].strip()) < 10
    ]
    assert missing == []
    insecure = [
        path for path, entries in lists for e in entries if "http://" in e["source"].lower()
    ]
    assert insecure == []


UNCERTAIN = [
    # (kind, date, setting): values SPEC marks (u), or whose sources disagree.
    ("whatsapp", date(2023, 10, 31), "tiers.version"),  # P2 (u)
    ("whatsapp", date(2023, 10, 31), "tiers.limits"),
    ("whatsapp", date(2023, 10, 31), "tiers.upgrade_factor"),
    ("whatsapp", date(2023, 10, 31), "tiers.upgrade_delay"),
    ("whatsapp", date(2023, 10, 31), "tiers.scope"),
    ("whatsapp", date(2023, 10, 31), "tiers.quality_required"),
    ("whatsapp", date(2026, 1, 1), "recipient_interval"),  # P5: 1 per 6 s (u)
    ("messenger", date(2026, 1, 1), "content.text_max"),  # P6: 2,000 (u)
    ("line", date(2026, 1, 1), "free_reply_window"),  # P11: replies free (u)
    ("sms", date(2025, 4, 10), "opt_out_scope"),  # X1 before P13: CTIA vs carriers
    ("google_business", date(2024, 7, 1), "window"),  # respondio's 30 days (u)
]


@pytest.mark.parametrize(("kind", "when", "setting"), UNCERTAIN)
def test_values_spec_marks_u_are_uncertain_in_the_data(
    official: Profile, kind: str, when: date, setting: str
) -> None:
    """SPEC section 7: where sources disagree or only a third party states it, say so."""
    assert setting in caps(official, kind, when).uncertain


def test_values_sources_agree_on_are_not_marked_uncertain(official: Profile) -> None:
    """SPEC P3, P8, P13: the v2 tiers, WeChat's quota and the 2025 keywords are certain."""
    whatsapp = caps(official, "whatsapp", date(2024, 6, 1))
    assert not [u for u in whatsapp.uncertain if u.startswith("tiers.")]
    assert caps(official, "wechat", date(2024, 6, 1)).uncertain == ()
    assert "opt_out_scope" not in caps(official, "sms", date(2025, 4, 11)).uncertain


@given(
    st.datetimes(
        min_value=datetime(2010, 1, 1),
        max_value=datetime(2035, 12, 31),
        timezones=st.just(UTC),
    )
)
def test_official_resolves_every_channel_at_every_instant(when: datetime) -> None:
    """SPEC section 7: the dated entries leave no instant without a value."""
    profile = load_profile("official")
    for kind in profile.kinds:
        resolved = profile.capabilities(kind, as_of=when)
        assert resolved.kind is kind
    tiers = profile.capabilities("whatsapp", as_of=when).tiers
    assert tiers is not None
    assert tiers.version in ("v1", "v2", "v3")


# --- WhatsApp (P1-P5) -----------------------------------------------------------------


@pytest.mark.parametrize("when", [date(2016, 1, 1), date(2026, 6, 1)])
def test_p1_whatsapp_window_is_24h_from_the_last_message_then_templates(
    official: Profile, when: date
) -> None:
    """SPEC P1 (always): 24 h from the user's last message; after it only templates."""
    c = caps(official, "whatsapp", when)
    assert c.window == timedelta(hours=24)
    assert c.window_extends is True
    assert c.after_window is AfterWindow.TEMPLATE
    assert c.templates is True
    assert c.requires_prior_inbound is False


def test_p2_whatsapp_limits_v1_until_2023_10_31(official: Profile) -> None:
    """SPEC P2 (u): 1K/10K/100K per number, up at 2x within 7 days, not before 48 h."""
    tiers = caps(official, "whatsapp", datetime(2023, 10, 31, 23, 59, tzinfo=UTC)).tiers
    assert tiers is not None
    assert tiers.version == "v1"
    assert tiers.limits == (1000, 10000, 100000, None)
    assert tiers.verified_tier is None
    assert tiers.upgrade_factor == 2.0
    assert tiers.upgrade_lookback == timedelta(days=7)
    assert tiers.upgrade_delay == timedelta(hours=48)
    assert tiers.quality_required == "not_low"
    assert tiers.scope == "number"
    assert tiers.rolling_window == timedelta(hours=24)
    assert tiers.replies_in_window_count is False


def test_p2_whatsapp_limits_v1_end_on_2023_11_01(official: Profile) -> None:
    """SPEC P2/P3: on 2023-11-01 the per-number v2 rules replace v1."""
    tiers = caps(official, "whatsapp", date(2023, 11, 1)).tiers
    assert tiers is not None
    assert tiers.version == "v2"
    assert tiers.limits[0] == 250


@pytest.mark.parametrize("when", [date(2023, 11, 1), date(2025, 10, 6)])
def test_p3_whatsapp_limits_v2_from_2023_11_01_to_2025_10_06(official: Profile, when: date) -> None:
    """SPEC P3: start 250; verification or 1,000 in 30 days lifts to 1K; then up one
    tier 24 h after using half the limit in 7 days at medium/high quality; flagged for
    7 days moves down one tier."""
    tiers = caps(official, "whatsapp", when).tiers
    assert tiers is not None
    assert tiers.version == "v2"
    assert tiers.limits == (250, 1000, 10000, 100000, None)
    assert tiers.verified_tier == 1
    assert tiers.first_upgrade_count == 1000
    assert tiers.first_upgrade_period == timedelta(days=30)
    assert tiers.upgrade_factor == 0.5
    assert tiers.upgrade_lookback == timedelta(days=7)
    assert tiers.upgrade_delay == timedelta(hours=24)
    assert tiers.quality_required == "not_low"
    assert tiers.downgrade_after == timedelta(days=7)
    assert tiers.scope == "number"


def test_p3_whatsapp_limits_v2_end_on_2025_10_07(official: Profile) -> None:
    """SPEC P3/P4: the last instant of v2 is 2025-10-06T23:59:59Z."""
    last = caps(official, "whatsapp", datetime(2025, 10, 6, 23, 59, 59, tzinfo=UTC)).tiers
    first = caps(official, "whatsapp", date(2025, 10, 7)).tiers
    assert last is not None
    assert first is not None
    assert (last.version, first.version) == ("v2", "v3")


def test_p4_whatsapp_limits_v3_per_portfolio_from_2025_10_07(official: Profile) -> None:
    """SPEC P4: 250 -> 2,000 -> 10K -> 100K -> unlimited per business portfolio, up at
    high quality after 50 % of the limit in 7 days, re-checked about every 6 h."""
    tiers = caps(official, "whatsapp", date(2025, 10, 7)).tiers
    assert tiers is not None
    assert tiers.version == "v3"
    assert tiers.limits == (250, 2000, 10000, 100000, None)
    assert tiers.scope == "portfolio"
    assert tiers.quality_required == "high"
    assert tiers.upgrade_factor == 0.5
    assert tiers.upgrade_delay == timedelta(hours=6)
    assert tiers.replies_in_window_count is False
    assert tiers.downgrade_after is None


def test_p4_whatsapp_limits_are_per_number_the_day_before(official: Profile) -> None:
    """SPEC P4: before 2025-10-07 the limit was not shared by a portfolio's numbers."""
    tiers = caps(official, "whatsapp", date(2025, 10, 6)).tiers
    assert tiers is not None
    assert tiers.scope == "number"
    assert tiers.limits[1] == 1000


@pytest.mark.parametrize("when", [date(2021, 1, 1), date(2026, 6, 1)])
def test_p5_whatsapp_throughput_pair_rate_and_content(official: Profile, when: date) -> None:
    """SPEC P5 (current): 80 msg/s per number, about 1 per 6 s to one user (u); text
    4,096, template body 1,024."""
    c = caps(official, "whatsapp", when)
    assert c.rate_per_second == 80
    assert c.recipient_interval == timedelta(seconds=6)
    assert c.content.text_max == 4096
    assert c.content.template_body_max == 1024
    assert c.content.caption_max == 1024
    assert c.content.text_unit is TextUnit.CHARACTERS
    assert Mode.TEMPLATE in c.paid_modes


# --- Messenger (P6), Instagram (P7) ---------------------------------------------------


def test_p6_messenger_tags_from_2020_03_04(official: Profile) -> None:
    """SPEC P6: from 2020-03-04 three tags and HUMAN_AGENT for 7 days, none promotional."""
    c = caps(official, "messenger", date(2020, 3, 4))
    assert c.message_tags == {"CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"}
    assert c.marketing_under_tags is False
    assert c.extended_window == timedelta(days=7)
    assert c.extended_window_tag == "HUMAN_AGENT"
    assert c.after_window is AfterWindow.MESSAGE_TAG
    assert c.window == timedelta(hours=24)
    assert c.content.text_max == 2000


def test_p6_messenger_before_2020_03_04_had_the_older_tags(official: Profile) -> None:
    """SPEC P6: the other tags were retired on 2020-03-04; the day before they held."""
    c = caps(official, "messenger", datetime(2020, 3, 3, 23, 59, tzinfo=UTC))
    assert "SHIPPING_UPDATE" in c.message_tags
    assert "POST_PURCHASE_UPDATE" not in c.message_tags
    assert c.marketing_under_tags is True


@pytest.mark.parametrize("when", [date(2021, 6, 1), date(2026, 6, 1)])
def test_p7_instagram_window_human_agent_and_bytes(official: Profile, when: date) -> None:
    """SPEC P7 (current): 24 h, HUMAN_AGENT only (7 days), nothing after, 1,000 bytes."""
    c = caps(official, "instagram", when)
    assert c.window == timedelta(hours=24)
    assert c.extended_window == timedelta(days=7)
    assert c.extended_window_tag == "HUMAN_AGENT"
    assert c.after_window is AfterWindow.NOTHING
    assert c.message_tags == frozenset()
    assert c.marketing_under_tags is False
    assert c.content.text_max == 1000
    assert c.content.text_unit is TextUnit.UTF8_BYTES


# --- WeChat (P8), Viber (P9) ----------------------------------------------------------


def test_p8_wechat_quota_is_20_until_2023_06_11(official: Profile) -> None:
    """SPEC P8: at most 20 messages in the 48 h after the user's message, to 2023-06-11."""
    assert caps(official, "wechat", date(2023, 6, 11)).window_outbound_cap == 20
    late = datetime(2023, 6, 11, 23, 59, 59, tzinfo=UTC)
    assert caps(official, "wechat", late).window_outbound_cap == 20


def test_p8_wechat_quota_is_5_from_2023_06_12(official: Profile) -> None:
    """SPEC P8: at most 5 from 2023-06-12; after a menu click, follow or scan, 3 in 1 min."""
    c = caps(official, "wechat", date(2023, 6, 12))
    assert c.window_outbound_cap == 5
    assert c.window == timedelta(hours=48)
    assert c.after_window is AfterWindow.NOTHING
    assert c.event_window == timedelta(minutes=1)
    assert c.event_outbound_cap == 3


def test_p9_viber_session_model_from_2022_09_01(official: Profile) -> None:
    """SPEC P9: a 24 h session not extended by later messages; 10,000 free
    chatbot-initiated messages a month, then paid; 100 unanswered per hour; 7,000."""
    c = caps(official, "viber", date(2022, 9, 1))
    assert c.window == timedelta(hours=24)
    assert c.window_extends is False
    assert c.after_window is AfterWindow.CHATBOT_INITIATED
    assert c.chatbot_free_per_month == 10_000
    assert c.paid_modes == {Mode.CHATBOT_INITIATED}
    assert c.unanswered_cap == 100
    assert c.unanswered_period == timedelta(hours=1)
    assert c.content.text_max == 7000
    assert c.requires_prior_inbound is True


def test_p9_viber_had_no_session_before_2022_09_01(official: Profile) -> None:
    """SPEC P9: before 2022-09-01 a bot messaged its subscribers at any time, free."""
    c = caps(official, "viber", datetime(2022, 8, 31, 23, 59, tzinfo=UTC))
    assert c.window is None
    assert c.paid_modes == frozenset()
    assert c.requires_prior_inbound is True


# --- Telegram (P10), LINE (P11) -------------------------------------------------------


@pytest.mark.parametrize("when", [date(2018, 1, 1), date(2026, 6, 1)])
def test_p10_telegram_rates_and_lengths(official: Profile, when: date) -> None:
    """SPEC P10 (current): ~1 msg/s per chat, 30 msg/s bulk, 20/min per group; 4,096/1,024."""
    c = caps(official, "telegram", when)
    assert c.window is None
    assert c.rate_per_second == 30
    assert c.recipient_interval == timedelta(seconds=1)
    assert c.group_rate_per_minute == 20
    assert c.content.text_max == 4096
    assert c.content.caption_max == 1024


def test_p11_line_quota_before_the_2023_06_01_plans(official: Profile) -> None:
    """SPEC P11: the free plan's monthly quota was 1,000 until 2023-05-31."""
    c = caps(official, "line", datetime(2023, 5, 31, 23, 59, tzinfo=UTC))
    assert c.monthly_quota == 1000


def test_p11_line_quota_and_reply_window_from_2023_06_01(official: Profile) -> None:
    """SPEC P11: 200 a month from 2023-06-01; a reply (token, 1 min) is free (u); 5,000
    UTF-16 units."""
    c = caps(official, "line", date(2023, 6, 1))
    assert c.monthly_quota == 200
    assert c.free_reply_window == timedelta(minutes=1)
    assert c.window is None
    assert c.content.text_max == 5000
    assert c.content.text_unit is TextUnit.UTF16_UNITS


# --- SMS to US numbers (P12-P14) ------------------------------------------------------


def test_p12_tcpa_quiet_hours_everywhere(official: Profile) -> None:
    """SPEC P12, X2: 08:00-21:00 in the recipient's local time (47 CFR 64.1200(c)(1))."""
    for when in (date(2015, 1, 1), date(2026, 6, 1)):
        hours = caps(official, "sms", when).quiet_hours
        assert hours is not None
        assert (hours.start, hours.end) == (time(8), time(21))


def test_p12_florida_region_absent_on_2021_06_30(official: Profile) -> None:
    """SPEC P12: Florida's stricter rules start on 2021-07-01."""
    late = datetime(2021, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert "US-FL" not in caps(official, "sms", late).regions


def test_p12_florida_region_present_from_2021_07_01(official: Profile) -> None:
    """SPEC P12: Florida 08:00-20:00, at most 3 per 24 h, by a Florida area code."""
    c = caps(official, "sms", date(2021, 7, 1))
    florida = c.regions["US-FL"]
    assert florida.country == "US"
    assert {"305", "786", "407", "813", "904", "954", "850", "239"} <= florida.area_codes
    assert len(florida.area_codes) == 23
    assert florida.quiet_hours is not None
    assert (florida.quiet_hours.start, florida.quiet_hours.end) == (time(8), time(20))
    assert florida.frequency_cap is not None
    assert florida.frequency_cap.messages == 3
    assert florida.frequency_cap.period == timedelta(hours=24)
    assert "US-OK" not in c.regions


def test_p12_oklahoma_region_absent_on_2022_10_31(official: Profile) -> None:
    """SPEC P12: Oklahoma's rules start on 2022-11-01."""
    c = caps(official, "sms", datetime(2022, 10, 31, 23, 59, tzinfo=UTC))
    assert "US-OK" not in c.regions
    assert "US-FL" in c.regions


def test_p12_oklahoma_region_present_from_2022_11_01(official: Profile) -> None:
    """SPEC P12: an Oklahoma area code presumes residence: 405, 539, 572, 580, 918."""
    oklahoma = caps(official, "sms", date(2022, 11, 1)).regions["US-OK"]
    assert oklahoma.area_codes == {"405", "539", "572", "580", "918"}
    assert oklahoma.quiet_hours is not None
    assert oklahoma.quiet_hours.end == time(20)
    assert oklahoma.frequency_cap is not None
    assert oklahoma.frequency_cap.messages == 3


def test_p13_keywords_before_2025_04_11_are_the_ctia_set(official: Profile) -> None:
    """SPEC X1: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, UNSTOP; HELP."""
    en = caps(official, "sms", datetime(2025, 4, 10, 23, 59, tzinfo=UTC)).keywords["en"]
    assert en.opt_out == {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
    assert "REVOKE" not in en.opt_out
    assert en.opt_in == {"START", "UNSTOP"}
    assert en.help == {"HELP"}


def test_p13_keywords_from_2025_04_11_are_the_fcc_set(official: Profile) -> None:
    """SPEC P13: STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE (+ STOPALL,
    OPTOUT); START, YES, UNSTOP; HELP, INFO; an opt-out ends every business message."""
    c = caps(official, "sms", date(2025, 4, 11))
    en = c.keywords["en"]
    assert {"STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE"} <= en.opt_out
    assert {"STOPALL", "OPTOUT"} <= en.opt_out
    assert en.opt_in == {"START", "YES", "UNSTOP"}
    assert en.help == {"HELP", "INFO"}
    assert c.opt_out_scope == "all"
    assert caps(official, "sms", date(2025, 4, 10)).opt_out_scope == "marketing"


def test_p13_spanish_and_portuguese_keywords_are_the_librarys_choice(official: Profile) -> None:
    """SPEC X1: per-locale lists are data; es and pt are named as the library's choice."""
    c = caps(official, "sms", date(2026, 1, 1))
    assert "PARAR" in c.keywords["es"].opt_out
    assert "AYUDA" in c.keywords["es"].help
    assert "SAIR" in c.keywords["pt"].opt_out
    assert "AJUDA" in c.keywords["pt"].help
    for entry in official.raw["channels"]["sms"]["keywords"]:
        assert "library's choice, not an industry standard" in entry["source"]


@pytest.mark.parametrize("when", [date(2022, 1, 1), date(2026, 6, 1)])
def test_p14_sms_throughput_per_sender_class(official: Profile, when: date) -> None:
    """SPEC P14 (current): long code 1 msg/s, toll-free 3, short code 100; 10DLC classes
    4,500 / 2,400 / 240 / 75 messages per minute."""
    c = caps(official, "sms", when)
    rates = c.account_rates
    assert rates["long_code"] == 1
    assert rates["toll_free"] == 3
    assert rates["short_code"] == 100
    per_minute = {round(rates[f"10dlc_class_{k}"] * 60) for k in "abcdeft"}
    assert per_minute == {4500, 2400, 240, 75}
    assert c.rate_per_second == 1


# --- Google Business Messages (P15) ---------------------------------------------------


def test_p15_google_business_takes_new_chats_until_2024_07_14(official: Profile) -> None:
    """SPEC P15: new chats could start until 2024-07-14."""
    c = caps(official, "google_business", datetime(2024, 7, 14, 23, 59, tzinfo=UTC))
    assert c.new_conversations is True
    assert c.retired is False


def test_p15_google_business_no_new_chats_from_2024_07_15(official: Profile) -> None:
    """SPEC P15: no new chats from 2024-07-15; existing ones until the shutdown."""
    c = caps(official, "google_business", date(2024, 7, 15))
    assert c.new_conversations is False
    assert c.retired is False


def test_p15_google_business_still_running_on_2024_07_30(official: Profile) -> None:
    """SPEC P15: the service ran until 2024-07-30 (inclusive)."""
    c = caps(official, "google_business", datetime(2024, 7, 30, 23, 59, 59, tzinfo=UTC))
    assert c.retired is False


def test_p15_google_business_retired_from_2024_07_31(official: Profile) -> None:
    """SPEC P15: shut down on 2024-07-31."""
    c = caps(official, "google_business", date(2024, 7, 31))
    assert c.retired is True
    assert c.new_conversations is False
    assert c.broadcasts is False
