"""A segment describes itself in plain English (SPEC A1: conditions and groups)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from omnimsg.segments import parse_segment

from .strategies import CUSTOM_FIELDS, segment_json


def describe(data: dict[str, Any]) -> str:
    return parse_segment(data, custom_fields={"score": "number", "vip": "boolean"}).describe()


def test_the_example_reads_as_a_sentence() -> None:
    """SPEC A1: groups are joined by and / or, nested groups are parenthesised."""
    text = describe(
        {
            "all": [
                {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
                {
                    "any": [
                        {"field": "custom.score", "op": "gt", "value": 500},
                        {"field": "email", "op": "is_not_set"},
                    ]
                },
            ]
        }
    )
    assert text == (
        "tags include any of vip, gold and (score is greater than 500 or e-mail is not set)"
    )


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"field": "first_name", "op": "equals", "value": "Ana"}, "first name is Ana"),
        ({"field": "email", "op": "not_equals", "value": "a@b.c"}, "e-mail is not a@b.c"),
        ({"field": "language", "op": "in", "value": ["en", "pt"]}, "language is any of en, pt"),
        ({"field": "lifecycle", "op": "not_in", "value": ["lead"]}, "lifecycle is none of lead"),
        ({"field": "email", "op": "contains", "value": "@x"}, "e-mail contains @x"),
        ({"field": "email", "op": "not_contains", "value": "a,b"}, 'e-mail does not contain "a,b"'),
        ({"field": "phone", "op": "starts_with", "value": "+55"}, "phone starts with +55"),
        ({"field": "email", "op": "is_set"}, "e-mail is set"),
        ({"field": "custom.score", "op": "gte", "value": 2.5}, "score is at least 2.5"),
        ({"field": "custom.score", "op": "lt", "value": 0}, "score is less than 0"),
        ({"field": "custom.score", "op": "lte", "value": 9}, "score is at most 9"),
        ({"field": "custom.score", "op": "between", "value": [1, 5]}, "score is between 1 and 5"),
        ({"field": "custom.vip", "op": "equals", "value": True}, "vip is true"),
        ({"field": "tags", "op": "contains", "value": "vip"}, "tags include vip"),
        ({"field": "tags", "op": "not_contains", "value": "vip"}, "tags do not include vip"),
        ({"field": "tags", "op": "has_all", "value": ["a", "b"]}, "tags include all of a, b"),
        ({"field": "tags", "op": "has_none", "value": ["a"]}, "tags include none of a"),
        ({"field": "tags", "op": "is_not_set"}, "tags are empty"),
        (
            {"field": "channels", "op": "has_channel", "value": "whatsapp"},
            "channels include whatsapp",
        ),
        (
            {
                "field": "last_interacted_channel",
                "op": "last_interacted_channel_is",
                "value": ["sms", "telegram"],
            },
            "last interacted channel is any of sms, telegram",
        ),
        (
            {"field": "phone_country", "op": "phone_country_is", "value": "br"},
            "phone country is BR",
        ),
        (
            {"field": "created_at", "op": "before", "value": "2024-05-01T09:00:00+02:00"},
            "created at is before 2024-05-01 07:00 UTC",
        ),
        (
            {"field": "created_at", "op": "gt", "value": "2024-05-01T09:00:30Z"},
            "created at is after 2024-05-01 09:00:30 UTC",
        ),
        (
            {
                "field": "last_inbound_at",
                "op": "within_last",
                "value": {"amount": 1, "unit": "days"},
            },
            "last inbound message is within the last 1 day",
        ),
        (
            {
                "field": "created_at",
                "op": "more_than_ago",
                "value": {"amount": 3, "unit": "months"},
            },
            "created at is more than 3 months ago",
        ),
        (
            {"field": "subscription", "sender": "wa-main", "op": "equals", "value": "declined"},
            "subscription to wa-main is declined",
        ),
        (
            {"not": {"field": "email", "op": "is_set"}},
            "not (e-mail is set)",
        ),
        (
            {"field": "first_name", "op": "equals", "value": " padded"},
            'first name is " padded"',
        ),
    ],
)
def test_each_operator_has_a_phrase(condition: dict[str, Any], text: str) -> None:
    """SPEC A1: every condition reads as its field, operator and value."""
    assert describe(condition) == text


@given(segment_json)
def test_every_segment_can_describe_itself(data: dict[str, Any]) -> None:
    """SPEC A1: describe() works for any valid segment and names every field."""
    segment = parse_segment(data, custom_fields=CUSTOM_FIELDS)
    text = segment.describe()
    assert text
    for condition in segment.conditions():
        assert condition.field.label in text
