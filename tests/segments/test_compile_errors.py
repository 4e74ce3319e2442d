"""What compiling a segment refuses, and how: the same documented errors in Python and SQL.

SPEC A1: a segment selects contacts against a ``now`` passed in. A bad ``now``, a
period that leaves the range of dates and a hand-built node that is not a valid
segment are reported as omnimsg errors naming the argument or the node, never as an
``AttributeError``, ``OverflowError`` or ``KeyError`` from inside the compiler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odd_zones import BrokenOffset, NoOffset
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, NaiveDatetimeError, SegmentError
from omnimsg.segments import (
    AllGroup,
    AnyGroup,
    Condition,
    NotGroup,
    Period,
    PeriodUnit,
    Segment,
    compile_segment,
    filter_contacts,
    parse_segment,
    predicate_source,
)
from omnimsg.segments.fields import (
    PERIOD_LIMITS,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    ValueKind,
    custom_field,
)
from omnimsg.segments.sql import segment_clause, select_contact_ids

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
LATE_9999 = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
"""Representable here, but 04:00 UTC on 10000-01-01, which is not."""

Compile = Callable[[Segment, datetime], object]


def _filter(segment: Segment, now: Any) -> object:
    return filter_contacts(segment, [], now=now)


COMPILERS: dict[str, Compile] = {
    "compile_segment": lambda segment, now: compile_segment(segment, now=now),
    "predicate_source": lambda segment, now: predicate_source(segment, now=now),
    "filter_contacts": _filter,
    "segment_clause": lambda segment, now: segment_clause(segment, now=now),
    "select_contact_ids": lambda segment, now: select_contact_ids(segment, now=now),
}
BOTH = ("compile_segment", "segment_clause")


def _period(op: str, amount: int, unit: str) -> Segment:
    return parse_segment(
        {"field": "created_at", "op": op, "value": {"amount": amount, "unit": unit}}
    )


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("unit", [unit.value for unit in PeriodUnit])
def test_within_last_against_a_now_beyond_the_utc_range_is_a_segment_error(
    name: str, unit: str
) -> None:
    """SPEC A1: a now whose UTC instant is past year 9999 is reported, not an OverflowError."""
    with pytest.raises(SegmentError, match="outside the range of"):
        COMPILERS[name](_period("within_last", 1, unit), LATE_9999)


@pytest.mark.parametrize("name", BOTH)
def test_more_than_ago_late_in_9999_compiles_when_its_cutoff_is_a_date(name: str) -> None:
    """SPEC A1: more_than_ago needs only the cutoff, which is representable here."""
    COMPILERS[name](_period("more_than_ago", 1, "days"), LATE_9999)


_OFFSETS = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
_ZONES = st.one_of(_OFFSETS, st.sampled_from([UTC, ZoneInfo("America/New_York")]))
_NEAR = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))
edge_nows = st.one_of(
    st.builds(lambda d, tz: (datetime.max - d).replace(tzinfo=tz), _NEAR, _ZONES),
    st.builds(lambda d, tz: (datetime.min + d).replace(tzinfo=tz), _NEAR, _ZONES),
    st.datetimes(timezones=_ZONES),
)
"""Aware datetimes over the whole range, often within three days of either end."""


@st.composite
def _periods(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(PeriodUnit))
    amount = draw(st.integers(min_value=1, max_value=PERIOD_LIMITS[unit]) | st.just(1))
    return {"amount": amount, "unit": unit.value}


def _outcome(compile_: Compile, segment: Segment, now: datetime) -> str:
    try:
        compile_(segment, now)
    except SegmentError:
        return "refused"
    return "compiled"


@given(
    op=st.sampled_from(["within_last", "more_than_ago"]),
    period=_periods(),
    now=edge_nows,
)
def test_a_period_at_the_edge_of_time_compiles_or_is_a_segment_error_in_both_compilers(
    op: str, period: dict[str, Any], now: datetime
) -> None:
    """SPEC A1: any aware now and valid period either compile or raise SegmentError, and
    Python and SQL agree on which."""
    segment = parse_segment({"field": "created_at", "op": op, "value": period})
    outcomes = {name: _outcome(COMPILERS[name], segment, now) for name in BOTH}
    assert len(set(outcomes.values())) == 1, outcomes
    if outcomes["compile_segment"] == "compiled":
        predicate = compile_segment(segment, now=now)
        for created in (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC), NOW):
            assert type(predicate(Contact(id="x", created_at=created))) is bool


NOT_DATETIMES = [
    pytest.param("2024-05-01T12:00:00Z", id="str"),
    pytest.param(date(2024, 5, 1), id="date"),
    pytest.param(1714564800, id="int"),
    pytest.param(None, id="None"),
]


@pytest.mark.parametrize("name", list(COMPILERS))
@pytest.mark.parametrize("now", NOT_DATETIMES)
def test_a_now_that_is_not_a_datetime_is_an_input_error_naming_now(name: str, now: Any) -> None:
    """SPEC A1: time is passed in as an aware datetime; anything else is named, not an
    AttributeError from deep inside."""
    segment = _period("within_last", 7, "days")
    with pytest.raises(InputError, match="now") as raised:
        COMPILERS[name](segment, now)
    assert not isinstance(raised.value, NaiveDatetimeError)
    assert name in str(raised.value)


@pytest.mark.parametrize("name", list(COMPILERS))
def test_a_naive_now_stays_a_naive_datetime_error(name: str) -> None:
    """SPEC A1: a naive now is refused with NaiveDatetimeError, naming the function."""
    with pytest.raises(NaiveDatetimeError, match=f"{name}: now"):
        COMPILERS[name](_period("within_last", 7, "days"), datetime(2024, 5, 1, 12))


@pytest.mark.parametrize("now", NOT_DATETIMES)
def test_a_period_resolved_against_a_non_datetime_is_an_input_error(now: Any) -> None:
    """SPEC A1: Period.cutoff checks its now like the compilers do."""
    with pytest.raises(InputError, match="now"):
        Period(amount=7, unit=PeriodUnit.DAYS).cutoff(now)


_SCORE = custom_field("score", FieldType.NUMBER)
_TAGS = STANDARD_FIELDS["tags"]
_CREATED = STANDARD_FIELDS["created_at"]
_EVIL = FieldSpec(
    name="first_name",
    kind=ValueKind.TEXT,
    label="first name",
    attribute="first_name or __import__('os')",
)
_UNKNOWN = FieldSpec(name="nickname", kind=ValueKind.TEXT, label="nickname")
_MISMATCHED = FieldSpec(
    name="custom.score",
    kind=ValueKind.TEXT,
    label="score",
    custom_name="score",
    custom_type=FieldType.NUMBER,
)

INVALID_NODES = [
    pytest.param(AllGroup(()), r"all group of 0 nodes: a group needs", id="empty all"),
    pytest.param(AnyGroup(()), r"any group of 0 nodes: a group needs", id="empty any"),
    pytest.param(NotGroup(AllGroup(())), r"all group of 0 nodes", id="empty all under not"),
    pytest.param("tags contains vip", r"not a valid segment node: 'tags contains vip'", id="str"),
    pytest.param(
        Condition(field=_TAGS, op=Operator.GT, value=1),
        r"condition \(tags gt\): the operator does not apply to tags",
        id="operator of another kind",
    ),
    pytest.param(
        Condition(field=_EVIL, op=Operator.IS_SET),
        r"condition \(first_name is_set\): not a known contact field",
        id="smuggled attribute",
    ),
    pytest.param(
        Condition(field=_UNKNOWN, op=Operator.EQUALS, value="x"),
        r"condition \(nickname equals\): not a known contact field",
        id="unknown field",
    ),
    pytest.param(
        Condition(field=_MISMATCHED, op=Operator.CONTAINS, value="x"),
        r"condition \(custom.score contains\): not a known contact field",
        id="custom field of the wrong kind",
    ),
    pytest.param(
        Condition(field=_TAGS, op=Operator.HAS_ANY, value="vip"),
        r"condition \(tags has_any\): the value does not fit the operator \(value: "
        r"expected an array, got a string\)",
        id="set operator without a list",
    ),
    pytest.param(
        Condition(field=STANDARD_FIELDS["email"], op=Operator.CONTAINS, value=7),
        r"condition \(email contains\): the value does not fit .*expected a string, got a number",
        id="substring operator without a string",
    ),
    pytest.param(
        Condition(field=_CREATED, op=Operator.WITHIN_LAST, value=7),
        r"condition \(created_at within_last\): the value does not fit .*\{\"amount\"",
        id="period operator without a period",
    ),
    pytest.param(
        Condition(field=STANDARD_FIELDS["email"], op=Operator.EQUALS, value="a\x00b"),
        r"condition \(email equals\): .*value: a string may not contain NUL",
        id="NUL in a value",
    ),
    pytest.param(
        Condition(field=STANDARD_FIELDS["email"], op=Operator.EQUALS, value="a\ud800"),
        r"condition \(email equals\): .*lone surrogate",
        id="lone surrogate in a value",
    ),
    pytest.param(
        Condition(field=_TAGS, op=Operator.HAS_ANY, value=("t",) * 1001),
        r"condition \(tags has_any\): .*at most 1000 items",
        id="list beyond MAX_LIST_ITEMS",
    ),
    pytest.param(
        Condition(field=_CREATED, op=Operator.BEFORE, value=datetime(2024, 1, 1)),
        r"condition \(created_at before\): .*needs a UTC offset",
        id="naive datetime value",
    ),
    pytest.param(
        Condition(field=_SCORE, op=Operator.GT, value=2**64),
        r"condition \(custom.score gt\): .*64 bits",
        id="integer beyond 64 bits",
    ),
    pytest.param(
        Condition(field=_SCORE, op=Operator.BETWEEN, value=(9, 1)),
        r"condition \(custom.score between\): .*low end of the range is greater",
        id="range upside down",
    ),
    pytest.param(
        Condition(field=STANDARD_FIELDS["subscription"], op=Operator.EQUALS, value="subscribed"),
        r"condition \(subscription equals\): sender: the subscription field needs a sender",
        id="subscription without a sender",
    ),
    pytest.param(
        Condition(field=_TAGS, op=Operator.IS_SET, sender="wa-main"),
        r"condition \(tags is_set\): sender: sender is only used with the subscription",
        id="sender on another field",
    ),
    pytest.param(
        Condition(field=custom_field("a\x00b", FieldType.STRING), op=Operator.IS_SET),
        r"a custom field name may not contain NUL",
        id="NUL in a custom field name",
    ),
    pytest.param(
        Condition(field=_TAGS, op="has_any", value=("vip",)),  # type: ignore[arg-type]
        r"condition \(tags 'has_any'\): the operator does not apply",
        id="operator as a plain string",
    ),
    pytest.param(
        AllGroup("abc"),  # type: ignore[arg-type]
        r"children must be a tuple of nodes",
        id="children not a tuple",
    ),
    pytest.param(
        AllGroup((Condition(field=_TAGS, op=Operator.IS_SET), NotGroup(AnyGroup((None,))))),  # type: ignore[arg-type]
        r": all\[1\]\.not\.any\[0\]: not a valid segment node: None",
        id="the path of a nested bad node",
    ),
    pytest.param(
        Condition(field=_SCORE, op=Operator.BETWEEN, value=5),
        r"condition \(custom.score between\): the value does not fit .*expected an array",
        id="range operator without a range",
    ),
]


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize(("root", "message"), INVALID_NODES)
def test_a_hand_built_invalid_node_is_a_segment_error_naming_it(
    name: str, root: Any, message: str
) -> None:
    """SPEC A1: the constructors trust their arguments, so the compilers check what they
    need and raise SegmentError (still a ValueError) naming the node."""
    with pytest.raises(SegmentError, match=message):
        COMPILERS[name](Segment(root), NOW)


@pytest.mark.parametrize("name", BOTH)
def test_something_else_than_a_segment_is_a_segment_error(name: str) -> None:
    """SPEC A1: segment JSON must go through parse_segment first."""
    data = {"field": "tags", "op": "contains", "value": "vip"}
    with pytest.raises(SegmentError, match=f"{name}: expected a Segment"):
        COMPILERS[name](data, NOW)  # type: ignore[arg-type]


def test_a_period_refuses_what_it_cannot_resolve() -> None:
    """SPEC A1: a hand-built period is checked when built, not when resolved."""
    for amount, unit, message in [
        (0, PeriodUnit.DAYS, "expected 1 to"),
        (10**9, PeriodUnit.HOURS, "expected 1 to"),
        ("7", PeriodUnit.DAYS, "expected a whole number"),
        (True, PeriodUnit.DAYS, "expected a whole number"),
        (7, "fortnights", "period unit"),
        (7, None, "period unit"),
    ]:
        with pytest.raises(SegmentError, match=message):
            Period(amount=amount, unit=unit)  # type: ignore[arg-type]
    assert Period(amount=7, unit="days") == Period(amount=7, unit=PeriodUnit.DAYS)


@pytest.mark.parametrize("name", list(COMPILERS))
def test_a_now_whose_tzinfo_gives_no_offset_is_naive(name: str) -> None:
    """SPEC A1: a tzinfo whose utcoffset() is None makes a naive now, refused as such."""
    now = datetime(2024, 5, 1, 12, tzinfo=NoOffset())
    with pytest.raises(NaiveDatetimeError, match=f"{name}: now"):
        COMPILERS[name](_period("within_last", 7, "days"), now)


@pytest.mark.parametrize("name", list(COMPILERS))
def test_a_now_whose_tzinfo_fails_is_an_input_error(name: str) -> None:
    """SPEC A1: a failing tzinfo is named, not a RuntimeError from the compiler."""
    now = datetime(2024, 5, 1, 12, tzinfo=BrokenOffset())
    with pytest.raises(InputError, match=f"{name}: now"):
        COMPILERS[name](_period("within_last", 7, "days"), now)


_EAST = timezone(timedelta(hours=5))
_WEST = timezone(timedelta(hours=-5))
EDGE_VALUES = [
    datetime.max.replace(tzinfo=_WEST),
    datetime.min.replace(tzinfo=_EAST),
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=ZoneInfo("America/New_York")),
]
"""Aware values whose UTC instant lies outside years 1-9999 (or just at their ends)."""


def _edge_contacts() -> list[Contact]:
    people = []
    for number, at in enumerate(EDGE_VALUES):
        people.append(
            Contact(
                id=f"e{number}",
                created_at=at,
                custom={"renewal": at},
                identities=[
                    ChannelIdentity("a", ChannelKind.SMS, "1", last_inbound_at=at),
                    ChannelIdentity("b", ChannelKind.SMS, "2", last_inbound_at=NOW),
                ],
            )
        )
    return people


DATE_CONDITIONS = [
    {"op": "within_last", "value": {"amount": 1, "unit": "hours"}},
    {"op": "more_than_ago", "value": {"amount": 1, "unit": "days"}},
    {"op": "before", "value": "2024-01-01T00:00:00Z"},
    {"op": "after", "value": "9999-12-31T00:00:00Z"},
    {"op": "between", "value": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]},
    {"op": "is_set"},
]


@pytest.mark.parametrize("field", ["created_at", "last_inbound_at", "custom.renewal"])
@pytest.mark.parametrize("condition", DATE_CONDITIONS, ids=lambda c: c["op"])
@pytest.mark.parametrize("now", [*EDGE_VALUES, NOW], ids=str)
def test_a_predicate_at_the_ends_of_the_date_range_answers_or_refuses_at_compile_time(
    field: str, condition: dict[str, Any], now: datetime
) -> None:
    """SPEC A1: near datetime.max and datetime.min (with offsets that push the instant
    past year 9999 or before year 1) a predicate says True or False, or compiling
    raises SegmentError; never an OverflowError while filtering."""
    segment = parse_segment({"field": field, **condition}, custom_fields={"renewal": "datetime"})
    try:
        predicate = compile_segment(segment, now=now)
    except SegmentError:
        return
    assert all(type(predicate(contact)) is bool for contact in _edge_contacts())


def test_the_latest_inbound_is_found_beyond_the_utc_range() -> None:
    """SPEC A1: 23:00 on 9999-12-31 at UTC-5 is later than any instant in 9999 UTC."""
    contact = _edge_contacts()[0]
    segment = parse_segment(
        {"field": "last_inbound_at", "op": "after", "value": "9999-12-31T23:00:00Z"}
    )
    assert compile_segment(segment, now=NOW)(contact) is True
