"""Reading segment JSON: shapes, types checked at validation, every problem with its path.

SPEC A1: a segment is conditions and groups of conditions. Bad input raises
SegmentValidationError and nothing else, whatever it is.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ConversationStatus
from omnimsg.errors import SegmentError, SegmentValidationError
from omnimsg.segments import (
    AllGroup,
    AnyGroup,
    Condition,
    FieldType,
    NotGroup,
    Operator,
    Period,
    PeriodUnit,
    Segment,
    parse_segment,
)
from omnimsg.segments.model import MAX_DEPTH, MAX_LIST_ITEMS

from .strategies import CUSTOM_FIELDS, json_values, segment_json

EXAMPLE = {
    "all": [
        {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
        {
            "any": [
                {"field": "custom.score", "op": "gt", "value": 500},
                {"not": {"field": "email", "op": "is_set"}},
            ]
        },
    ]
}


def outcome(data: Any) -> Segment | SegmentValidationError:
    """The parsed segment or the validation error; any other exception fails the test."""
    try:
        return parse_segment(data, custom_fields=CUSTOM_FIELDS)
    except SegmentValidationError as exc:
        return exc


def problems(data: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(SegmentValidationError) as info:
        parse_segment(data, **kwargs)
    return list(info.value.problems)


def paths(data: Any, **kwargs: Any) -> list[str]:
    return [path for path, _ in problems(data, **kwargs)]


def test_a_segment_is_conditions_and_nested_groups() -> None:
    """SPEC A1: conditions and groups all / any / not, at any depth."""
    segment = parse_segment(EXAMPLE, custom_fields={"score": "number"})
    assert isinstance(segment.root, AllGroup)
    tags, either = segment.root.children
    assert isinstance(tags, Condition)
    assert tags.op is Operator.HAS_ANY
    assert tags.value == ("vip", "gold")
    assert isinstance(either, AnyGroup)
    score, negated = either.children
    assert isinstance(score, Condition)
    assert score.field.custom_type is FieldType.NUMBER
    assert isinstance(negated, NotGroup)


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(EXAMPLE),
        json.dumps(EXAMPLE).encode(),
        MappingProxyType({"all": [MappingProxyType(item) for item in EXAMPLE["all"]]}),
    ],
    ids=["text", "bytes", "mapping"],
)
def test_json_text_bytes_and_mappings_are_read_alike(data: Any) -> None:
    """SPEC A1: the same segment whichever form it arrives in."""
    expected = parse_segment(EXAMPLE, custom_fields={"score": "number"})
    assert parse_segment(data, custom_fields={"score": "number"}) == expected


def test_types_are_checked_at_validation_with_the_json_path() -> None:
    """SPEC A1: a string where a number is expected is a validation error at its path."""
    data = {
        "all": [
            {"field": "email", "op": "is_set"},
            {"any": [{"field": "custom.score", "op": "gt", "value": "500"}]},
        ]
    }
    assert problems(data, custom_fields={"score": "number"}) == [
        ("all[1].any[0].value", "expected a number, got a string")
    ]


def test_every_problem_is_reported_not_just_the_first() -> None:
    """SPEC A1: one pass reports every problem, structural and typed, with its path."""
    data = {
        "all": [
            {"field": "tags", "op": "gt", "value": 1},
            {"field": "emial", "op": "is_set"},
            {"field": "email", "op": "is_set", "extra": 1},
            {"not": {"field": "custom.score", "op": "between", "value": [1, "x", True]}},
            {"field": "created_at", "op": "within_last", "value": {"amount": 0, "unit": "yr"}},
            {"any": []},
            7,
        ]
    }
    assert paths(data, custom_fields={"score": "number"}) == [
        "all[0].op",
        "all[1].field",
        "all[2].extra",
        "all[3].not.value",
        "all[4].value.unit",
        "all[4].value.amount",
        "all[5].any",
        "all[6]",
    ]


def test_list_items_are_named_one_by_one() -> None:
    """SPEC A1: each bad item of a list value gets its own path."""
    data = {"field": "custom.score", "op": "in", "value": [1, "a", True, 2]}
    assert problems(data, custom_fields={"score": "number"}) == [
        ("value[1]", "expected a number, got a string"),
        ("value[2]", "expected a number, got a boolean"),
    ]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "phone", "op": "equals"}, "equals needs a value"),
        ({"field": "phone", "op": "is_set", "value": "x"}, "is_set takes no value"),
        ({"field": "email", "op": "equals", "value": ""}, "non-empty string"),
        ({"field": "email", "op": "equals", "value": "a\x00b"}, "NUL"),
        ({"field": "email", "op": "equals", "value": "\ud800"}, "surrogate"),
        ({"field": "email", "op": "gt", "value": 1}, "does not apply to email"),
        ({"field": "email", "op": "like", "value": "x"}, "unknown operator"),
        ({"field": "custom.x", "op": "is_set"}, 'custom field "x" is not declared'),
        ({"field": "nope", "op": "is_set"}, "unknown field"),
        ({"field": 3, "op": "is_set"}, "expected a field name, got a number"),
        ({"field": "custom.score", "op": "gt", "value": float("inf")}, "finite"),
        ({"field": "custom.score", "op": "gt", "value": 2**63}, "64 bits"),
        ({"field": "custom.score", "op": "gt", "value": 10**5000}, "64 bits"),
        ({"field": "custom.score", "op": "between", "value": [2, 1]}, "greater than the high"),
        ({"field": "custom.score", "op": "between", "value": [1]}, "2 items"),
        ({"field": "custom.active", "op": "equals", "value": 1}, "expected true or false"),
        ({"field": "created_at", "op": "before", "value": "2024-01-01T00:00"}, "UTC offset"),
        ({"field": "created_at", "op": "before", "value": "yesterday"}, "ISO 8601"),
        ({"field": "created_at", "op": "before", "value": "0001-01-01T00:00+01:00"}, "range"),
        ({"field": "channels", "op": "has_channel", "value": "fax"}, "unknown channel kind"),
        ({"field": "phone_country", "op": "equals", "value": "USA"}, "two-letter"),
        ({"field": "conversation_status", "op": "equals", "value": "pending"}, "snoozed"),
        ({"field": "subscription", "op": "equals", "value": "subscribed"}, "needs a sender"),
        (
            {"field": "email", "op": "is_set", "sender": "wa"},
            "only used with the subscription field",
        ),
        ({"field": "tags", "op": "has_any", "value": []}, "non-empty array"),
        ({"field": "tags", "op": "has_any", "value": "vip"}, "expected an array"),
        (
            {"field": "tags", "op": "has_any", "value": ["t"] * (MAX_LIST_ITEMS + 1)},
            "at most 1000",
        ),
        (
            {"field": "created_at", "op": "within_last", "value": {"amount": True, "unit": "days"}},
            "whole number",
        ),
        (
            {
                "field": "created_at",
                "op": "within_last",
                "value": {"amount": 10**6, "unit": "days"},
            },
            "expected 1 to",
        ),
        ({"field": "created_at", "op": "within_last", "value": "7d"}, '"amount"'),
        ({"all": [{"field": "id", "op": "is_set"}], "any": []}, "unknown key"),
        ({"field": "id", "op": "is_set"}, "does not apply to id"),
    ],
)
def test_bad_conditions_say_what_was_expected(condition: dict[str, Any], message: str) -> None:
    """SPEC A1: messages say what was expected and what arrived."""
    found = problems(condition, custom_fields={"score": "number", "active": "boolean"})
    assert any(message in text for _, text in found), found


def test_groups_may_not_be_empty() -> None:
    """SPEC A1: an empty group would select everyone (or no one) by accident."""
    assert problems({"all": []}) == [("all", "a group needs at least one condition")]


def test_nesting_is_limited_and_reported_at_the_deepest_group() -> None:
    """SPEC A1: groups nest at any depth up to a documented limit."""
    node: dict[str, Any] = {"field": "email", "op": "is_set"}
    for _ in range(MAX_DEPTH):
        node = {"not": node}
    assert isinstance(parse_segment(node).root, NotGroup)
    found = problems({"not": node})
    assert found == [
        (".".join(["not"] * MAX_DEPTH), f"groups may nest at most {MAX_DEPTH} levels deep")
    ]


def test_absurdly_deep_input_is_a_validation_error() -> None:
    """SPEC A1: deep JSON text or deep mappings never escape as RecursionError."""
    deep: Any = {"field": "email", "op": "is_set"}
    for _ in range(5000):
        deep = {"not": deep}
    with pytest.raises(SegmentValidationError):
        parse_segment(deep)
    with pytest.raises(SegmentValidationError):
        parse_segment("[" * 100_000)


def test_a_cyclic_mapping_is_a_validation_error() -> None:
    """SPEC A1: a mapping that contains itself is refused, not looped over."""
    cyclic: dict[str, Any] = {"all": []}
    cyclic["all"].append(cyclic)
    with pytest.raises(SegmentValidationError):
        parse_segment(cyclic)


@pytest.mark.parametrize(
    "data", [None, 5, "", "null", "[]", b"\xff\xfe", "{", [], "x" * 10, {"all": "x"}]
)
def test_non_segments_are_validation_errors(data: Any) -> None:
    """SPEC A1: anything that is not a segment is a SegmentValidationError."""
    with pytest.raises(SegmentValidationError):
        parse_segment(data)


def test_values_are_normalised() -> None:
    """SPEC A1: enum values and country codes in any case, datetimes in UTC."""
    data = {
        "all": [
            {"field": "channels", "op": "has_channel", "value": "WhatsApp"},
            {"field": "conversation_status", "op": "in", "value": ["OPEN", "open"]},
            {"field": "phone_country", "op": "phone_country_is", "value": "br"},
            {"field": "created_at", "op": "after", "value": "2024-05-01T09:00:00+02:00"},
        ]
    }
    segment = parse_segment(data)
    values = [c.value for c in segment.conditions()]
    assert values == [
        ChannelKind.WHATSAPP,
        (ConversationStatus.OPEN,),
        ("BR",),
        datetime(2024, 5, 1, 7, 0, tzinfo=UTC),
    ]


def test_python_datetimes_are_accepted_in_mappings() -> None:
    """SPEC A1: a dict built in Python may carry aware datetimes directly."""
    when = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=-3)))
    segment = parse_segment({"field": "created_at", "op": "before", "value": when})
    assert segment.conditions()[0].value == when


def test_periods_are_parsed() -> None:
    """SPEC A1: relative periods carry an amount and a unit."""
    segment = parse_segment(
        {"field": "last_inbound_at", "op": "within_last", "value": {"amount": 7, "unit": "days"}}
    )
    assert segment.conditions()[0].value == Period(7, PeriodUnit.DAYS)


@pytest.mark.parametrize(
    ("custom_fields", "path"),
    [
        ({"score": "integer"}, "custom_fields.score"),
        ({"": "number"}, 'custom_fields[""]'),
        ({3: "number"}, "custom_fields[3]"),
        ([("score", "number")], "custom_fields"),
    ],
)
def test_bad_custom_field_declarations_are_validation_errors(custom_fields: Any, path: str) -> None:
    """SPEC A1: custom field types are declared by the caller, and checked."""
    assert paths(EXAMPLE, custom_fields=custom_fields) == [path]


def test_custom_field_types_may_be_enums_or_strings() -> None:
    """SPEC A1: FieldType members and their string values are interchangeable."""
    by_enum = parse_segment(EXAMPLE, custom_fields={"score": FieldType.NUMBER})
    assert by_enum == parse_segment(EXAMPLE, custom_fields={"score": "number"})


@given(segment_json)
def test_a_parsed_segment_round_trips_through_its_json(data: dict[str, Any]) -> None:
    """SPEC A1: to_dict / to_json write the segment so that it parses back equal."""
    segment = parse_segment(data, custom_fields=CUSTOM_FIELDS)
    assert parse_segment(segment.to_dict(), custom_fields=segment.custom_fields) == segment
    assert parse_segment(segment.to_json(), custom_fields=CUSTOM_FIELDS) == segment


@settings(max_examples=300)
@given(json_values)
def test_any_json_value_parses_or_raises_a_validation_error(data: Any) -> None:
    """SPEC A1: only SegmentValidationError escapes parse_segment, for any JSON value."""
    result = outcome(data)
    if isinstance(result, SegmentValidationError):
        assert result.problems
        assert all(isinstance(p, str) and isinstance(m, str) and m for p, m in result.problems)
    else:
        assert isinstance(result, Segment)


@settings(max_examples=200)
@given(json_values)
def test_any_json_text_parses_or_raises_a_validation_error(data: Any) -> None:
    """SPEC A1: the same holds for JSON text."""
    try:
        text = json.dumps(data)
    except ValueError:
        return
    result = outcome(text)
    assert isinstance(result, Segment) or result.problems


def _locations(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_locations(child, (*here, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_locations(child, (*here, index)))
    return found


def _replace(root: Any, where: tuple[Any, ...], value: Any) -> Any:
    if not where:
        return value
    parent = root
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = value
    return root


def _delete(root: Any, where: tuple[Any, ...]) -> Any:
    if not where:
        return root
    parent = root
    for step in where[:-1]:
        parent = parent[step]
    del parent[where[-1]]
    return root


@settings(max_examples=300)
@given(segment_json, st.data())
def test_mutated_segments_parse_or_raise_a_validation_error(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    """SPEC A1: random damage to a valid segment never escapes as another exception."""
    mutated: Any = copy.deepcopy(data)
    for _ in range(draw.draw(st.integers(min_value=1, max_value=3))):
        where = draw.draw(st.sampled_from(_locations(mutated)))
        action = draw.draw(st.sampled_from(["replace", "delete", "wrap", "add"]))
        if action == "replace":
            mutated = _replace(mutated, where, draw.draw(json_values))
        elif action == "delete":
            mutated = _delete(mutated, where)
        elif action == "wrap":
            mutated = _replace(mutated, where, [copy.deepcopy(_get(mutated, where))])
        else:
            target = _get(mutated, where)
            if isinstance(target, dict):
                target[draw.draw(st.sampled_from(["all", "any", "not", "value", "zz"]))] = (
                    draw.draw(json_values)
                )
    result = outcome(mutated)
    assert isinstance(result, Segment) or result.problems


def _get(root: Any, where: tuple[Any, ...]) -> Any:
    node = root
    for step in where:
        node = node[step]
    return node


def test_validation_errors_are_segment_errors_and_value_errors() -> None:
    """SPEC A1: callers can catch SegmentError or ValueError."""
    with pytest.raises(SegmentError):
        parse_segment({})
    with pytest.raises(ValueError, match="invalid segment"):
        parse_segment({})


def test_the_json_examples_in_the_docs_are_valid_segments() -> None:
    """SPEC A1: every JSON example in docs/segments.md parses."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "segments.md"
    blocks = re.findall(r"```json\n(.*?)```", docs.read_text(), re.S)
    assert blocks
    for block in blocks:
        assert isinstance(parse_segment(block), Segment)
