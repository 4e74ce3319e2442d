"""Compiled predicates: which contacts a segment selects, and how the code is generated.

SPEC A1 (contacts meeting the criteria are the segment), A2 (a segment as an audience
source), A6 (a snoozed conversation is neither open nor closed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.errors import InputError, NaiveDatetimeError, SegmentError
from omnimsg.segments import (
    Condition,
    compile_segment,
    filter_contacts,
    parse_segment,
    predicate_source,
)
from omnimsg.segments.compiler import custom_value_type
from omnimsg.segments.fields import NEGATIONS, FieldSpec, FieldType, Operator, ValueKind
from omnimsg.segments.model import Segment

from .conftest import Backend, Evaluate
from .strategies import CUSTOM_FIELDS, condition_json, contact_sets, custom_values, instants

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

PEOPLE = [
    Contact(
        id="ana",
        tags={"vip"},
        custom={"score": 900},
        identities=[ChannelIdentity("wa-main", ChannelKind.WHATSAPP, "+5511987654321")],
    ),
    Contact(id="bo", tags={"vip"}, custom={"score": 100}),
    Contact(id="cy", tags={"gold"}, email="cy@example.com"),
    Contact(id="di", custom={"score": 700}),
]


def test_contacts_that_meet_the_criteria_are_the_segment(evaluate: Evaluate) -> None:
    """SPEC A1: the segment is exactly the contacts for which its conditions hold."""
    segment = parse_segment(
        {
            "all": [
                {"field": "tags", "op": "has_any", "value": ["vip", "gold"]},
                {
                    "any": [
                        {"field": "custom.score", "op": "gt", "value": 500},
                        {"not": {"field": "email", "op": "is_not_set"}},
                    ]
                },
            ]
        },
        custom_fields={"score": "number"},
    )
    assert evaluate(PEOPLE, segment, NOW) == {"ana", "cy"}


def test_a_segment_is_an_audience_source() -> None:
    """SPEC A2: a broadcast's audience can be a segment: it selects the recipients."""
    segment = parse_segment({"field": "channels", "op": "has_channel", "value": "whatsapp"})
    audience = [contact.id for contact in filter_contacts(segment, PEOPLE, now=NOW)]
    assert audience == ["ana"]


@pytest.mark.parametrize("status", ["closed", "open"])
def test_a_snoozed_contact_is_neither_open_nor_closed(evaluate: Evaluate, status: str) -> None:
    """SPEC A6: a snoozed contact does not appear among closed (nor open) conversations."""
    people = [Contact(id=s.value, conversation_status=s) for s in ConversationStatus] + [
        Contact(id="none")
    ]
    segment = parse_segment({"field": "conversation_status", "op": "equals", "value": status})
    assert evaluate(people, segment, NOW) == {status}


def test_snoozed_is_its_own_status(evaluate: Evaluate) -> None:
    """SPEC A6: conversations are open, closed or snoozed."""
    people = [Contact(id=s.value, conversation_status=s) for s in ConversationStatus]
    segment = parse_segment(
        {"field": "conversation_status", "op": "not_in", "value": ["open", "closed"]}
    )
    assert evaluate(people, segment, NOW) == {"snoozed"}


def test_filter_contacts_is_lazy() -> None:
    """SPEC A2: a large export is filtered one contact at a time."""

    def export() -> Iterator[Contact]:
        yield PEOPLE[0]
        raise AssertionError("read past the first match")

    segment = parse_segment({"field": "tags", "op": "contains", "value": "vip"})
    assert next(filter_contacts(segment, export(), now=NOW)).id == "ana"


def test_filter_contacts_accepts_a_compiled_predicate() -> None:
    """SPEC A2: compile once, filter many lists."""
    segment = parse_segment({"field": "tags", "op": "contains", "value": "gold"})
    predicate = compile_segment(segment, now=NOW)
    assert [c.id for c in filter_contacts(predicate, PEOPLE)] == ["cy"]
    assert [c.id for c in filter_contacts(predicate, reversed(PEOPLE))] == ["cy"]


def test_filter_contacts_needs_now_for_a_segment() -> None:
    """SPEC A1: time is passed in, never read from the clock."""
    segment = parse_segment({"field": "tags", "op": "contains", "value": "gold"})
    with pytest.raises(InputError, match="now= is required"):
        filter_contacts(segment, PEOPLE)  # type: ignore[call-overload]
    with pytest.raises(NaiveDatetimeError):
        compile_segment(segment, now=datetime(2024, 1, 1))


def test_relative_periods_are_resolved_once_at_compile_time() -> None:
    """SPEC A1: "within the last 7 days" means before the now given at compile time."""
    segment = parse_segment(
        {"field": "created_at", "op": "within_last", "value": {"amount": 7, "unit": "days"}}
    )
    recent = Contact(id="r", created_at=NOW - timedelta(days=6))
    assert compile_segment(segment, now=NOW)(recent)
    assert not compile_segment(segment, now=NOW + timedelta(days=2))(recent)


def test_days_are_calendar_days_in_the_time_zone_of_now() -> None:
    """SPEC A1: "1 day" before 12:00 Paris on the day clocks change is 12:00 the day before.

    That day has 23 hours, so "24 hours" reaches an hour further back.
    """
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2024, 3, 31, 12, 0, tzinfo=paris)
    day = parse_segment(
        {"field": "created_at", "op": "within_last", "value": {"amount": 1, "unit": "days"}}
    )
    hours = parse_segment(
        {"field": "created_at", "op": "within_last", "value": {"amount": 24, "unit": "hours"}}
    )
    created = Contact(id="x", created_at=datetime(2024, 3, 30, 11, 30, tzinfo=paris))
    assert not compile_segment(day, now=now)(created)
    assert compile_segment(hours, now=now)(created)


def test_a_period_reaching_before_year_one_is_a_segment_error() -> None:
    """SPEC A1: an impossible cutoff is reported, not an OverflowError."""
    segment = parse_segment(
        {"field": "created_at", "op": "more_than_ago", "value": {"amount": 100, "unit": "months"}}
    )
    with pytest.raises(SegmentError, match="outside the range of dates"):
        compile_segment(segment, now=datetime(3, 1, 1, tzinfo=UTC))


def test_latest_inbound_is_compared_as_instants_across_a_dst_fold() -> None:
    """SPEC A1: 01:30 in the second (later) pass through a fold is the later message."""
    new_york = ZoneInfo("America/New_York")
    first = datetime(2024, 11, 3, 1, 45, tzinfo=new_york, fold=0)
    second = datetime(2024, 11, 3, 1, 30, tzinfo=new_york, fold=1)
    contact = Contact(
        id="f",
        identities=[
            ChannelIdentity("a", ChannelKind.SMS, "1", last_inbound_at=first),
            ChannelIdentity("b", ChannelKind.SMS, "2", last_inbound_at=second),
        ],
    )
    boundary = second - timedelta(minutes=1)
    segment = parse_segment(
        {"field": "last_inbound_at", "op": "after", "value": boundary.isoformat()}
    )
    assert compile_segment(segment, now=NOW)(contact)


TRICKY = [
    "'); __import__('os').system('echo pwned') #",
    '" or True or "',
    "\\'; raise SystemExit #",
    "{c.id}",
    "\n    return True\n",
]


@pytest.mark.parametrize("value", TRICKY)
def test_values_are_bound_as_constants_never_pasted_into_the_source(value: str) -> None:
    """SPEC A1: a value is data; the generated code only refers to it by name."""
    segment = parse_segment(
        {
            "any": [
                {"field": "first_name", "op": "equals", "value": value},
                {"field": "tags", "op": "has_any", "value": [value]},
                {"field": "subscription", "sender": value, "op": "equals", "value": "subscribed"},
                {"field": f"custom.{value}", "op": "is_set"},
            ]
        },
        custom_fields={value: "string"},
    )
    source = predicate_source(segment, now=NOW)
    assert value not in source
    assert "pwned" not in source
    predicate = compile_segment(segment, now=NOW)
    assert predicate(Contact(id="x", first_name=value))
    assert not predicate(Contact(id="y", first_name="someone"))


def test_only_whitelisted_contact_attributes_reach_the_source() -> None:
    """SPEC A1: a hand-built field cannot smuggle code in as an attribute name."""
    evil = FieldSpec(
        name="first_name",
        kind=ValueKind.TEXT,
        label="first name",
        attribute="first_name or __import__('os')",
    )
    segment = Segment(Condition(field=evil, op=Operator.IS_SET))
    with pytest.raises(SegmentError, match="not a known contact field"):
        compile_segment(segment, now=NOW)


def _negated_pairs() -> st.SearchStrategy[dict[str, Any]]:
    return condition_json().filter(lambda c: Operator(c["op"]) in NEGATIONS)


@given(condition=_negated_pairs(), contacts=contact_sets(max_size=10), now=instants)
def test_a_negative_operator_is_the_complement_of_its_positive_twin(
    sqlite_backend: Backend,
    postgres_backend: Backend,
    condition: dict[str, Any],
    contacts: list[Contact],
    now: datetime,
) -> None:
    """SPEC section 3: not_equals, not_in, not_contains, is_not_set, has_none complement.

    In Python and in both databases the negative operator selects exactly the contacts
    its positive twin leaves out, and the same as ``{"not": positive}``. SQL compiles
    negative operators on their own path (``IS NULL OR NOT ...``), so it is checked too.
    """
    positive = {**condition, "op": NEGATIONS[Operator(condition["op"])].value}
    segments = [
        parse_segment(condition, custom_fields=CUSTOM_FIELDS),
        parse_segment(positive, custom_fields=CUSTOM_FIELDS),
        parse_segment({"not": positive}, custom_fields=CUSTOM_FIELDS),
    ]
    everyone = {c.id for c in contacts}
    in_python = [{c.id for c in filter_contacts(s, contacts, now=now)} for s in segments]
    for name, (negative, selected, negated) in (
        ("python", in_python),
        ("sqlite", sqlite_backend.ids(contacts, segments, now=now)),
        ("postgresql", postgres_backend.ids(contacts, segments, now=now)),
    ):
        assert negative == everyone - selected, name
        assert negated == negative, name


@given(condition=condition_json(), contacts=contact_sets(max_size=10), now=instants)
def test_a_predicate_returns_a_bool(
    condition: dict[str, Any], contacts: list[Contact], now: datetime
) -> None:
    """SPEC A1: a contact is in the segment or not; the predicate says True or False."""
    predicate = compile_segment(parse_segment(condition, custom_fields=CUSTOM_FIELDS), now=now)
    assert all(type(predicate(contact)) is bool for contact in contacts)


@given(custom=custom_values())
def test_a_custom_value_counts_as_the_same_type_in_predicates_and_in_the_loader(
    custom: dict[str, Any],
) -> None:
    """SPEC section 3: ``is_set`` on a custom field of type T holds exactly when
    ``custom_value_type`` (which decides the SQL column a value is loaded into) says T."""
    contact = Contact(id="x", custom=custom)
    for field_type in FieldType:
        for name in CUSTOM_FIELDS:
            segment = parse_segment(
                {"field": f"custom.{name}", "op": "is_set"}, custom_fields={name: field_type}
            )
            holds = compile_segment(segment, now=NOW)(contact)
            assert holds is (custom_value_type(custom.get(name)) is field_type), (name, field_type)
