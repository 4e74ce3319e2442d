"""``omnimsg rules``: a channel's dated rules on a day (SPEC section 7, P1-P16)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omnimsg.channels.registry import load_profile
from omnimsg.channels.timeline import platform_rules_markdown

from .conftest import Run

SMALL = """
name = "small"
sources = ["ours"]
[channels.wechat]
sources = ["P8"]
window = "48h"
window_outbound_cap = [
  { value = 20, effective_to = 2023-06-12, source = "WeChat docs | old" },
  { value = 5, effective_from = 2023-06-12, source = "WeChat docs, new", uncertain = true },
]
"""
LONG = "x" * 100_000


def _table(out: str, title: str) -> dict[str, list[str]]:
    """The rows under one table title: first cell -> the other cells (split on 2+ spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        cells = [cell for cell in line.split("  ") if cell.strip()]
        rows[cells[0].strip()] = [cell.strip() for cell in cells[1:]]
    return rows


def _document(run: Run, *args: str) -> dict[str, Any]:
    result = run("rules", *args, "--json")
    assert result.status == 0, result.err
    document: dict[str, Any] = json.loads(result.out)
    return document


def _rule(document: dict[str, Any], setting: str) -> Any:
    (rule,) = [r for r in document["rules"] if r["setting"] == setting]
    return rule


def test_p3_whatsapp_on_2024_05_01_has_limits_v2_changed_from_v1_and_v3_next(run: Run) -> None:
    """SPEC P2-P4: v1 before 2023-11-01, v2 in force on 2024-05-01, v3 from 2025-10-07."""
    result = run("rules", "whatsapp", "--as-of", "2024-05-01")
    assert result.status == 0, result.err
    assert result.out.startswith("official: whatsapp as of 2024-05-01\n")
    rules = _table(result.out, "rules in force")
    assert rules["tiers.version"][:3] == ["v2", "2023-11-01", "2025-10-07"]
    assert rules["tiers.limits"][0].startswith("250 / 1,000 / 10,000 / 100,000")
    assert rules["window"][:3] == ["24h", "-", "-"]  # P1
    assert rules["recipient_interval"][0] == "6s (u)"  # P5, (u) in SPEC
    last = _table(result.out, "last change: 2023-11-01")
    assert last["tiers.version"] == ["v1 (u)", "v2"]
    old, new = last["tiers.limits"]
    assert old.startswith("1,000 / 10,000 / 100,000")
    assert old.endswith("(u)")
    assert new.startswith("250 / 1,000 / 10,000 / 100,000")
    following = _table(result.out, "next change: 2025-10-07")
    assert following["tiers.version"] == ["v2", "v3"]
    assert following["tiers.scope"] == ["number", "portfolio"]  # P4: per portfolio


def test_p2_before_november_2023_limits_v1_are_in_force(run: Run) -> None:
    document = _document(run, "whatsapp", "--as-of", "2023-10-31")
    assert _rule(document, "tiers.version")["value"] == "v1"
    assert _rule(document, "tiers.limits")["value"][:3] == [1000, 10000, 100000]
    assert document["last_change"] is None
    assert document["next_change"]["at"] == "2023-11-01T00:00:00+00:00"


def test_p4_from_2025_10_07_limits_v3_are_in_force(run: Run) -> None:
    document = _document(run, "whatsapp", "--as-of", "2025-10-07")
    assert _rule(document, "tiers.version")["value"] == "v3"
    assert _rule(document, "tiers.limits")["value"][:4] == [250, 2000, 10000, 100000]
    assert document["last_change"]["at"] == "2025-10-07T00:00:00+00:00"


def test_rules_json_has_the_documented_shape(run: Run) -> None:
    document = _document(run, "whatsapp", "--as-of", "2024-05-01")
    assert list(document) == [
        "profile",
        "channel",
        "as_of",
        "retired",
        "rules",
        "last_change",
        "next_change",
    ]
    assert (document["profile"], document["channel"]) == ("official", "whatsapp")
    assert document["as_of"] == "2024-05-01T00:00:00+00:00"
    assert document["retired"] is None
    keys = ["setting", "value", "start", "end", "source", "uncertain"]
    assert all(list(rule) == keys for rule in document["rules"])
    assert _rule(document, "window")["value"] == "24h"  # durations as profiles write them
    limits = _rule(document, "tiers.limits")
    assert (limits["start"], limits["end"]) == (
        "2023-11-01T00:00:00+00:00",
        "2025-10-07T00:00:00+00:00",
    )
    assert list(document["last_change"]) == ["at", "changes"]
    (version,) = [c for c in document["last_change"]["changes"] if c["setting"] == "tiers.version"]
    assert list(version) == ["setting", "from", "to"]
    assert (version["from"]["value"], version["to"]["value"]) == ("v1", "v2")
    assert version["from"]["uncertain"] is True
    assert list(version["to"]) == keys


def test_p12_a_state_law_starts_from_no_value(run: Run) -> None:
    """SPEC P12: Florida's quiet hours and cap from 2021-07-01."""
    document = _document(run, "sms", "--as-of", "2021-07-01")
    (florida,) = document["last_change"]["changes"]
    assert florida["setting"] == "regions.US-FL"
    assert florida["from"] is None
    assert florida["to"]["value"]["quiet_hours"] == {"start": "08:00", "end": "20:00"}
    text = run("rules", "sms", "--as-of", "2021-07-01").out
    assert _table(text, "last change: 2021-07-01")["regions.US-FL"][0] == "(no value)"


def test_p15_google_business_messages_is_retired_from_2024_07_31(run: Run) -> None:
    """SPEC P15: shut down 2024-07-31."""
    before = _document(run, "google_business", "--as-of", "2024-07-30")
    assert before["retired"] is None
    after = _document(run, "google_business", "--as-of", "2024-08-01")
    assert after["retired"]["value"] is True
    assert after["retired"]["start"] == "2024-07-31T00:00:00+00:00"
    text = run("rules", "google_business", "--as-of", "2024-08-01").out
    assert text.splitlines()[1].startswith("retired since 2024-07-31: ")


def test_as_of_defaults_to_today_in_utc(run: Run) -> None:
    days = {datetime.now(UTC).date()}
    document = _document(run, "wechat")
    days.add(datetime.now(UTC).date())
    assert document["as_of"] in {f"{day.isoformat()}T00:00:00+00:00" for day in days}


def test_as_of_takes_an_instant_with_an_offset(run: Run) -> None:
    document = _document(run, "wechat", "--as-of", "2023-06-12T01:00+02:00")
    assert document["as_of"] == "2023-06-11T23:00:00+00:00"


def test_a_profile_file_and_a_change_that_only_adds_certainty(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    document = _document(run, "wechat", "--profile", str(path), "--as-of", "2023-06-12")
    assert document["profile"] == "small"
    assert _rule(document, "window")["source"] == "P8"
    (cap,) = document["last_change"]["changes"]
    assert (cap["from"]["value"], cap["to"]["value"]) == (20, 5)
    text = run("rules", "wechat", "--profile", str(path), "--as-of", "2023-06-11").out
    assert _table(text, "rules in force")["window_outbound_cap"][-1] == "WeChat docs | old"
    assert _table(text, "next change: 2023-06-12")["window_outbound_cap"] == ["20", "5 (u)"]


def test_markdown_prints_the_page_of_the_profile(run: Run) -> None:
    result = run("rules", "--markdown")
    assert result.status == 0, result.err
    assert result.out == platform_rules_markdown(load_profile("official"))


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("whatsapp", "--markdown"), "CHANNEL"),
        (("--markdown", "--as-of", "2024-05-01"), "--as-of"),
        (("--markdown", "--json"), "--json"),
        ((), "CHANNEL"),
    ],
)
def test_markdown_and_a_missing_channel_are_usage_errors(
    run: Run, args: tuple[str, ...], flag: str
) -> None:
    result = run("rules", *args)
    assert (result.status, result.out) == (2, "")
    assert result.err.startswith(f"omnimsg: error: {flag}: ")


def test_an_unknown_channel_is_status_3(run: Run) -> None:
    result = run("rules", "fax", "--as-of", "2024-05-01")
    assert (result.status, result.out) == (3, "")
    assert "unknown channel kind 'fax'" in result.err


def test_a_channel_the_profile_does_not_define_is_status_3_naming_those_it_does(
    run: Run,
) -> None:
    result = run("rules", "vk", "--as-of", "2024-05-01")
    assert result.status == 3
    assert "profile 'official' does not define channel 'vk'; it defines: whatsapp" in result.err


@pytest.mark.parametrize("value", ["2024-13-01", "yesterday", "2024-05-01T00:00", LONG, "\x00"])
def test_a_bad_date_is_a_usage_error_naming_the_flag(run: Run, value: str) -> None:
    result = run("rules", "whatsapp", "--as-of", value)
    assert (result.status, result.out) == (2, "")
    assert result.err.startswith("omnimsg: error: --as-of: ")
    assert len(result.err) < 500


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "9999-12-31T23:59:59.999999Z"])
def test_the_ends_of_the_date_range_are_shown(run: Run, value: str) -> None:
    document = _document(run, "whatsapp", "--as-of", value)
    assert document["rules"]
    if value.startswith("0001"):
        assert document["last_change"] is None
    else:
        assert document["next_change"] is None


def test_an_instant_beyond_year_9999_in_utc_is_a_usage_error(run: Run) -> None:
    result = run("rules", "whatsapp", "--as-of", "9999-12-31T23:00-05:00")
    assert result.status == 2
    assert "--as-of" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("\x00",),
        ("whats\x00app",),
        (LONG,),
        ("\udcff",),
        ("whatsapp", "--profile", "\x00"),
        ("whatsapp", "--profile", LONG),
        ("whatsapp", "--profile", "nosuch"),
        ("whatsapp", "--profile", "/nonexistent/x.toml"),
        ("--markdown", "--profile", LONG),
    ],
)
def test_hostile_values_end_in_a_message_and_status_2_or_3(run: Run, args: tuple[str, ...]) -> None:
    day = () if "--markdown" in args else ("--as-of", "2024-05-01")
    result = run("rules", *args, *day)
    assert result.status in (2, 3), result.err
    assert result.out == ""
    assert result.err.startswith("omnimsg: error: ")
    assert "Traceback" not in result.err
    assert "\x00" not in result.err
    assert len(result.err) < 2_500


def test_a_day_moves_the_view_to_the_next_period_at_midnight_utc(run: Run) -> None:
    """SPEC P3/P4: 2025-10-06 is the last day of v2 and 2025-10-07 the first of v3."""
    last_day = datetime(2025, 10, 7, tzinfo=UTC) - timedelta(microseconds=1)
    before = _document(run, "whatsapp", "--as-of", last_day.isoformat())
    assert _rule(before, "tiers.version")["value"] == "v2"
    assert before["next_change"]["at"] == "2025-10-07T00:00:00+00:00"
