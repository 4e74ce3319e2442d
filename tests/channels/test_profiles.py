"""Profiles as data (SPEC W8, section 7): loading, validation errors, derivation, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from omnimsg.channels import AfterWindow, ChannelKind, Mode, TextUnit
from omnimsg.channels.registry import builtin_profile_names, load_profile, profile_from_dict
from omnimsg.errors import (
    ConfigurationError,
    InputError,
    NaiveDatetimeError,
    ProfileError,
    UnknownChannelError,
    UnknownProfileError,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_builtin_profiles_are_the_seed_systems_and_the_official_rules() -> None:
    assert builtin_profile_names() == ("expertconnect", "livetex", "official", "respondio")


@pytest.mark.parametrize("name", builtin_profile_names())
def test_every_builtin_profile_resolves_every_channel(name: str) -> None:
    profile = load_profile(name)
    assert profile.kinds
    for kind in profile.kinds:
        assert profile.capabilities(kind, as_of=NOW).kind is kind


def test_respondio_encodes_the_windows_of_w1_to_w6() -> None:
    """SPEC W1-W6 as data in the respondio profile."""
    p = load_profile("respondio")
    caps = {kind: p.capabilities(kind, as_of=NOW) for kind in p.kinds}
    for kind in ("telegram", "line", "webchat", "sms", "email"):
        assert caps[ChannelKind(kind)].window is None  # W1
    assert caps[ChannelKind.WHATSAPP].window == timedelta(hours=24)  # W2
    assert caps[ChannelKind.WHATSAPP].after_window is AfterWindow.TEMPLATE
    assert caps[ChannelKind.MESSENGER].extended_window == timedelta(days=7)  # W3
    assert caps[ChannelKind.MESSENGER].extended_window_tag == "HUMAN_AGENT"
    assert caps[ChannelKind.INSTAGRAM].after_window is AfterWindow.NOTHING  # W4
    assert caps[ChannelKind.WECHAT].window == timedelta(hours=48)  # W5
    assert caps[ChannelKind.WECHAT].window_outbound_cap == 20
    assert caps[ChannelKind.VIBER].chatbot_free_per_month == 10_000  # W6
    assert caps[ChannelKind.INSTAGRAM].content.text_unit is TextUnit.UTF8_BYTES


def test_respondio_broadcast_support_follows_b4() -> None:
    """SPEC B4: e-mail, Instagram, Google Business Messages and web chat do not broadcast."""
    p = load_profile("respondio")
    no_broadcast = {k for k in p.kinds if not p.capabilities(k, as_of=NOW).broadcasts}
    assert no_broadcast == {
        ChannelKind.EMAIL,
        ChannelKind.INSTAGRAM,
        ChannelKind.GOOGLE_BUSINESS,
        ChannelKind.WEBCHAT,
    }


def test_livetex_profile_has_w8_b13_b17() -> None:
    """SPEC W8 (any past contact), B13/B14 (tier table), B17 (WhatsApp paid, others free)."""
    p = load_profile("livetex")
    for kind in ("telegram", "vk", "viber", "instagram"):
        caps = p.capabilities(kind, as_of=NOW)
        assert caps.window is None
        assert caps.requires_prior_inbound
        assert not caps.paid_modes
    wa = p.capabilities("whatsapp", as_of=NOW)
    assert wa.tiers is not None
    assert wa.tiers.limits == (1000, 10_000, 100_000)
    assert wa.tiers.upgrade_factor == 2.0
    assert wa.tiers.upgrade_lookback == timedelta(days=7)
    assert wa.tiers.upgrade_delay == timedelta(hours=48)
    assert Mode.TEMPLATE in wa.paid_modes


def test_expertconnect_profile_has_c1_c2_b11_b12() -> None:
    caps = load_profile("expertconnect").capabilities("sms", as_of=NOW)
    assert caps.content.text_max == 240  # C1
    assert caps.content.media.value == "link"  # C2
    assert caps.daily_recipient_cap == 1500  # B11
    assert caps.double_opt_in is not None  # B12
    assert caps.double_opt_in.yes_replies == {"S"}
    assert caps.double_opt_in.reminder_after == timedelta(hours=24)


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError, match="respondio"):
        load_profile("nosuch")


def test_unknown_channel_kind_is_a_lookup_error_naming_the_kinds() -> None:
    p = load_profile("respondio")
    with pytest.raises(UnknownChannelError, match="unknown channel kind 'fax'"):
        p.capabilities("fax", as_of=NOW)
    with pytest.raises(LookupError, match="does not define channel 'vk'"):
        p.capabilities("vk", as_of=NOW)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="as_of"):
        load_profile("respondio").capabilities("whatsapp", as_of=datetime(2026, 1, 1))


def test_malformed_profile_file_names_file_key_path_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\n'
        "[channels.wechat]\n"
        'window = "48 hours please"\n'
        'window_outbound_cap = "twenty"\n'
        "[channels.wechat.content]\n"
        "text_maxx = 5\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message
    paths = {p for p, _ in info.value.problems}
    assert paths == {
        "channels.wechat.window",
        "channels.wechat.window_outbound_cap",
        "channels.wechat.content.text_maxx",
    }
    assert "invalid duration" in message


def test_profile_file_that_is_not_toml_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(path)


def test_missing_profile_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read profile file"):
        load_profile(tmp_path / "absent.toml")


def test_unknown_channel_key_in_a_file_is_reported_by_path() -> None:
    with pytest.raises(ProfileError) as info:
        profile_from_dict({"name": "x", "channels": {"fax": {}}})
    assert info.value.problems[0][0].startswith("channels")


def test_derive_overrides_one_value_and_keeps_the_rest() -> None:
    """SPEC B16: a profile can switch broadcasting off for an account."""
    base = load_profile("livetex")
    basic = base.derive("livetex-basic", {"channels": {"telegram": {"broadcasts": False}}})
    assert basic.name == "livetex-basic"
    assert not basic.capabilities("telegram", as_of=NOW).broadcasts
    assert basic.capabilities("telegram", as_of=NOW).requires_prior_inbound
    assert base.capabilities("telegram", as_of=NOW).broadcasts


def test_derive_with_a_bad_override_names_the_path() -> None:
    with pytest.raises(ProfileError, match=r"channels\.viber\.chatbot_free_per_month"):
        load_profile("respondio").derive(
            "bad", {"channels": {"viber": {"chatbot_free_per_month": "many"}}}
        )


def test_a_profile_file_can_extend_a_builtin(tmp_path: Path) -> None:
    path = tmp_path / "ours.toml"
    path.write_text(
        'name = "ours"\nextends = "respondio"\n[channels.viber]\nchatbot_free_per_month = 0\n',
        encoding="utf-8",
    )
    ours = load_profile(path)
    assert ours.capabilities("viber", as_of=NOW).chatbot_free_per_month == 0
    assert ours.capabilities("wechat", as_of=NOW).window_outbound_cap == 20


DATED = {
    "name": "wechat-dated",
    "channels": {
        "wechat": {
            "window": "48h",
            "window_outbound_cap": [
                {"value": 20, "effective_to": date(2023, 6, 12), "source": "WeChat docs, old"},
                {"value": 5, "effective_from": date(2023, 6, 12), "source": "WeChat docs, new"},
            ],
        }
    },
}


def test_dated_values_are_resolved_as_of_the_instant() -> None:
    """SPEC section 7 (P8): WeChat's cap was 20 until 2023-06-11 and 5 from 2023-06-12."""
    p = profile_from_dict(DATED)
    before = p.capabilities("wechat", as_of=datetime(2023, 6, 11, 23, 59, tzinfo=UTC))
    after = p.capabilities("wechat", as_of=date(2023, 6, 12))
    assert before.window_outbound_cap == 20
    assert after.window_outbound_cap == 5
    assert "WeChat docs, new" in after.sources


def test_capabilities_are_cached_per_dated_period() -> None:
    p = profile_from_dict(DATED)
    a = p.capabilities("wechat", as_of=datetime(2024, 1, 1, tzinfo=UTC))
    b = p.capabilities("wechat", as_of=datetime(2025, 1, 1, tzinfo=UTC))
    assert a is b


def test_overlapping_dated_entries_are_refused() -> None:
    bad = {
        "name": "x",
        "channels": {
            "wechat": {
                "window_outbound_cap": [
                    {"value": 20, "effective_to": date(2023, 6, 13)},
                    {"value": 5, "effective_from": date(2023, 6, 12)},
                ]
            }
        },
    }
    with pytest.raises(ProfileError, match="overlap"):
        profile_from_dict(bad)


def test_a_date_with_no_value_in_force_is_a_configuration_error() -> None:
    gap = {
        "name": "x",
        "channels": {
            "wechat": {"window_outbound_cap": [{"value": 5, "effective_from": date(2023, 6, 12)}]}
        },
    }
    p = profile_from_dict(gap)
    with pytest.raises(ConfigurationError, match="window_outbound_cap: no value in force"):
        p.capabilities("wechat", as_of=date(2020, 1, 1))


@pytest.mark.parametrize(
    ("channel", "path"),
    [
        ({"window": "-24h"}, "channels.wechat.window"),
        ({"window": True}, "channels.wechat.window"),
        ({"window": float("inf")}, "channels.wechat.window"),
        ({"window": "9999999999999d"}, "channels.wechat.window"),
        ({"window_outbound_cap": -1}, "channels.wechat.window_outbound_cap"),
        ({"window_outbound_cap": True}, "channels.wechat.window_outbound_cap"),
        ({"broadcasts": "yes"}, "channels.wechat.broadcasts"),
        ({"rate_per_second": 0}, "channels.wechat.rate_per_second"),
        ({"content": {"text_max": True}}, "channels.wechat.content.text_max"),
        ({"content": {"voice_max": "none"}}, "channels.wechat.content.voice_max"),
        ({"tiers": {"limits": []}}, "channels.wechat.tiers.limits"),
        (
            {"double_opt_in": {"reminder_after": "none"}},
            "channels.wechat.double_opt_in.reminder_after",
        ),
        ({"double_opt_in": {"yes_replies": []}}, "channels.wechat.double_opt_in.yes_replies"),
        ({"quiet_hours": {"start": 8, "end": "21:00"}}, "channels.wechat.quiet_hours.start"),
        ({"content": []}, "channels.wechat.content"),
    ],
)
def test_out_of_range_and_mistyped_values_are_profile_errors_at_their_path(
    channel: dict[str, object], path: str
) -> None:
    with pytest.raises(ProfileError) as info:
        profile_from_dict({"name": "x", "channels": {"wechat": channel}})
    assert path in {p for p, _ in info.value.problems}


def test_a_file_that_is_not_utf8_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(path)


def test_profiles_that_extend_each_other_are_a_profile_error(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "a"\nextends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('name = "b"\nextends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="extend each other"):
        load_profile(tmp_path / "a.toml")


def test_extends_a_file_relative_to_the_extending_file(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(
        'name = "base"\n[channels.sms]\ndaily_recipient_cap = 10\n', encoding="utf-8"
    )
    (tmp_path / "top.toml").write_text('name = "top"\nextends = "base.toml"\n', encoding="utf-8")
    top = load_profile(tmp_path / "top.toml")
    assert top.capabilities("sms", as_of=NOW).daily_recipient_cap == 10


def test_derive_with_overrides_that_are_not_a_table_is_a_profile_error() -> None:
    with pytest.raises(ProfileError, match="overrides must be a table"):
        load_profile("respondio").derive("x", ["not", "a", "table"])  # type: ignore[arg-type]


@pytest.mark.parametrize("as_of", ["2026-01-01", None, 20260101])
def test_as_of_that_is_neither_datetime_nor_date_is_an_input_error(as_of: object) -> None:
    with pytest.raises(InputError, match="as_of"):
        load_profile("respondio").capabilities("sms", as_of=as_of)  # type: ignore[arg-type]


def test_a_profile_does_not_change_when_its_source_dict_does() -> None:
    data = {"name": "x", "channels": {"sms": {"content": {"text_max": 240}}}}
    profile = profile_from_dict(data)
    data["channels"]["sms"]["content"]["text_max"] = 5  # type: ignore[index]
    derived = profile.derive("y")
    assert derived.capabilities("sms", as_of=NOW).content.text_max == 240


def test_builtin_profiles_are_loaded_once_and_shared() -> None:
    assert load_profile("respondio") is load_profile("respondio")
    a = load_profile("respondio").capabilities("sms", as_of=NOW)
    assert a is load_profile("respondio").capabilities("sms", as_of=NOW)


def test_every_builtin_channel_resolves_to_valid_limits() -> None:
    """The shipped data passes the same checks a user's file does, and means something."""
    for name in builtin_profile_names():
        profile = load_profile(name)
        for kind in profile.kinds:
            caps = profile.capabilities(kind, as_of=NOW)
            assert caps.window is None or caps.window > timedelta(0)
            assert caps.sources, f"{name}.{kind.value} names no source"
            if caps.extended_window is not None:
                assert caps.window is not None
                assert caps.extended_window > caps.window


def test_w8_changing_a_profiles_raw_data_changes_no_profile() -> None:
    # Built-in profiles are loaded once and shared (a test suite's fixtures too):
    # what `raw` returns is a copy, so writing to it cannot reach another user.
    official = load_profile("official")
    raw = official.raw
    raw["channels"]["wechat"]["window_outbound_cap"] = 999
    raw["channels"]["sms"]["quiet_hours"]["start"] = "00:00"
    assert load_profile("official").raw["channels"]["sms"]["quiet_hours"]["start"] == "08:00"
    derived = official.derive("mine", overrides={"channels": {"sms": {"window": "1h"}}})
    assert derived.raw["channels"]["sms"]["quiet_hours"]["start"] == "08:00"
    derived.raw["channels"]["sms"]["quiet_hours"]["start"] = "01:00"
    assert official.raw["channels"]["sms"]["quiet_hours"]["start"] == "08:00"
