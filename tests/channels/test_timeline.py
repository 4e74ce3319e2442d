"""A profile's dated rules in time (SPEC section 7, P1-P16): periods, views, the rules page."""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels import ChannelKind
from omnimsg.channels.registry import Profile, load_profile, profile_from_dict
from omnimsg.channels.timeline import (
    ChannelTimeline,
    _plain,
    channel_timeline,
    instant_text,
    platform_rules_markdown,
    rules_as_of,
    value_text,
)
from omnimsg.errors import (
    InputError,
    NaiveDatetimeError,
    ProfileError,
    UnknownChannelError,
)

PAGE = Path(__file__).parent.parent.parent / "docs" / "platform-rules.md"
REGENERATE = "omnimsg rules --markdown > docs/platform-rules.md"
CHANGE = datetime(2023, 6, 12, tzinfo=UTC)
TICK = timedelta(microseconds=1)
FLORIDA = {
    "area_codes": ["305", "786"],
    "quiet_hours": {"start": "08:00", "end": "20:00"},
    "frequency_cap": {"messages": 3, "period": "24h"},
}
SMALL: dict[str, Any] = {
    "name": "small",
    "description": "A few dated rules",
    "sources": ["SPEC section 7"],
    "channels": {
        "wechat": {
            "sources": ["P8", "WeChat customer-service docs"],
            "window": "48h",
            "window_outbound_cap": [
                {"value": 20, "effective_to": date(2023, 6, 12), "source": "WeChat docs, old"},
                {
                    "value": 5,
                    "effective_from": date(2023, 6, 12),
                    "source": "WeChat docs, new",
                    "uncertain": True,
                },
            ],
        },
        "sms": {
            "sources": ["P12"],
            "uncertain": ["quiet_hours"],
            "quiet_hours": {"start": "08:00", "end": "21:00"},
            "content": {"text_max": [{"value": 160, "source": "X3"}]},
            "tiers": {
                "limits": [
                    {"value": [1000, 10000], "effective_to": date(2023, 11, 1)},
                    {"value": [250, 1000], "effective_from": date(2023, 11, 1), "source": "v2"},
                ]
            },
            "regions": {
                "US-FL": [{"value": FLORIDA, "effective_from": date(2021, 7, 1), "source": "FL"}]
            },
            "keywords": [
                {
                    "value": {"en": {"opt_out": ["STOP"]}},
                    "effective_to": date(2025, 4, 11),
                    "source": "CTIA",
                },
                {
                    "value": {"es": {"opt_out": ["PARAR"]}, "en": {"opt_out": ["STOP", "REVOKE"]}},
                    "effective_from": date(2025, 4, 11),
                    "source": "47 CFR 64.1200",
                },
            ],
        },
        "google_business": {
            "retired": [
                {"value": False, "effective_to": date(2024, 7, 31), "source": "in service"},
                {
                    "value": True,
                    "effective_from": date(2024, 7, 31),
                    "source": "Shut down: https://developers.google.com/business-communications",
                },
            ]
        },
    },
}


@pytest.fixture(scope="module")
def small() -> Profile:
    return profile_from_dict(SMALL)


def test_p8_a_dated_setting_has_one_period_per_entry_with_its_source(small: Profile) -> None:
    """SPEC P8: WeChat's cap was 20 until 2023-06-11 and is 5 from 2023-06-12."""
    cap = channel_timeline(small, "wechat").periods_of("window_outbound_cap")
    assert [(p.start, p.end, p.value) for p in cap] == [(None, CHANGE, 20), (CHANGE, None, 5)]
    assert [(p.source, p.uncertain, p.default) for p in cap] == [
        ("WeChat docs, old", False, False),
        ("WeChat docs, new", True, False),
    ]


def test_a_plain_setting_is_one_open_period_with_the_channels_sources(small: Profile) -> None:
    (window,) = channel_timeline(small, "wechat").periods_of("window")
    assert (window.start, window.end, window.value) == (None, None, "48h")
    assert window.source == "P8; WeChat customer-service docs"
    assert not window.default


def test_settings_the_profile_does_not_state_are_defaults_without_a_source(
    small: Profile,
) -> None:
    (tag,) = channel_timeline(small, "wechat").periods_of("extended_window_tag")
    assert (tag.value, tag.source, tag.default) == (None, None, True)


def test_p12_settings_are_named_by_dotted_paths_in_the_formats_order(small: Profile) -> None:
    """Nested parts become ``content.*`` and ``tiers.*``, regions one setting each (P12)."""
    settings = channel_timeline(small, "sms").settings
    assert settings[:2] == ("window", "requires_prior_inbound")
    for path in ("content.text_max", "tiers.limits", "regions.US-FL", "keywords", "quiet_hours"):
        assert path in settings
    assert settings.index("content.text_max") < settings.index("tiers.limits")
    assert "sources" not in settings
    assert "uncertain" not in settings


def test_values_are_plain_data_fit_for_json(small: Profile) -> None:
    """Durations as profiles write them, times ``HH:MM``, tables with sorted keys."""
    timeline = channel_timeline(small, "sms")
    (hours,) = timeline.periods_of("quiet_hours")
    assert hours.value == {"start": "08:00", "end": "21:00"}
    assert hours.uncertain  # named in the channel's `uncertain` list
    (florida,) = timeline.periods_of("regions.US-FL")
    assert florida.value["frequency_cap"] == {"messages": 3, "period": "24h"}
    later = timeline.periods_of("keywords")[1].value
    assert list(later) == ["en", "es"]
    assert later["en"] == {"opt_out": ["STOP", "REVOKE"], "opt_in": [], "help": []}
    assert json.loads(json.dumps([p.value for p in timeline.periods])) == [
        p.value for p in timeline.periods
    ]


def test_a_gap_between_entries_is_refused_so_periods_always_meet() -> None:
    """Gaps are impossible by the schema: a profile with one does not load."""
    gapped = {
        "name": "gapped",
        "channels": {
            "wechat": {
                "window_outbound_cap": [
                    {"value": 20, "effective_to": date(2023, 6, 1)},
                    {"value": 5, "effective_from": date(2023, 6, 12)},
                ]
            }
        },
    }
    with pytest.raises(ProfileError, match="gap"):
        profile_from_dict(gapped)


def _meet(timeline: ChannelTimeline) -> None:
    for setting in timeline.settings:
        periods = timeline.periods_of(setting)
        for a, b in itertools.pairwise(periods):
            assert a.end is not None
            assert a.end == b.start


def test_every_settings_periods_follow_each_other_without_gaps(small: Profile) -> None:
    for kind in small.kinds:
        _meet(channel_timeline(small, kind))


def test_p8_just_before_a_change_the_old_value_holds_and_the_change_is_next(
    small: Profile,
) -> None:
    view = rules_as_of(small, "wechat", CHANGE - TICK)
    (cap,) = [p for p in view.rules if p.setting == "window_outbound_cap"]
    assert cap.value == 20
    assert view.last_change == ()
    assert view.next_change_at == CHANGE
    (change,) = view.next_change
    assert change.setting == "window_outbound_cap"
    assert change.before is not None
    assert change.after is not None
    assert (change.before.value, change.after.value) == (20, 5)
    assert change.value_changed


def test_p8_at_the_change_the_new_value_holds_and_the_change_is_the_last(
    small: Profile,
) -> None:
    view = rules_as_of(small, "wechat", date(2023, 6, 12))
    assert view.at == CHANGE
    assert [p.value for p in view.rules if p.setting == "window_outbound_cap"] == [5]
    assert view.last_change_at == CHANGE
    assert view.next_change == ()


def test_p8_after_the_change_it_stays_the_last_one(small: Profile) -> None:
    view = rules_as_of(small, "wechat", CHANGE + TICK)
    assert [p.value for p in view.rules if p.setting == "window_outbound_cap"] == [5]
    assert view.last_change_at == CHANGE
    assert view.next_change_at is None


def test_as_of_is_compared_as_an_instant_in_any_offset(small: Profile) -> None:
    """01:00 at +02:00 on the day of the change is still the day before in UTC."""
    at = datetime(2023, 6, 12, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    view = rules_as_of(small, "wechat", at)
    assert view.at == datetime(2023, 6, 11, 23, 0, tzinfo=UTC)
    assert [p.value for p in view.rules if p.setting == "window_outbound_cap"] == [20]


def test_p12_a_region_is_absent_before_its_law_and_starts_from_no_value(
    small: Profile,
) -> None:
    """SPEC P12: Florida's rules from 2021-07-01."""
    start = datetime(2021, 7, 1, tzinfo=UTC)
    before = rules_as_of(small, "sms", start - TICK)
    assert "regions.US-FL" not in {p.setting for p in before.rules}
    assert [(c.setting, c.before) for c in before.next_change] == [("regions.US-FL", None)]
    after = rules_as_of(small, "sms", start)
    assert "regions.US-FL" in {p.setting for p in after.rules}
    assert after.last_change_at == start


def test_p15_a_retired_channel_is_retired_from_its_date(small: Profile) -> None:
    """SPEC P15: Google Business Messages shut down 2024-07-31."""
    timeline = channel_timeline(small, "google_business")
    retirement = timeline.retirement
    assert retirement is not None
    assert retirement.start == datetime(2024, 7, 31, tzinfo=UTC)
    assert timeline.as_of(date(2024, 7, 30)).retired is None
    assert timeline.as_of(date(2024, 7, 30)).next_change[0].setting == "retired"
    assert timeline.as_of(date(2024, 7, 31)).retired == retirement
    assert channel_timeline(small, "wechat").retirement is None


def test_changes_are_sorted_by_instant_and_each_ends_one_period_and_starts_the_next(
    small: Profile,
) -> None:
    changes = channel_timeline(small, "sms").changes
    assert [c.at for c in changes] == sorted(c.at for c in changes)
    assert [(c.setting, instant_text(c.at)) for c in changes] == [
        ("regions.US-FL", "2021-07-01"),
        ("tiers.limits", "2023-11-01"),
        ("keywords", "2025-04-11"),
    ]


@pytest.mark.parametrize(
    "as_of", [date(1, 1, 1), date(9999, 12, 31), datetime.max.replace(tzinfo=UTC)]
)
def test_the_ends_of_the_date_range_are_views_like_any_other(small: Profile, as_of: date) -> None:
    view = rules_as_of(small, "wechat", as_of)
    assert {p.setting for p in view.rules} >= {"window", "window_outbound_cap"}


@pytest.mark.parametrize(
    ("as_of", "error"),
    [
        (datetime(2024, 5, 1), NaiveDatetimeError),
        (None, InputError),
        ("2024-05-01", InputError),
        ("\x00", InputError),
        ("x" * 100_000, InputError),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), InputError),
        (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), InputError),
    ],
)
def test_a_bad_as_of_is_an_omnimsg_error(small: Profile, as_of: Any, error: type) -> None:
    with pytest.raises(error):
        rules_as_of(small, "wechat", as_of)


@pytest.mark.parametrize("kind", ["\x00", "x" * 100_000, "fax", None, 5, "", "wechat\x00"])
def test_an_unknown_channel_kind_is_an_unknown_channel_error(small: Profile, kind: Any) -> None:
    with pytest.raises(UnknownChannelError):
        channel_timeline(small, kind)


def test_a_channel_the_profile_does_not_define_is_named_with_those_it_does(
    small: Profile,
) -> None:
    with pytest.raises(UnknownChannelError, match=r"does not define channel 'vk'.*wechat"):
        channel_timeline(small, ChannelKind.VK)


@pytest.mark.parametrize("profile", [None, "official", {"name": "x"}, "\x00"])
def test_something_that_is_not_a_profile_is_refused(profile: Any) -> None:
    with pytest.raises(InputError):
        channel_timeline(profile, "wechat")
    with pytest.raises(InputError):
        platform_rules_markdown(profile)


@given(
    bounds=st.lists(
        st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
        min_size=0,
        max_size=5,
        unique=True,
    ),
    offset=st.integers(min_value=-2, max_value=2),
    pick=st.integers(min_value=0, max_value=10),
)
def test_p8_the_view_agrees_with_the_registry_at_every_instant(
    bounds: list[date], offset: int, pick: int
) -> None:
    """One fact, two readers: the view and ``Profile.capabilities`` pick the same value."""
    edges = sorted(bounds)
    spans = list(zip([None, *edges], [*edges, None], strict=True))
    entries = [
        {
            "value": i + 1,
            **({"effective_from": s} if s is not None else {}),
            **({"effective_to": e} if e is not None else {}),
        }
        for i, (s, e) in enumerate(spans)
    ]
    profile = profile_from_dict(
        {"name": "random", "channels": {"wechat": {"window_outbound_cap": entries}}}
    )
    anchor = edges[pick % len(edges)] if edges else date(2020, 1, 1)
    at = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC) + offset * TICK
    view = rules_as_of(profile, "wechat", at)
    (cap,) = [p for p in view.rules if p.setting == "window_outbound_cap"]
    assert cap.value == profile.capabilities("wechat", as_of=at).window_outbound_cap
    assert cap.covers(at)
    if view.last_change_at is not None:
        assert view.last_change_at <= at
    if view.next_change_at is not None:
        assert view.next_change_at > at
    assert len(view.last_change) <= 1
    assert len(view.next_change) <= 1


def _resolved(caps: Any, path: str) -> Any:
    value = caps
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_p1_to_p15_the_official_profile_agrees_with_the_registry_on_every_day_it_changes() -> None:
    """Every period in force on a change day (and the day before) is the value the
    registry resolves there, for every plain setting of every official channel."""
    profile = load_profile("official")
    for kind in profile.kinds:
        timeline = channel_timeline(profile, kind)
        _meet(timeline)
        days = {c.at for c in timeline.changes} | {datetime(2026, 1, 1, tzinfo=UTC)}
        for day in sorted(days | {d - TICK for d in days}):
            caps = profile.capabilities(kind, as_of=day)
            for period in timeline.as_of(day).rules:
                if period.default or period.setting.startswith(("regions.", "keywords")):
                    continue
                resolved = _resolved(caps, period.setting)
                if resolved is None or isinstance(resolved, bool | int | float | str):
                    assert _plain(resolved) == period.value, (kind, period.setting, day)


def test_p3_the_official_whatsapp_limits_are_v1_then_v2_then_v3() -> None:
    """SPEC P2-P4: limits v1 until 2023-10-31, v2 from 2023-11-01, v3 from 2025-10-07."""
    profile = load_profile("official")
    versions = channel_timeline(profile, "whatsapp").periods_of("tiers.version")
    assert [(instant_text(p.start), instant_text(p.end), p.value) for p in versions] == [
        ("-", "2023-11-01", "v1"),
        ("2023-11-01", "2025-10-07", "v2"),
        ("2025-10-07", "-", "v3"),
    ]


# Text and Markdown -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "-"),
        (True, "yes"),
        (4096, "4,096"),
        (0.5, "0.5"),
        ([250, 1000], "250 / 1,000"),
        ([], "-"),
        ("", "''"),
        ({"start": "08:00", "cap": {"messages": 3}}, "start: 08:00; cap: {messages: 3}"),
    ],
)
def test_values_read_as_words(value: Any, words: str) -> None:
    assert value_text(value) == words


def test_instants_read_as_days_at_midnight_utc_and_in_full_otherwise() -> None:
    assert instant_text(None) == "-"
    assert instant_text(datetime(2023, 11, 1, tzinfo=UTC)) == "2023-11-01"
    assert instant_text(datetime(2023, 11, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == (
        "2023-11-01"
    )
    assert instant_text(datetime(2023, 11, 1, 12, tzinfo=UTC)) == "2023-11-01T12:00:00+00:00"


def _rows(page: str, heading: str) -> list[str]:
    lines = page.splitlines()
    start = lines.index(heading)
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("| "):
            rows.append(line)
    return rows


def _cells(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_p15_the_page_has_one_table_per_channel_and_marks_retirement(small: Profile) -> None:
    page = platform_rules_markdown(small)
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings == [  # ChannelKind order, whatever the file's order
        "## WeChat (`wechat`)",
        "## SMS (`sms`)",
        "## Google Business Messages (`google_business`)",
    ]
    assert "**Retired** from 2024-07-31. Shut down: <https://developers.google.com/" in page
    wechat = _rows(page, "## WeChat (`wechat`)")
    assert wechat[0] == "| setting | value | from | to | source |"
    assert "| `window_outbound_cap` | `5` (u) | 2023-06-12 | - | WeChat docs, new |" in wechat
    assert not any("extended_window" in row for row in wechat)  # defaults are left out


def test_hostile_text_in_a_profile_cannot_break_the_tables() -> None:
    """Pipes, newlines, backticks and markup in sources and keys stay inside their cell."""
    hostile = "a | b\nc `x` ``y`` <script> *bold* [link](javascript:x) \x1b[2J"
    data = {
        "name": "hostile",
        "description": "# not a heading\n| not | a | row |",
        "channels": {
            "sms": {
                "sources": [hostile],
                "window": [{"value": "24h", "source": hostile + " https://example.com/a|b"}],
                "regions": {"X|`y`\n": [{"value": FLORIDA, "source": hostile}]},
            }
        },
    }
    page = platform_rules_markdown(profile_from_dict(data))
    assert "\x1b" not in page
    assert "<script>" not in page
    rows = _rows(page, "## SMS (`sms`)")
    assert len(rows) == 4  # header, rule, window, regions
    assert all(_cells(row) == 5 for row in rows)
    assert "<https://example.com/a>" in page
    assert not any(line.startswith(("# not", "| not")) for line in page.splitlines())


@pytest.mark.parametrize(
    "source",
    [
        "https://example.com/a" + ")" * 100_000,
        "(" * 50_000 + "https://x.org/" + ")" * 50_000,
        "https://" * 20_000,
        "`" * 100_000,
        "x" * 100_000 + "\x00",
    ],
)
def test_a_huge_source_is_written_in_linear_time(source: str) -> None:
    """Bounded everywhere: 100,000 characters of one source take well under a second."""
    data = {"name": "huge", "channels": {"sms": {"window": [{"value": "24h", "source": source}]}}}
    profile = profile_from_dict(data)
    started = time.perf_counter()
    page = platform_rules_markdown(profile)
    assert time.perf_counter() - started < 1.0
    assert all(_cells(row) == 5 for row in _rows(page, "## SMS (`sms`)"))


def test_the_page_is_the_same_for_the_same_data_in_any_order(small: Profile) -> None:
    reordered = dict(SMALL)
    reordered["channels"] = dict(reversed(list(SMALL["channels"].items())))
    assert platform_rules_markdown(profile_from_dict(reordered)) == platform_rules_markdown(small)


def test_docs_platform_rules_md_is_the_page_of_the_official_profile() -> None:
    """SPEC section 7: the published page is the data, not a copy that drifts."""
    profile = load_profile("official")
    expected = platform_rules_markdown(profile)
    written = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    assert written == expected, (
        f"{PAGE.name} differs from the official profile; regenerate it: {REGENERATE}"
    )


def test_a_period_refuses_a_naive_or_missing_instant() -> None:
    """Naive datetimes are refused, never guessed."""
    from omnimsg import InputError
    from omnimsg.channels.timeline import RulePeriod

    period = RulePeriod("window", None, None, "24h", None, False)
    for bad in (datetime(2020, 1, 1), "x", None):
        with pytest.raises(InputError):
            period.covers(bad)  # type: ignore[arg-type]
