"""Profiles you can confine, settings stated once, and bad profiles refused (issue 6)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from omnimsg import (
    ChannelCapabilities,
    ConfigurationError,
    ConversationState,
    Message,
    ProfileError,
    decide,
    load_profile,
    profile_from_dict,
)
from omnimsg.channels.registry import MAX_PROFILE_DEPTH
from omnimsg.channels.schema import ChannelSpec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_every_capability_setting_has_one_schema_field_of_the_same_name() -> None:
    """A new setting touches the schema and the value class only."""
    spec_fields = set(ChannelSpec.model_fields)
    value_fields = {f.name for f in attrs.fields(ChannelCapabilities)} - {"kind"}
    assert spec_fields == value_fields


def test_a_new_setting_flows_through_without_a_field_by_field_copy() -> None:
    profile = profile_from_dict(
        {"name": "p", "channels": {"sms": {"templates": True, "rate_per_second": 3}}}
    )
    caps = profile.capabilities("sms", as_of=NOW)
    assert caps.templates is True
    assert caps.rate_per_second == 3


def test_the_planner_settings_are_enforced_now() -> None:
    """B10, B11, B13, X2: the broadcast planner applies them, so nothing marks them."""
    fields = attrs.fields(ChannelCapabilities)
    for name in ("rate_per_second", "daily_recipient_cap", "quiet_hours", "tiers", "window"):
        assert getattr(fields, name).metadata.get("enforced", True) is True


def test_a_window_beyond_the_maximum_duration_is_refused_at_load() -> None:
    """A 3,000,000-day window validated, then overflowed in every decide."""
    with pytest.raises(ProfileError, match=r"maximum|at most"):
        profile_from_dict({"name": "p", "channels": {"whatsapp": {"window": "3000000d"}}})
    caps = profile_from_dict(
        {"name": "p", "channels": {"whatsapp": {"window": "3650d", "after_window": "template"}}}
    ).capabilities("whatsapp", as_of=NOW)
    state = ConversationState(last_inbound_at=NOW)
    assert decide(caps, state, Message(text="hi"), now=NOW).allowed


def test_extended_window_without_its_tag_is_refused_when_both_are_dated() -> None:
    data = {
        "name": "p",
        "channels": {
            "messenger": {
                "window": "24h",
                "extended_window": [{"value": "7d", "effective_from": "2020-01-01"}],
                "extended_window_tag": [
                    {"value": "HUMAN_AGENT", "effective_to": "2021-01-01"},
                    {"value": None, "effective_from": "2021-01-01"},
                ],
            }
        },
    }
    with pytest.raises(ProfileError, match="extended_window_tag"):
        profile_from_dict(data)


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("depth", [MAX_PROFILE_DEPTH + 1, 5_000])
def test_deeply_nested_data_is_a_profile_error(depth: int) -> None:
    with pytest.raises(ProfileError, match="nest deeper"):
        profile_from_dict({"name": "p", "channels": _nested(depth)})
    with pytest.raises(ProfileError, match="nest deeper"):
        load_profile("respondio").derive("q", {"channels": _nested(depth)})


def test_a_small_file_of_500_nested_arrays_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text('name = "p"\nx = ' + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    assert path.stat().st_size < 1100
    with pytest.raises(ProfileError, match="nest deeper"):
        load_profile(path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_may_not_leave_the_root(tmp_path: Path) -> None:
    tenant_a = tmp_path / "a"
    tenant_b = tmp_path / "b"
    tenant_a.mkdir()
    tenant_b.mkdir()
    _write(tenant_b / "secret.toml", 'name = "secret"\napi_key = "hunter2"\n')
    mine = _write(tenant_a / "mine.toml", 'name = "mine"\nextends = "../b/secret.toml"\n')
    absolute = _write(
        tenant_a / "abs.toml", f'name = "abs"\nextends = "{tenant_b / "secret.toml"}"\n'
    )
    for path in (mine, absolute):
        with pytest.raises(ConfigurationError, match="outside the profile root") as caught:
            load_profile(path, root=tenant_a)
        assert "api_key" not in str(caught.value)
    link = tenant_a / "link.toml"
    link.symlink_to(tenant_b / "secret.toml")
    with pytest.raises(ConfigurationError, match="outside the profile root"):
        load_profile(link, root=tenant_a)
    # Inside the root, and built-in profiles, stay allowed.
    _write(tenant_a / "base.toml", 'name = "base"\nextends = "respondio"\n')
    ok = _write(tenant_a / "ok.toml", 'name = "ok"\nextends = "base.toml"\n')
    assert load_profile(ok, root=tenant_a).capabilities("whatsapp", as_of=NOW).window
    with pytest.raises(ConfigurationError, match="outside"):
        profile_from_dict({"name": "d", "extends": "../b/secret.toml"}, root=tenant_a)


def test_a_fifo_named_like_a_profile_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "x.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        load_profile(fifo)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        load_profile(tmp_path)


@pytest.mark.parametrize(
    "name", ["bad\x00.toml", "\ud800.toml", "x" * 100_000 + ".toml", "missing.toml"]
)
def test_unreadable_profile_paths_are_configuration_errors(name: str) -> None:
    with pytest.raises(ConfigurationError):
        load_profile(name)


def test_a_file_that_is_not_utf8_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ProfileError, match="UTF-8"):
        load_profile(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files of mode 000")
def test_a_file_of_mode_000_is_a_configuration_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "locked.toml", 'name = "p"\n')
    path.chmod(0)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_profile(path)


def test_a_file_named_like_a_built_in_may_extend_that_built_in(tmp_path: Path) -> None:
    path = _write(tmp_path / "respondio", 'name = "mine"\nextends = "respondio"\n')
    assert load_profile(path).capabilities("whatsapp", as_of=NOW).window


def test_files_extending_each_other_are_a_loop_whatever_the_spelling(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", 'name = "a"\nextends = "./b.toml"\n')
    _write(tmp_path / "b.toml", f'name = "b"\nextends = "{tmp_path / "a.toml"}"\n')
    with pytest.raises(ProfileError, match="extend each other"):
        load_profile(tmp_path / "a.toml")
