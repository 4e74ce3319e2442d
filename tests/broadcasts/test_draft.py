"""The broadcast draft: reading it (TOML, JSON, dict), writing it back, its JSON Schema,
and the checks against a profile that refuse it before any planning.

SPEC B1 (name and tags), B2 (specific account), B3 (last interacted channel, the
selection), B4/B16 (channels without broadcasts), B6, B7 (messages per recipient),
B9 (schedule), B10 (rate within 7 days), B11 (senders and teams), C1-C4, C5, X2, X3,
X4, A3, A4.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.draft import (
    MAX_SEND_DURATION,
    draft_from_dict,
    draft_json_schema,
    draft_to_dict,
    load_draft,
)
from omnimsg.broadcasts.model import (
    Audience,
    BroadcastMessage,
    Draft,
    FrequencyCap,
    Rate,
    Schedule,
    Sender,
    Targeting,
)
from omnimsg.channels.capabilities import QuietHours
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import load_profile
from omnimsg.errors import DraftError, InputError, NaiveDatetimeError
from omnimsg.policy.content import Media, MediaKind
from omnimsg.segments import parse_segment

EXAMPLE = Path(__file__).parents[2] / "examples" / "winter_service.toml"
EXPERT = load_profile("expertconnect")
RESPONDIO = load_profile("respondio")
LIVETEX = load_profile("livetex")
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
LINK = "https://dealer.example/w"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def minimal(**changes: Any) -> dict[str, Any]:
    """A draft for respond.io's SMS: one sender, one message."""
    data: dict[str, Any] = {
        "id": "d1",
        "name": "Test",
        "channels": ["sms"],
        "senders": [{"account": "sms-1", "channel": "sms"}],
        "content": {"sms": [{"text": "Hello"}]},
    }
    data.update(changes)
    return data


def problems_of(call: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(DraftError) as info:
        call()
    return list(info.value.problems)


def refused(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return problems_of(lambda: draft_from_dict(data))


def check(
    data: dict[str, Any], profile: Any = RESPONDIO, **options: Any
) -> list[tuple[str, str, str]]:
    draft = draft_from_dict(data)
    return problems_of(lambda: validate_draft(draft, profile, now=NOW, **options))


def has(problems: list[tuple[str, str, str]], path: str, rule: str) -> str:
    """The message of the problem at ``path`` with ``rule``; fails when there is none."""
    for p, r, message in problems:
        if (p, r) == (path, rule):
            return message
    raise AssertionError(f"no problem ({path!r}, {rule!r}) among {problems}")


# --- the example -----------------------------------------------------------------------


def test_the_example_passes_validation_against_expertconnect() -> None:
    """SPEC C1, C2, B11: 240 characters with the link, two numbers of one team."""
    draft = load_draft(EXAMPLE)
    assert validate_draft(draft, EXPERT) is draft
    assert validate_draft(draft, EXPERT, audience_size=4000, now=NOW) is draft
    assert draft.id == "winter-service-2026"
    assert draft.targeting is Targeting.LAST_INTERACTED
    assert draft.channels == frozenset({ChannelKind.SMS})
    assert [s.account_id for s in draft.active_senders()] == ["sms-1", "sms-2"]
    assert draft.schedule.start == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert draft.quiet_hours == QuietHours(start=time(9), end=time(20))
    assert draft.frequency_cap == FrequencyCap(2, timedelta(days=7))
    (message,) = draft.content[ChannelKind.SMS]
    assert message.personalised
    assert len(message.media) == 1


def test_the_example_text_with_its_fallback_and_link_fits_240_characters() -> None:
    """SPEC C1, C2: the link counts; the fallback "there" is the shortest name."""
    (message,) = load_draft(EXAMPLE).content[ChannelKind.SMS]
    text = message.snippet.fill({}, missing="")
    content = BroadcastMessage(text=text, media=message.media).message.render(
        EXPERT.capabilities("sms", as_of=NOW).content
    )
    assert content.fits
    assert content.links == 1
    assert "there" in content.text
    assert content.length <= 240


# --- reading -----------------------------------------------------------------------------


def test_name_and_tags_are_kept_and_never_part_of_a_message() -> None:
    """SPEC B1: the name and tags are for the business, not the recipients."""
    draft = draft_from_dict(minimal(name="Secret campaign", tags=["q4", "promo"]))
    assert draft.name == "Secret campaign"
    assert draft.tags == frozenset({"q4", "promo"})
    for messages in draft.content.values():
        for message in messages:
            assert "Secret campaign" not in message.message.text


def test_targeting_defaults_to_last_interacted_on_every_channel() -> None:
    """SPEC B3: last interacted channel; no selection means every broadcast channel."""
    draft = draft_from_dict(minimal(channels=None))
    assert draft.targeting is Targeting.LAST_INTERACTED
    assert draft.channels is None
    data = minimal()
    del data["channels"]
    assert draft_from_dict(data).channels is None


def test_only_interacted_is_read() -> None:
    """SPEC B6."""
    assert draft_from_dict(minimal(only_interacted=True)).only_interacted is True
    assert draft_from_dict(minimal()).only_interacted is False
    has(refused(minimal(only_interacted="yes")), "only_interacted", "")


def test_account_targeting_needs_the_account_and_nothing_else() -> None:
    """SPEC B2."""
    data = minimal(targeting="account", account="sms-1")
    del data["channels"]
    draft = draft_from_dict(data)
    assert draft.targeting is Targeting.ACCOUNT
    assert draft.account == "sms-1"
    del data["account"]
    has(refused(data), "account", "B2")
    has(refused(minimal(targeting="account", account="sms-1")), "channels", "B3")
    has(refused(minimal(account="sms-1")), "account", "B2")


def test_an_empty_channel_selection_is_refused() -> None:
    """SPEC B3: a deselected channel gets nothing, so selecting none sends nothing."""
    has(refused(minimal(channels=[])), "channels", "B3")


def test_a_pasted_id_list_is_split_on_any_separator_and_counted_once() -> None:
    """SPEC A3: newlines, spaces, commas, semicolons, mixed; duplicates once."""
    audience = {"id_list": "123, 456;789\n456\r\n 123\t42", "id_list_account": "tg-1"}
    draft = draft_from_dict(minimal(audience=audience))
    assert draft.audience.id_list == ("123", "456", "789", "42")
    assert draft.audience.id_list_account == "tg-1"
    listed = draft_from_dict(minimal(audience={"id_list": ["1,2", "2"], "id_list_account": "a"}))
    assert listed.audience.id_list == ("1", "2")
    has(
        refused(minimal(audience={"id_list": " ,; ", "id_list_account": "a"})),
        "audience.id_list",
        "A3",
    )


def test_an_id_list_needs_its_account_and_the_account_needs_a_list() -> None:
    """SPEC A4: every id belongs to one chosen channel account."""
    has(refused(minimal(audience={"id_list": "1 2"})), "audience.id_list_account", "A4")
    has(refused(minimal(audience={"id_list_account": "tg-1"})), "audience.id_list_account", "A4")


def test_the_audience_reads_segments_and_contact_ids() -> None:
    """SPEC A2: a segment and explicit contacts; a repeated contact counts once."""
    segment = {"field": "tags", "op": "has_any", "value": ["vip"]}
    draft = draft_from_dict(minimal(audience={"segment": segment, "contact_ids": ["a", "b", "a"]}))
    assert draft.audience.segment == parse_segment(segment)
    assert draft.audience.contact_ids == ("a", "b")
    as_text = draft_from_dict(minimal(audience={"segment": json.dumps(segment)}))
    assert as_text.audience.segment == draft.audience.segment
    custom = {"field": "custom.score", "op": "gt", "value": 5}
    with_custom = draft_from_dict(
        minimal(audience={"segment": custom, "custom_fields": {"score": "number"}})
    )
    assert with_custom.audience.segment is not None
    assert with_custom.audience.segment.custom_fields == {"score": "number"}


def test_segment_problems_are_placed_under_the_audience() -> None:
    """SPEC A1: the segment's own paths, below audience.segment."""
    bad = {"all": [{"field": "tags", "op": "has_any", "value": 5}]}
    has(refused(minimal(audience={"segment": bad})), "audience.segment.all[0].value", "A1")
    undeclared = {"field": "custom.score", "op": "gt", "value": 5}
    assert refused(minimal(audience={"segment": undeclared}))[0][0].startswith("audience.segment")
    has(
        refused(minimal(audience={"custom_fields": {"score": "colour"}})),
        "audience.custom_fields",
        "A1",
    )


def test_content_is_read_per_channel_with_several_messages() -> None:
    """SPEC C3, B7: content per channel, each message counted."""
    content = {
        "sms": [{"text": "One"}, {"text": "Two"}],
        "whatsapp": [
            {
                "text": "Hi {{ first_name }}",
                "media": [{"url": LINK, "kind": "image"}],
                "template": "winter_service",
                "template_params": {"name": "{{ first_name }}"},
                "tag": "CONFIRMED_EVENT_UPDATE",
            }
        ],
    }
    draft = draft_from_dict(minimal(content=content))
    assert len(draft.content[ChannelKind.SMS]) == 2
    (whatsapp,) = draft.content[ChannelKind.WHATSAPP]
    assert whatsapp.template == "winter_service"
    assert dict(whatsapp.template_params) == {"name": "{{ first_name }}"}
    assert whatsapp.media == (Media(url=LINK, kind=MediaKind.IMAGE),)
    assert whatsapp.tag == "CONFIRMED_EVENT_UPDATE"


@pytest.mark.parametrize(
    ("message", "path", "rule"),
    [
        ({"text": ""}, "content.sms[0]", "C3"),
        ({"text": "Hi {{ name"}, "content.sms[0].text", "C5"),
        ({"text": "x", "template_params": {"a": "b"}}, "content.sms[0].template_params", "C3"),
        (
            {"text": "x", "media": [{"url": "javascript:alert(1)"}]},
            "content.sms[0].media[0].url",
            "C2",
        ),
        (
            {"text": "x", "media": [{"url": LINK, "kind": "voice"}]},
            "content.sms[0].media[0].duration",
            "C4",
        ),
        ({"text": "x", "bold": True}, "content.sms[0].bold", ""),
    ],
)
def test_malformed_messages_are_refused_with_their_path(
    message: dict[str, Any], path: str, rule: str
) -> None:
    """SPEC C2, C3, C4, C5."""
    has(refused(minimal(content={"sms": [message]})), path, rule)


def test_unknown_keys_wrong_types_and_unknown_channels_are_refused() -> None:
    problems = refused(
        minimal(
            colour="blue",
            id=5,
            senders=[{"account": "sms-1", "channel": "pager"}],
            content={"fax": [{"text": "x"}], "sms": []},
        )
    )
    has(problems, "colour", "")
    has(problems, "id", "")
    has(problems, "senders[0].channel", "")
    has(problems, "content.fax", "")
    has(problems, "content.sms", "")
    assert len(problems) == 5


def test_a_sender_listed_twice_is_refused() -> None:
    """SPEC B11: each number once."""
    senders = [{"account": "sms-1", "channel": "sms"}, {"account": "sms-1", "channel": "sms"}]
    has(refused(minimal(senders=senders)), "senders[1].account", "B11")
    has(refused(minimal(senders=[])), "senders", "")


def test_the_schedule_reads_now_and_instants_with_an_offset() -> None:
    """SPEC B9: now, or a later date and time."""
    assert draft_from_dict(minimal(schedule={"start": "now"})).schedule.start is None
    assert draft_from_dict(minimal()).schedule == Schedule()
    start = draft_from_dict(minimal(schedule={"start": "2026-12-01T09:00:00Z"})).schedule.start
    assert start == datetime(2026, 12, 1, 9, tzinfo=UTC)
    toml = tomllib.loads(
        'id = "x"\nname = "x"\nchannels = ["sms"]\n[schedule]\nstart = 2026-12-01T09:00:00+01:00\n'
        '[[senders]]\naccount = "a"\nchannel = "sms"\n[[content.sms]]\ntext = "Hi"\n'
    )
    assert draft_from_dict(toml).schedule.start == datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "start",
    ["2026-12-01T09:00:00", "2026-12-01", datetime(2026, 12, 1, 9), "tomorrow", 1_700_000_000],
)
def test_a_start_without_a_utc_offset_is_refused(start: Any) -> None:
    """SPEC B9: naive datetimes are refused, never guessed."""
    has(refused(minimal(schedule={"start": start})), "schedule.start", "B9")


def test_a_naive_toml_datetime_is_refused() -> None:
    """SPEC B9: a TOML local date-time has no offset."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'start = "2026-12-01T09:00:00+01:00"', "start = 2026-12-01T09:00:00"
    )
    has(refused(tomllib.loads(text)), "schedule.start", "B9")


def test_a_start_at_the_end_of_time_is_refused() -> None:
    """SPEC B9, B10: the 7 days of a send must fit before the year 9999 ends."""
    has(refused(minimal(schedule={"start": "9999-12-30T00:00:00Z"})), "schedule.start", "B9")
    has(refused(minimal(schedule={"start": "0001-01-01T00:00:00+05:00"})), "schedule.start", "B9")


def test_a_recurrence_is_checked_when_read() -> None:
    """SPEC B9: a recurrence through dateutil's rrule."""
    draft = draft_from_dict(minimal(schedule={"start": "now", "recurrence": "FREQ=WEEKLY;COUNT=4"}))
    assert draft.schedule.recurrence == "FREQ=WEEKLY;COUNT=4"
    for bad in ("FREQ=FORTNIGHTLY", "COUNT=4", "FREQ=DAILY;BYEASTER=0", "FREQ=DAILY;UNTIL=2027"):
        has(refused(minimal(schedule={"recurrence": bad})), "schedule.recurrence", "B9")


def test_rates_are_read_per_second_minute_or_hour() -> None:
    """SPEC B10."""
    for per, span in (("second", 1), ("minute", 60), ("hour", 3600)):
        rate = draft_from_dict(minimal(rate={"messages": 10, "per": per})).rate
        assert rate == Rate(10, timedelta(seconds=span))
    has(refused(minimal(rate={"messages": 10, "per": "day"})), "rate.per", "B10")
    has(refused(minimal(rate={"messages": 0, "per": "hour"})), "rate.messages", "B10")
    has(refused(minimal(rate={"messages": 1.5, "per": "hour"})), "rate.messages", "B10")


def test_quiet_hours_are_local_clock_times() -> None:
    """SPEC X2."""
    hours = draft_from_dict(minimal(quiet_hours={"start": "08:00", "end": "21:30"})).quiet_hours
    assert hours == QuietHours(start=time(8), end=time(21, 30))
    toml = draft_from_dict(minimal(quiet_hours={"start": time(8), "end": time(21)}))
    assert toml.quiet_hours == QuietHours(start=time(8), end=time(21))
    has(refused(minimal(quiet_hours={"start": "8", "end": "21:00"})), "quiet_hours.start", "X2")
    has(refused(minimal(quiet_hours={"start": "09:00", "end": "09:00"})), "quiet_hours.end", "X2")
    aware = time(8, tzinfo=UTC)
    has(refused(minimal(quiet_hours={"start": aware, "end": "21:00"})), "quiet_hours.start", "X2")


def test_a_frequency_cap_reads_a_duration() -> None:
    """SPEC X4."""
    cap = draft_from_dict(minimal(frequency_cap={"messages": 2, "period": "7d"})).frequency_cap
    assert cap == FrequencyCap(2, timedelta(days=7))
    has(
        refused(minimal(frequency_cap={"messages": 2, "period": "0h"})),
        "frequency_cap.period",
        "X4",
    )
    has(refused(minimal(frequency_cap={"messages": 2, "period": 7})), "frequency_cap.period", "X4")
    has(
        refused(minimal(frequency_cap={"messages": 0, "period": "7d"})),
        "frequency_cap.messages",
        "X4",
    )


def test_every_shape_problem_is_reported_at_once() -> None:
    problems = refused(minimal(id="", name=" ", rate={"messages": -1, "per": "hour"}, team=""))
    assert {p for p, _, _ in problems} >= {"id", "name", "rate.messages", "team"}


def test_the_error_names_its_source() -> None:
    with pytest.raises(DraftError, match=r"drafts/mine\.toml"):
        draft_from_dict({"id": 1}, source="drafts/mine.toml")


# --- round trips ---------------------------------------------------------------------------


def test_toml_and_json_give_the_same_draft(tmp_path: Path) -> None:
    toml_draft = load_draft(EXAMPLE)
    as_json = tmp_path / "winter.json"
    as_json.write_text(json.dumps(draft_to_dict(toml_draft)), encoding="utf-8")
    assert load_draft(as_json) == toml_draft
    assert load_draft(str(as_json)) == toml_draft


def rich_draft() -> Draft:
    segment = parse_segment(
        {"all": [{"field": "custom.score", "op": "gt", "value": 5}]},
        custom_fields={"score": "number"},
    )
    return Draft(
        id="rich-1",
        name="Everything",
        tags=frozenset({"a", "b"}),
        targeting=Targeting.LAST_INTERACTED,
        channels=frozenset({ChannelKind.WHATSAPP, ChannelKind.SMS}),
        only_interacted=True,
        team="sales",
        audience=Audience(segment=segment, contact_ids=("c1", "c2")),
        senders=(
            Sender("wa-1", ChannelKind.WHATSAPP, "sales"),
            Sender("sms-1", ChannelKind.SMS, "sales"),
        ),
        content={
            ChannelKind.WHATSAPP: (
                BroadcastMessage(
                    text='Hi {{ first_name | "you" }}',
                    media=(
                        Media(LINK, MediaKind.VOICE, duration=timedelta(minutes=4, seconds=30)),
                        Media(LINK, MediaKind.DOCUMENT, filename="menu.pdf"),
                    ),
                    template="promo",
                    template_params={"name": "{{ first_name }}"},
                ),
            ),
            ChannelKind.SMS: (BroadcastMessage(text="One"), BroadcastMessage(text="Two")),
        },
        schedule=Schedule(
            start=datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
            recurrence="FREQ=MONTHLY;COUNT=3",
        ),
        rate=Rate(100, timedelta(hours=1)),
        quiet_hours=QuietHours(start=time(8, 0, 30), end=time(21)),
        frequency_cap=FrequencyCap(3, timedelta(days=1, hours=2, seconds=1.5)),
    )


def test_a_written_draft_reads_back_equal() -> None:
    draft = rich_draft()
    written = draft_to_dict(draft)
    assert draft_from_dict(written) == draft
    assert draft_from_dict(json.loads(json.dumps(written))) == draft
    id_list = Draft(
        id="x",
        name="x",
        audience=Audience(id_list=("1", "2"), id_list_account="tg-1"),
        senders=(Sender("tg-1", ChannelKind.TELEGRAM),),
        content={ChannelKind.TELEGRAM: (BroadcastMessage(text="x"),)},
        targeting=Targeting.ACCOUNT,
        account="tg-1",
    )
    assert draft_from_dict(draft_to_dict(id_list)) == id_list


def test_a_written_draft_is_toml_data() -> None:
    """No null values: TOML has none."""
    stack: list[Any] = [draft_to_dict(rich_draft())]
    while stack:
        value = stack.pop()
        assert value is not None
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def test_a_rate_the_format_cannot_write_is_refused() -> None:
    odd = attrs.evolve(draft_from_dict(minimal()), rate=Rate(1, timedelta(minutes=2)))
    with pytest.raises(InputError, match=r"rate\.per"):
        draft_to_dict(odd)


# --- the JSON Schema ----------------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and set(schema) == {"$ref"}:
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def valid(schema: Any, value: Any, root: dict[str, Any]) -> bool:
    """Whether ``value`` matches ``schema``, for the draft 2020-12 keywords the schema uses."""
    if schema is True:
        return True
    if schema is False:
        return False
    schema = _resolve(schema, root)
    checks = [
        "$ref" not in schema or valid({"$ref": schema["$ref"]}, value, root),
        "oneOf" not in schema or sum(valid(s, value, root) for s in schema["oneOf"]) == 1,
        "anyOf" not in schema or any(valid(s, value, root) for s in schema["anyOf"]),
        "type" not in schema
        or any(
            _TYPES[t](value)
            for t in ([schema["type"]] if isinstance(schema["type"], str) else schema["type"])
        ),
        "const" not in schema or value == schema["const"],
        "enum" not in schema or value in schema["enum"],
    ]
    if not all(checks):
        return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        return False
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        prefix = schema.get("prefixItems", [])
        if not all(valid(s, v, root) for s, v in zip(prefix, value, strict=False)):
            return False
        if "items" in schema and not all(
            valid(schema["items"], v, root) for v in value[len(prefix) :]
        ):
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if any(key not in value for key in schema.get("required", [])):
            return False
        if len(value) > schema.get("maxProperties", len(value)):
            return False
        for key, item in value.items():
            if "propertyNames" in schema and not valid(schema["propertyNames"], key, root):
                return False
            if key in properties:
                if not valid(properties[key], item, root):
                    return False
            elif not valid(schema.get("additionalProperties", True), item, root):
                return False
    return True


def test_the_schema_accepts_the_example_and_a_rich_draft() -> None:
    schema = draft_json_schema(custom_fields={"score": "number"})
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert valid(schema, json.loads(json.dumps(example())), schema)
    assert valid(schema, draft_to_dict(load_draft(EXAMPLE)), schema)
    assert valid(schema, draft_to_dict(rich_draft()), schema)


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "blue"},
        {"targeting": "everyone"},
        {"senders": []},
        {"content": {"fax": [{"text": "x"}]}},
        {"rate": {"messages": 0, "per": "hour"}},
        {"rate": {"messages": 1, "per": "day"}},
        {"audience": {"segment": {"field": "tags", "op": "is_fun"}}},
        {"audience": {"contact_ids": [""]}},
        {"quiet_hours": {"start": "8"}},
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(change: dict[str, Any]) -> None:
    schema = draft_json_schema()
    data = {**minimal(), **change}
    assert not valid(schema, data, schema)
    with pytest.raises(DraftError):
        draft_from_dict(data)


def test_the_schema_names_its_definitions_as_the_format_does() -> None:
    defs = draft_json_schema()["$defs"]
    assert {"Audience", "Message", "Media", "Sender", "Schedule", "Rate"} <= set(defs)
    assert "segment-node" in defs
    assert "segment-condition" in defs
    assert all(not name.startswith("_") for name in defs)


# --- validation against a profile --------------------------------------------------------


def test_a_content_channel_the_profile_does_not_define_is_refused() -> None:
    """SPEC C3: content per channel of the profile."""
    data = example()
    data["content"]["whatsapp"] = [{"text": "Hi"}]
    has(
        problems_of(lambda: validate_draft(draft_from_dict(data), EXPERT)), "content.whatsapp", "C3"
    )


def test_a_sender_channel_the_profile_does_not_define_is_refused() -> None:
    data = example()
    data["senders"][1]["channel"] = "whatsapp"
    problems = problems_of(lambda: validate_draft(draft_from_dict(data), EXPERT))
    assert "does not define channel 'whatsapp'" in has(problems, "senders[1].channel", "")


def test_a_selected_channel_without_broadcasts_is_refused() -> None:
    """SPEC B4: respond.io has no broadcasts on Instagram; B16: a plan can switch them off."""
    data = minimal(
        channels=["instagram"],
        senders=[{"account": "ig-1", "channel": "instagram"}],
        content={"instagram": [{"text": "Hi"}]},
    )
    has(check(data), "channels", "B4")
    off = LIVETEX.derive("basic", {"channels": {"telegram": {"broadcasts": False}}})
    data = minimal(
        channels=["telegram"],
        senders=[{"account": "tg-1", "channel": "telegram"}],
        content={"telegram": [{"text": "Hi"}]},
    )
    assert validate_draft(draft_from_dict(data), LIVETEX, now=NOW)
    has(check(data, off), "channels", "B16")
    by_account = {**data, "targeting": "account", "account": "tg-1"}
    del by_account["channels"]
    has(check(by_account, off), "account", "B16")


def test_a_selected_channel_needs_content() -> None:
    """SPEC C3, B3: every selected channel has its content."""
    data = minimal(
        channels=["sms", "telegram"],
        senders=[
            {"account": "sms-1", "channel": "sms"},
            {"account": "tg-1", "channel": "telegram"},
        ],
    )
    has(check(data), "content.telegram", "C3")


def test_the_default_selection_is_every_channel_with_content() -> None:
    """SPEC B3, B4: omitted channels select the channels the draft has content for."""
    data = minimal()
    del data["channels"]
    assert validate_draft(draft_from_dict(data), EXPERT, now=NOW)
    # content for a channel without broadcasts selects it, and is refused (B4)
    data["content"] = {**data["content"], "email": [{"text": "hello"}]}
    problems = check(data, RESPONDIO)
    assert "no broadcasts" in has(problems, "content.email", "B4")
    # a channel with content needs a sender (B11)
    data["content"] = {**data["content"], "telegram": [{"text": "hello"}]}
    assert "by default" in has(check(data, RESPONDIO), "senders", "B11")


def test_a_selected_channel_needs_a_sender_of_the_team() -> None:
    """SPEC B11: only the team's senders send."""
    data = minimal(
        channels=["sms", "telegram"],
        content={"sms": [{"text": "a"}], "telegram": [{"text": "b"}]},
        senders=[
            {"account": "sms-1", "channel": "sms", "team": "sales"},
            {"account": "tg-1", "channel": "telegram", "team": "support"},
        ],
    )
    assert validate_draft(draft_from_dict(data), RESPONDIO, now=NOW)
    assert "team 'sales'" in has(check({**data, "team": "sales"}), "senders", "B11")


def test_a_team_without_senders_is_refused() -> None:
    """SPEC B11."""
    has(check(minimal(team="night-shift")), "team", "B11")


def test_the_targeted_account_must_be_a_sender() -> None:
    """SPEC B2: one specific channel account, among the senders."""
    data = minimal(targeting="account", account="sms-9")
    del data["channels"]
    assert "unknown account 'sms-9'" in has(check(data), "account", "B2")
    data["account"] = "sms-1"
    assert validate_draft(draft_from_dict(data), RESPONDIO, now=NOW)
    data["senders"] = [{"account": "sms-1", "channel": "sms", "team": "a"}]
    has(
        check(
            {
                **data,
                "team": "b",
                "senders": [*data["senders"], {"account": "x", "channel": "sms", "team": "b"}],
            }
        ),
        "account",
        "B11",
    )


def test_the_id_list_account_must_be_a_sender() -> None:
    """SPEC A4: the ids belong to the chosen channel account."""
    data = minimal(audience={"id_list": "1 2 3", "id_list_account": "tg-1"})
    has(check(data), "audience.id_list_account", "A4")
    data["senders"].append({"account": "tg-1", "channel": "telegram"})
    data["content"]["telegram"] = [{"text": "x"}]
    data["channels"] = ["sms", "telegram"]
    assert validate_draft(draft_from_dict(data), RESPONDIO, now=NOW)
    by_account = {**data, "targeting": "account", "account": "sms-1"}
    del by_account["channels"]
    assert "'tg-1'" in has(check(by_account), "audience.id_list_account", "A4")


def test_text_over_expertconnects_240_characters_with_the_link_is_refused() -> None:
    """SPEC C1, C2: the link counts toward the 240 characters."""
    data = example()
    data["content"]["sms"] = [{"text": "x" * 215, "media": [{"url": LINK, "kind": "image"}]}]
    assert validate_draft(draft_from_dict(data), EXPERT)
    data["content"]["sms"][0]["text"] = "x" * 216
    message = has(
        problems_of(lambda: validate_draft(draft_from_dict(data), EXPERT)),
        "content.sms[0].text",
        "C1",
    )
    assert "241" in message
    assert "240" in message


def test_personalised_text_is_checked_with_fallbacks_or_empty_values() -> None:
    """SPEC C1, C5: a variable counts as its fallback, or as nothing without one."""
    data = example()
    data["content"]["sms"] = [{"text": "{{ first_name }}" + "x" * 240}]
    assert validate_draft(draft_from_dict(data), EXPERT)
    data["content"]["sms"] = [{"text": "{{ first_name }}" + "x" * 241}]
    has(
        problems_of(lambda: validate_draft(draft_from_dict(data), EXPERT)),
        "content.sms[0].text",
        "C1",
    )
    data["content"]["sms"] = [{"text": '{{ first_name | "friend" }}' + "x" * 235}]
    message = has(
        problems_of(lambda: validate_draft(draft_from_dict(data), EXPERT)),
        "content.sms[0].text",
        "C1",
    )
    assert "fallback" in message


def test_sms_over_its_segments_is_refused() -> None:
    """SPEC X3: respond.io's SMS allows 10 segments of 153 GSM-7 characters."""
    assert validate_draft(
        draft_from_dict(minimal(content={"sms": [{"text": "a" * 1530}]})), RESPONDIO, now=NOW
    )
    has(check(minimal(content={"sms": [{"text": "a" * 1531}]})), "content.sms[0].text", "X3")


def _whatsapp(*messages: dict[str, Any]) -> dict[str, Any]:
    return minimal(
        channels=["whatsapp"],
        senders=[{"account": "wa-1", "channel": "whatsapp"}],
        content={"whatsapp": list(messages)},
    )


def test_text_over_a_channels_own_limit_is_refused() -> None:
    """SPEC C3: WhatsApp allows 4,096 characters."""
    assert validate_draft(draft_from_dict(_whatsapp({"text": "é" * 4096})), RESPONDIO, now=NOW)
    has(check(_whatsapp({"text": "a"}, {"text": "é" * 4097})), "content.whatsapp[1].text", "C3")


def test_a_voice_note_over_five_minutes_is_refused() -> None:
    """SPEC C4."""
    voice = {"url": LINK, "kind": "voice", "duration": "5m"}
    assert validate_draft(draft_from_dict(_whatsapp({"media": [voice]})), RESPONDIO, now=NOW)
    longer = {**voice, "duration": 301}
    has(check(_whatsapp({"media": [longer]})), "content.whatsapp[0].media", "C4")


def test_a_template_where_the_channel_has_none_is_refused() -> None:
    """SPEC C3: templates only on channels that have them."""
    data = minimal(
        channels=["telegram"],
        senders=[{"account": "tg-1", "channel": "telegram"}],
        content={"telegram": [{"text": "x", "template": "promo"}]},
    )
    has(check(data), "content.telegram[0].template", "C3")
    assert validate_draft(draft_from_dict(_whatsapp({"template": "promo"})), RESPONDIO, now=NOW)


def test_a_message_tag_the_channel_does_not_know_is_refused() -> None:
    """SPEC W3: only the channel's message tags."""

    def messenger(tag: str) -> dict[str, Any]:
        return minimal(
            channels=["messenger"],
            senders=[{"account": "fb-1", "channel": "messenger"}],
            content={"messenger": [{"text": "x", "tag": tag}]},
        )

    assert validate_draft(draft_from_dict(messenger("CONFIRMED_EVENT_UPDATE")), RESPONDIO, now=NOW)
    has(check(messenger("BLACK_FRIDAY")), "content.messenger[0].tag", "W3")


def test_a_rate_that_needs_more_than_seven_days_is_refused() -> None:
    """SPEC B10: at one message a minute on one account, 10,081 sends take exactly 7 days."""
    data = minimal(rate={"messages": 1, "per": "minute"})
    fits = 7 * 24 * 60 + 1
    assert validate_draft(draft_from_dict(data), RESPONDIO, audience_size=fits, now=NOW)
    message = has(check(data, audience_size=fits + 1), "rate", "B10")
    assert "10,082 recipients" in message
    assert "7 days" in message


def test_the_rate_check_counts_every_message_of_a_recipient() -> None:
    """SPEC B7, B10: two messages to each recipient are two sends."""
    data = minimal(
        rate={"messages": 1, "per": "minute"}, content={"sms": [{"text": "a"}, {"text": "b"}]}
    )
    half = (7 * 24 * 60) // 2
    assert validate_draft(draft_from_dict(data), RESPONDIO, audience_size=half, now=NOW)
    has(check(data, audience_size=half + 1), "rate", "B10")


def test_the_rate_check_shares_the_sends_among_the_channels_senders() -> None:
    """SPEC B10, B11: the team's numbers share the load."""
    senders = [{"account": f"sms-{i}", "channel": "sms"} for i in range(3)]
    data = minimal(rate={"messages": 10, "per": "hour"}, senders=senders)
    per_account = 7 * 24 * 10 + 1
    assert validate_draft(draft_from_dict(data), RESPONDIO, audience_size=3 * per_account, now=NOW)
    message = has(check(data, audience_size=3 * per_account + 1), "rate", "B10")
    assert "shared by 3 senders" in message


def test_the_rate_check_uses_the_known_size_of_explicit_audiences() -> None:
    """SPEC B10, A3: an id list's or a contact list's size is known up front."""
    ids = " ".join(str(i) for i in range(3))
    data = minimal(
        rate={"messages": 1, "per": "hour"},
        audience={"id_list": ids, "id_list_account": "sms-1"},
        content={"sms": [{"text": str(i)} for i in range(84)]},
    )
    has(check(data), "rate", "B10")  # 252 sends an hour apart: 251 h
    contacts = {**data, "audience": {"contact_ids": ["a", "b"]}}
    assert validate_draft(draft_from_dict(contacts), RESPONDIO, now=NOW)  # 167 h
    segment = {**data, "audience": {"segment": {"field": "tags", "op": "is_set"}}}
    assert validate_draft(draft_from_dict(segment), RESPONDIO, now=NOW)  # size unknown


def test_every_problem_comes_in_one_error() -> None:
    """Everything found is reported at once, before any planning."""
    data = minimal(
        team="ghost",
        rate={"messages": 1, "per": "hour"},
        content={"sms": [{"text": "a" * 2000}], "telegram": [{"text": "x", "template": "t"}]},
    )
    problems = check(data, audience_size=1_000)
    rules = {(p, r) for p, r, _ in problems}
    assert {
        ("team", "B11"),
        ("content.sms[0].text", "X3"),
        ("content.telegram[0].template", "C3"),
    } <= rules
    assert ("senders", "B11") in rules


def test_a_recurrence_that_never_matches_is_refused() -> None:
    """SPEC B9."""
    never = minimal(
        schedule={
            "start": "2026-12-01T09:00:00Z",
            "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        }
    )
    has(check(never), "schedule.recurrence", "B9")
    ended = minimal(
        schedule={
            "start": "2026-12-01T09:00:00Z",
            "recurrence": "FREQ=DAILY;UNTIL=20261130T000000Z",
        }
    )
    has(check(ended), "schedule.recurrence", "B9")


def test_validation_refuses_a_naive_now_and_needs_now_for_a_send_that_starts_now() -> None:
    draft = draft_from_dict(minimal())
    with pytest.raises(NaiveDatetimeError):
        validate_draft(draft, RESPONDIO, now=datetime(2026, 1, 1))
    with pytest.raises(InputError, match="now="):
        validate_draft(draft, RESPONDIO)
    assert validate_draft(draft, RESPONDIO, now=NOW) is draft


def test_capabilities_are_read_as_of_the_start() -> None:
    """SPEC C3: a dated limit in force at the start is the one checked."""
    dated = RESPONDIO.derive(
        "dated",
        {
            "channels": {
                "telegram": {
                    "content": {
                        "text_max": [
                            {"value": 10, "effective_to": "2026-12-01T00:00:00Z"},
                            {"value": 100, "effective_from": "2026-12-01T00:00:00Z"},
                        ]
                    }
                }
            }
        },
    )
    data = minimal(
        channels=["telegram"],
        senders=[{"account": "tg-1", "channel": "telegram"}],
        content={"telegram": [{"text": "x" * 50}]},
        schedule={"start": "2026-12-02T00:00:00Z"},
    )
    assert validate_draft(draft_from_dict(data), dated, now=NOW)
    early = {**data, "schedule": {"start": "2026-11-30T00:00:00Z"}}
    has(check(early, dated), "content.telegram[0].text", "C3")


def test_the_send_limit_is_seven_days() -> None:
    """SPEC B10."""
    assert timedelta(days=7) == MAX_SEND_DURATION
