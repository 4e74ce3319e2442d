"""Dated rules in profiles (SPEC section 7): periods without gaps or overlaps, sources
and uncertain values carried to the capabilities, regions and keyword sets by date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from omnimsg import ConfigurationError, ProfileError, profile_from_dict
from omnimsg.channels.capabilities import FrequencyLimit, QuietHours, RegionRule


def _sms(settings: dict[str, object]) -> dict[str, object]:
    return {"name": "dated", "channels": {"sms": settings}}


def _cap(*entries: dict[str, object]) -> dict[str, object]:
    return _sms({"window_outbound_cap": list(entries)})


def test_p8_a_gap_between_two_periods_is_refused_naming_both() -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(
            _cap(
                {"value": 20, "effective_to": date(2023, 6, 11)},
                {"value": 5, "effective_from": date(2023, 6, 12)},
            )
        )
    text = str(caught.value)
    assert "window_outbound_cap" in text
    assert "gap" in text
    assert "entry 1 (the beginning to 2023-06-11)" in text
    assert "entry 2 (2023-06-12 to no end)" in text


def test_p8_an_overlap_between_two_periods_is_refused_naming_both() -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_dict(
            _cap(
                {"value": 5, "effective_from": date(2023, 6, 12)},
                {"value": 20, "effective_to": date(2023, 6, 13)},
            )
        )
    text = str(caught.value)
    assert "overlap" in text
    # Entries are named by their place in the file, whatever order they are given in.
    assert "entry 2 (the beginning to 2023-06-13)" in text
    assert "entry 1 (2023-06-12 to no end)" in text


def test_p8_periods_that_meet_exactly_are_accepted() -> None:
    profile = profile_from_dict(
        _cap(
            {"value": 20, "effective_to": date(2023, 6, 12)},
            {"value": 5, "effective_from": date(2023, 6, 12)},
        )
    )
    assert profile.capabilities("sms", as_of=date(2023, 6, 11)).window_outbound_cap == 20
    assert profile.capabilities("sms", as_of=date(2023, 6, 12)).window_outbound_cap == 5


def test_a_value_may_start_late_and_end_early_but_is_refused_outside_its_periods() -> None:
    profile = profile_from_dict(
        _cap(
            {"value": 20, "effective_from": date(2020, 1, 1), "effective_to": date(2021, 1, 1)},
            {"value": 5, "effective_from": date(2021, 1, 1), "effective_to": date(2022, 1, 1)},
        )
    )
    assert profile.capabilities("sms", as_of=date(2021, 12, 31)).window_outbound_cap == 5
    for outside in (date(2019, 12, 31), date(2022, 1, 1)):
        with pytest.raises(ConfigurationError, match="no value in force"):
            profile.capabilities("sms", as_of=outside)


def test_uncertain_values_in_force_are_named_in_the_capabilities() -> None:
    profile = profile_from_dict(
        _sms(
            {
                "rate_per_second": [
                    {"value": 1, "effective_to": date(2024, 1, 1), "source": "old"},
                    {
                        "value": 3,
                        "effective_from": date(2024, 1, 1),
                        "source": "new",
                        "uncertain": True,
                    },
                ],
                "uncertain": ["quiet_hours"],
            }
        )
    )
    before = profile.capabilities("sms", as_of=date(2023, 12, 31))
    after = profile.capabilities("sms", as_of=date(2024, 1, 1))
    assert before.uncertain == ("quiet_hours",)
    assert after.uncertain == ("quiet_hours", "rate_per_second")
    assert after.sources == ("new",)


def test_uncertain_must_be_a_boolean() -> None:
    with pytest.raises(ProfileError, match="uncertain"):
        profile_from_dict(_cap({"value": 3, "uncertain": "yes"}))


FLORIDA = {
    "value": {
        "country": "US",
        "area_codes": ["305", "786"],
        "quiet_hours": {"start": "08:00", "end": "20:00"},
        "frequency_cap": {"messages": 3, "period": "24h"},
    },
    "effective_from": date(2021, 7, 1),
    "source": "Fla. Stat. 501.059",
}


def test_p12_a_region_is_absent_before_its_rule_and_present_from_its_date() -> None:
    profile = profile_from_dict(_sms({"regions": {"US-FL": [FLORIDA]}}))
    assert dict(profile.capabilities("sms", as_of=date(2021, 6, 30)).regions) == {}
    caps = profile.capabilities("sms", as_of=date(2021, 7, 1))
    assert caps.regions["US-FL"] == RegionRule(
        country="US",
        area_codes=frozenset({"305", "786"}),
        quiet_hours=QuietHours(
            start=datetime(2021, 1, 1, 8, tzinfo=UTC).time(),
            end=datetime(2021, 1, 1, 20, tzinfo=UTC).time(),
        ),
        frequency_cap=FrequencyLimit(messages=3, period=timedelta(hours=24)),
    )
    assert "Fla. Stat. 501.059" in caps.sources


def test_p12_a_region_may_end_with_the_value_none() -> None:
    ended = {"value": None, "effective_from": date(2030, 1, 1), "source": "repeal"}
    first = dict(FLORIDA, effective_to=date(2030, 1, 1))
    profile = profile_from_dict(_sms({"regions": {"US-FL": [first, ended]}}))
    assert "US-FL" in profile.capabilities("sms", as_of=date(2029, 12, 31)).regions
    assert "US-FL" not in profile.capabilities("sms", as_of=date(2030, 1, 1)).regions


@pytest.mark.parametrize(
    ("region", "words"),
    [
        ({"area_codes": []}, "area_codes"),
        ({"area_codes": ["30a"]}, "area_codes"),
        ({"area_codes": ["305"], "country": "USA"}, "country"),
        ({"area_codes": ["305"], "frequency_cap": {"messages": 0, "period": "24h"}}, "messages"),
    ],
)
def test_p12_a_bad_region_is_refused_at_load(region: dict[str, object], words: str) -> None:
    with pytest.raises(ProfileError, match=words):
        profile_from_dict(_sms({"regions": {"US-FL": region}}))


def test_p13_keyword_sets_change_as_a_whole_on_their_date() -> None:
    profile = profile_from_dict(
        _sms(
            {
                "keywords": [
                    {"value": {"en": {"opt_out": ["STOP"]}}, "effective_to": date(2025, 4, 11)},
                    {
                        "value": {
                            "en": {"opt_out": ["STOP", "REVOKE"]},
                            "es": {"opt_out": ["ALTO"]},
                        },
                        "effective_from": date(2025, 4, 11),
                    },
                ]
            }
        )
    )
    before = profile.capabilities("sms", as_of=date(2025, 4, 10)).keywords
    after = profile.capabilities("sms", as_of=date(2025, 4, 11)).keywords
    assert set(before) == {"en"}
    assert "REVOKE" not in before["en"].opt_out
    assert set(after) == {"en", "es"}
    assert "REVOKE" in after["en"].opt_out


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"opt_out_scope": "everything"}, "opt_out_scope"),
        ({"account_rates": {"toll_free": 0}}, "account_rates"),
        ({"account_rates": {"toll_free": True}}, "account_rates"),
        ({"tiers": {"limits": [250], "quality_required": "medium"}}, "quality_required"),
        ({"unanswered_cap": 0}, "unanswered_cap"),
        ({"event_window": "-1m"}, "event_window"),
    ],
)
def test_bad_platform_settings_are_refused_at_load(settings: dict[str, object], words: str) -> None:
    with pytest.raises(ProfileError, match=words):
        profile_from_dict(_sms(settings))


def test_x1_p14_opt_out_scope_and_account_rates_resolve() -> None:
    caps = profile_from_dict(
        _sms({"opt_out_scope": "all", "account_rates": {"toll_free": 3, "short_code": 100}})
    ).capabilities("sms", as_of=date(2026, 1, 1))
    assert caps.opt_out_scope == "all"
    assert dict(caps.account_rates) == {"toll_free": 3.0, "short_code": 100.0}


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"unanswered_cap": 0}, "unanswered_cap"),
        ({"event_outbound_cap": -1}, "event_outbound_cap"),
        ({"monthly_quota": 0}, "monthly_quota"),
        ({"recipient_interval": timedelta(0)}, "recipient_interval"),
        ({"event_window": timedelta(seconds=-1)}, "event_window"),
        ({"group_rate_per_minute": float("inf")}, "group_rate_per_minute"),
        ({"group_rate_per_minute": 0.0}, "group_rate_per_minute"),
    ],
)
def test_p5_p8_p9_p10_p11_capabilities_refuse_values_no_rule_can_count(
    settings: dict[str, object], words: str
) -> None:
    """Built in code, not from a file: a cap below one, a duration that is not positive
    or a rate that is not a positive number is refused when the value is built."""
    from omnimsg import ChannelCapabilities, InputError

    with pytest.raises(InputError, match=words):
        ChannelCapabilities("viber", **settings)  # type: ignore[arg-type]
