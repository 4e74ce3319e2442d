"""``omnimsg profiles``: every setting, from the value class's fields (SPEC W8)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import attrs
import pytest

from omnimsg import ChannelCapabilities, builtin_profile_names, load_profile
from omnimsg.cli._settings import capabilities_json, setting_rows

from .conftest import Run

AS_OF = ("--as-of", "2026-11-23T00:00:00Z")
UNENFORCED: set[str] = set()  # the planner applies B10, B11, B13 and X2
MINE = """
name = "mine"
description = "A [bold]profile[/bold] of our own"
extends = "respondio"
[channels.whatsapp]
rate_per_second = 10
"""
STANDALONE = """
name = "standalone"
description = "One channel, in a file named like a built-in profile"
[channels.sms]
"""


def _rows(out: str, channel: str) -> dict[str, str]:
    """The setting rows printed under one channel's heading: name -> rest of line."""
    lines = out.splitlines()
    start = lines.index(channel)
    rows: dict[str, str] = {}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        name, _, rest = line.partition(" ")
        rows[name] = rest.strip()
    return rows


def test_profiles_prints_every_builtin_profile(run: Run) -> None:
    result = run("profiles", *AS_OF)
    assert result.status == 0
    for name in builtin_profile_names():
        assert f"{name}: " in result.out


def test_wechat_shows_its_48h_window_and_20_message_cap(run: Run) -> None:
    """SPEC W5: 48 h, at most 20 outbound messages."""
    rows = _rows(run("profiles", "respondio", *AS_OF).out, "wechat")
    assert rows["window"] == "48h"
    assert rows["window_outbound_cap"] == "20"


def test_every_field_of_the_capabilities_class_is_a_row(run: Run) -> None:
    """No hand-kept list: the rows are the attrs fields (nested ones dotted)."""
    rows = _rows(run("profiles", "respondio", "--channel", "whatsapp", *AS_OF).out, "whatsapp")
    names = {name.split(".")[0] for name in rows}
    assert names == {f.name for f in attrs.fields(ChannelCapabilities)} - {"kind"}
    assert {f.name for f in attrs.fields(type(ChannelCapabilities(kind="sms").content))} == {
        name.split(".")[1] for name in rows if name.startswith("content.")
    }


def test_settings_no_code_applies_yet_are_marked_not_yet_enforced(run: Run) -> None:
    """A row is marked exactly when its field's metadata says no code applies it."""
    out = run("profiles", "respondio", "--channel", "whatsapp", *AS_OF).out
    rows = _rows(out, "whatsapp")
    for name, rest in rows.items():
        top = name.split(".")[0]
        field = attrs.fields_dict(ChannelCapabilities)[top]
        assert rest.endswith("not yet enforced") == (field.metadata.get("enforced") is False)
    assert {n for n, rest in rows.items() if rest.endswith("not yet enforced")} >= UNENFORCED


def test_the_planner_settings_are_the_ones_marked_in_the_field_metadata() -> None:
    marked = {
        f.name for f in attrs.fields(ChannelCapabilities) if f.metadata.get("enforced") is False
    }
    assert marked == UNENFORCED


def test_profiles_json_has_the_documented_shape(run: Run) -> None:
    result = run("profiles", "expertconnect", "--json", *AS_OF)
    assert result.status == 0
    document = json.loads(result.out)
    assert set(document) == {"as_of", "profiles"}
    assert document["as_of"] == "2026-11-23T00:00:00+00:00"
    (profile,) = document["profiles"]
    assert set(profile) == {"name", "description", "source", "channels"}
    assert profile["name"] == "expertconnect"
    sms = profile["channels"][0]
    assert set(sms) == {"kind", "settings", "not_yet_enforced"}
    assert sms["kind"] == "sms"
    assert list(sms["settings"]) == [
        f.name for f in attrs.fields(ChannelCapabilities) if f.name != "kind"
    ]
    assert sms["settings"]["content"]["text_max"] == 240  # SPEC C1
    assert sms["settings"]["daily_recipient_cap"] == 1500  # SPEC B11
    assert sms["settings"]["double_opt_in"]["reminder_after"] == 86400  # seconds, B12
    assert set(sms["not_yet_enforced"]) == UNENFORCED


def test_profiles_json_matches_the_library_values() -> None:
    caps = load_profile("respondio").capabilities("whatsapp", as_of=date(2026, 11, 23))
    document = capabilities_json(caps)
    assert document["settings"]["window"] == 24 * 3600  # SPEC W2
    assert document["settings"]["rate_per_second"] == 80
    assert [row.name for row in setting_rows(caps)][:2] == ["window", "requires_prior_inbound"]


def test_file_is_always_a_path_never_the_builtin_of_that_name(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--file respondio` reads ./respondio; it never loads the built-in profile."""
    monkeypatch.chdir(tmp_path)
    missing = run("profiles", "--file", "respondio", *AS_OF)
    assert missing.status == 3
    assert "cannot read profile file respondio" in missing.err
    (tmp_path / "respondio").write_text(STANDALONE, encoding="utf-8")
    found = run("profiles", "--file", "respondio", "--json", *AS_OF)
    assert found.status == 0
    (profile,) = json.loads(found.out)["profiles"]
    assert profile["name"] == "standalone"
    assert profile["source"] == "respondio"
    assert [channel["kind"] for channel in profile["channels"]] == ["sms"]


def test_a_name_argument_is_never_read_as_a_path(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text(MINE, encoding="utf-8")
    result = run("profiles", "mine.toml", *AS_OF)
    assert result.status == 3
    assert "no built-in profile 'mine.toml'" in result.err
    assert "--file" in result.err


def test_markup_in_a_profile_file_is_printed_as_written(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINE, encoding="utf-8")
    result = run("profiles", "--file", str(path), "--channel", "whatsapp", *AS_OF)
    assert result.status == 0
    assert "mine: A [bold]profile[/bold] of our own" in result.out
    assert _rows(result.out, "whatsapp")["rate_per_second"].split() == ["10"]


def test_unknown_names_and_channels_are_omnimsg_errors(run: Run) -> None:
    unknown = run("profiles", "nosuch", *AS_OF)
    assert (unknown.status, unknown.out) == (3, "")
    assert "no built-in profile 'nosuch'" in unknown.err
    channel = run("profiles", "respondio", "--channel", "fax", *AS_OF)
    assert channel.status == 3
    assert "unknown channel kind 'fax'" in channel.err


def test_as_of_takes_a_date_and_refuses_a_naive_instant(run: Run) -> None:
    assert run("profiles", "livetex", "--as-of", "2026-11-23").status == 0
    naive = run("profiles", "livetex", "--as-of", "2026-11-23T00:00")
    assert naive.status == 2
    assert "--as-of: '2026-11-23T00:00' has no UTC offset" in naive.err
