"""The JSON Schema of profile files accepts what ``load_profile`` accepts (SPEC W8).

Profiles are data (W8) that users write by hand; the schema lets an editor check a
file as it is typed. It is checked here with a real validator (jsonschema) against
every built-in profile, the examples, generated profiles and files it must refuse.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import ProfileError, profile_from_dict
from omnimsg.channels import profile_json_schema
from omnimsg.channels.profile_schema import PROFILE_SCHEMA_ID
from omnimsg.cli.app import run

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "src" / "omnimsg" / "channels" / "profiles").glob("*.toml"))


def _as_json(value: Any) -> Any:
    """What an editor sees of a TOML document: dates and times as ISO strings."""
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = profile_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _problems(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_schema_is_draft_2020_12_with_an_id() -> None:
    schema = profile_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == PROFILE_SCHEMA_ID
    assert schema["additionalProperties"] is False
    assert profile_json_schema() == schema  # a new, equal document each time
    assert profile_json_schema() is not schema


@pytest.mark.parametrize("path", PROFILES, ids=[path.stem for path in PROFILES])
def test_every_builtin_profile_is_valid(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    # SPEC W8, P1-P16: the built-in data, dated entries and regions included.
    document = _as_json(tomllib.loads(path.read_text(encoding="utf-8")))
    assert _problems(validator, document) == []


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"channels": {}}, ""),  # no name
        ({"name": "x", "bogus": 1}, ""),
        ({"name": "x", "channels": {"pigeon": {}}}, "channels"),
        (
            {"name": "x", "channels": {"whatsapp": {"window": "24 hours"}}},
            "channels/whatsapp/window",
        ),
        ({"name": "x", "channels": {"whatsapp": {"window": True}}}, "channels/whatsapp/window"),
        (
            {"name": "x", "channels": {"sms": {"daily_recipient_cap": 0}}},
            "channels/sms/daily_recipient_cap",
        ),
        (
            {"name": "x", "channels": {"sms": {"daily_recipient_cap": "lots"}}},
            "channels/sms/daily_recipient_cap",
        ),
        (
            {"name": "x", "channels": {"sms": {"quiet_hours": {"start": "8am", "end": "21:00"}}}},
            "channels/sms/quiet_hours",
        ),
        (
            {"name": "x", "channels": {"whatsapp": {"after_window": "later"}}},
            "channels/whatsapp/after_window",
        ),
        (
            {
                "name": "x",
                "channels": {
                    "wechat": {"window_outbound_cap": [{"value": 5, "when": "2023-06-12"}]}
                },
            },
            "channels/wechat/window_outbound_cap",
        ),
    ],
)
def test_schema_refuses_what_loading_refuses(
    validator: jsonschema.Draft202012Validator, document: dict[str, Any], where: str
) -> None:
    problems = _problems(validator, document)
    assert problems, "the schema accepted a profile that loading refuses"
    assert any(problem.startswith(where) for problem in problems), problems
    with pytest.raises(ProfileError):
        profile_from_dict(document)


_DURATIONS = st.sampled_from(["24h", "7d", "1h30m", "90s", "1.5h", 3600, "none"])
_LIMITS = st.one_of(st.integers(min_value=1, max_value=10**6), st.just("unlimited"))


@st.composite
def _channel(draw: st.DrawFn) -> dict[str, Any]:
    channel: dict[str, Any] = {"window": draw(_DURATIONS)}
    if draw(st.booleans()):
        channel["daily_recipient_cap"] = draw(_LIMITS)
    if draw(st.booleans()):
        channel["window_outbound_cap"] = [
            {"value": draw(_LIMITS), "effective_to": "2023-06-12", "source": "a"},
            {"value": draw(_LIMITS), "effective_from": "2023-06-12", "source": "b"},
        ]
    if draw(st.booleans()):
        start, end = sorted(draw(st.lists(st.integers(0, 23), min_size=2, max_size=2, unique=True)))
        channel["quiet_hours"] = {"start": f"{start:02d}:00", "end": f"{end:02d}:30"}
    return channel


@settings(max_examples=40)
@given(
    st.dictionaries(
        st.sampled_from(["whatsapp", "sms", "wechat", "telegram"]), _channel(), max_size=3
    )
)
def test_generated_profiles_load_and_validate(
    validator: jsonschema.Draft202012Validator, channels: dict[str, Any]
) -> None:
    document = {"name": "generated", "extends": "official", "channels": channels}
    profile_from_dict(json.loads(json.dumps(document)))  # loading accepts it...
    assert _problems(validator, document) == []  # ...and so does the schema


def test_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profiles", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == profile_json_schema()
