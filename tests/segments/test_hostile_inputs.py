"""Hostile values in every argument of the segment language and its SQL: only omnimsg
errors escape, in bounded time.

SPEC A1 (a segment selects contacts; time is passed in). Each public function gets
wrong types, None, NUL, lone surrogates, deeply nested structures, 100,000-character
strings and the ends of the date range in each of its arguments. Whatever it does, it
returns or raises an OmnimsgError, never a RecursionError, OverflowError, TypeError,
AttributeError, UnicodeError or KeyError, and it finishes well inside a few seconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odd_zones import BrokenOffset, NoOffset
from omnimsg.contacts import Contact
from omnimsg.errors import OmnimsgError
from omnimsg.segments import (
    AllGroup,
    AnyGroup,
    Condition,
    NotGroup,
    Period,
    Segment,
    compile_segment,
    filter_contacts,
    fold_case,
    parse_segment,
    predicate_source,
    segment_json_schema,
)
from omnimsg.segments.fields import STANDARD_FIELDS, FieldSpec, Operator, ValueKind
from omnimsg.segments.model import node_name
from omnimsg.segments.sql import (
    fold_sql,
    install_sqlite_functions,
    segment_clause,
    select_contact_ids,
)
from omnimsg.stores.sql import create_reference_schema, load_contacts

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
BOUND = 5.0
"""Seconds any one call may take: generous, far below what a quadratic path needs."""


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def _zone(zone: tzinfo) -> tzinfo | None:
    return zone


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _deep_groups(depth: int, key: str) -> dict[str, Any]:
    value: dict[str, Any] = {"field": "email", "op": "is_set"}
    for _ in range(depth):
        value = {key: value if key == "not" else [value]}
    return value


LONG = "é" * 100_000
WEST, EAST = timezone(timedelta(hours=-5)), timezone(timedelta(hours=5))
BROKEN_NOW = datetime(2024, 1, 1, tzinfo=BrokenOffset())
"""Kept out of the drawn values: hashing it raises, and Hypothesis hashes what it draws."""

SPECIAL: list[Any] = [
    None,
    "",
    "\x00",
    "\ud800",
    "a\udfffb",
    LONG,
    "9" * 100_000 + "x",
    b"\xff\xfe",
    bytearray(b"{}"),
    10**100,
    -(2**63) - 1,
    float("nan"),
    float("inf"),
    True,
    object(),
    _BadRepr(),
    _deep_list(100_000),
    _deep_groups(100_000, "not"),
    _deep_groups(5_000, "all"),
    datetime.max.replace(tzinfo=WEST),
    datetime.min.replace(tzinfo=EAST),
    datetime.max,
    datetime(2024, 1, 1, tzinfo=NoOffset()),
    date(2024, 1, 1),
    timedelta(days=1),
    {"all": []},
    {"field": "email", "op": "equals", "value": LONG},
    {"field": LONG, "op": LONG},
    [{"field": "email"}] * 3,
    STANDARD_FIELDS["email"],
    Operator.EQUALS,
    Period(amount=7, unit="days"),
    Segment(NotGroup(Condition(STANDARD_FIELDS["email"], Operator.IS_SET))),
]

hostile = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.datetimes(timezones=st.sampled_from([UTC, WEST, EAST, NoOffset()]).map(_zone)),
    st.datetimes(),
)


def _deep_nodes(depth: int) -> Any:
    node: Any = Condition(STANDARD_FIELDS["tags"], Operator.CONTAINS, "vip")
    for _ in range(depth):
        node = NotGroup(AnyGroup((node,)))
    return node


@st.composite
def hostile_nodes(draw: st.DrawFn) -> Any:
    """Hand-built nodes with hostile parts: fields, operators, values, children."""
    value = draw(hostile)
    kind = draw(st.sampled_from(["condition", "spec", "all", "any", "not", "deep", "raw"]))
    if kind == "condition":
        field = draw(st.sampled_from([*STANDARD_FIELDS.values(), value]))
        op = draw(st.sampled_from([*Operator, value]))
        return Condition(field=field, op=op, value=value, sender=draw(hostile))
    if kind == "spec":
        spec = FieldSpec(name=value, kind=ValueKind.TEXT, label="x", attribute=value)
        return Condition(field=spec, op=Operator.IS_SET)
    if kind == "all":
        return AllGroup(value)
    if kind == "any":
        return AnyGroup((value,))
    if kind == "not":
        return NotGroup(value)
    if kind == "deep":
        return _deep_nodes(draw(st.sampled_from([40, 300, 5_000])))
    return value


def _only_omnimsg_errors(call: Callable[[], object]) -> None:
    start = time.perf_counter()
    try:
        result = call()
        if isinstance(result, filter):
            list(result)
    except OmnimsgError:
        pass
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND, f"took {elapsed:.1f} s"


_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_SETTINGS
@given(data=hostile, custom_fields=hostile)
def test_parse_segment(data: Any, custom_fields: Any) -> None:
    """SPEC A1: segment JSON from outside, however hostile."""
    _only_omnimsg_errors(lambda: parse_segment(data))
    _only_omnimsg_errors(lambda: parse_segment(data, custom_fields=custom_fields))
    _only_omnimsg_errors(lambda: segment_json_schema(custom_fields=custom_fields))


COMPILERS: dict[str, Callable[[Any, Any], object]] = {
    "compile_segment": lambda segment, now: compile_segment(segment, now=now),
    "predicate_source": lambda segment, now: predicate_source(segment, now=now),
    "filter_contacts": lambda segment, now: filter_contacts(segment, [Contact("c")], now=now),
    "segment_clause": lambda segment, now: segment_clause(segment, now=now),
    "select_contact_ids": lambda segment, now: select_contact_ids(segment, now=now),
}


@_SETTINGS
@given(root=hostile_nodes(), now=hostile, name=st.sampled_from(list(COMPILERS)))
def test_every_compiler_with_hostile_segments_and_nows(root: Any, now: Any, name: str) -> None:
    """SPEC A1: hand-built nodes, deep nesting and any now compile or raise SegmentError
    / InputError."""
    compile_ = COMPILERS[name]
    _only_omnimsg_errors(lambda: compile_(Segment(root), now))
    _only_omnimsg_errors(lambda: compile_(Segment(root), NOW))
    _only_omnimsg_errors(lambda: compile_(root, NOW))


@_SETTINGS
@given(root=hostile_nodes())
def test_reading_hand_built_segments(root: Any) -> None:
    """SPEC A1: describe, to_dict, to_json, conditions and custom_fields on anything."""
    segment = Segment(root)
    for read in (
        segment.describe,
        segment.to_dict,
        segment.to_json,
        segment.conditions,
        lambda: segment.custom_fields,
        lambda: node_name(root),
    ):
        _only_omnimsg_errors(read)
    if isinstance(root, Condition | AllGroup | AnyGroup | NotGroup):
        _only_omnimsg_errors(root.describe)
        _only_omnimsg_errors(root.to_dict)


@_SETTINGS
@given(contact=hostile, segment=hostile, now=hostile)
def test_filter_contacts_and_compiled_predicates(contact: Any, segment: Any, now: Any) -> None:
    """SPEC A2: anything in place of the contacts, the segment or the predicate."""
    parsed = parse_segment(
        {
            "any": [
                {
                    "field": "custom.when",
                    "op": "within_last",
                    "value": {"amount": 1, "unit": "days"},
                },
                {
                    "field": "last_inbound_at",
                    "op": "more_than_ago",
                    "value": {"amount": 2, "unit": "hours"},
                },
                {"field": "first_name", "op": "contains", "value": "é"},
            ]
        },
        custom_fields={"when": "datetime"},
    )
    predicate = compile_segment(parsed, now=NOW)
    _only_omnimsg_errors(lambda: predicate(contact))
    _only_omnimsg_errors(lambda: predicate(Contact("c", custom={"when": contact})))
    _only_omnimsg_errors(lambda: filter_contacts(parsed, contact, now=NOW))
    _only_omnimsg_errors(lambda: filter_contacts(parsed, [contact], now=NOW))
    _only_omnimsg_errors(lambda: filter_contacts(segment, [Contact("c")], now=now))


@_SETTINGS
@given(amount=hostile, unit=hostile, now=hostile)
def test_periods(amount: Any, unit: Any, now: Any) -> None:
    """SPEC A1: a period is checked when built and resolved against any now."""
    period: list[Period] = []
    _only_omnimsg_errors(lambda: period.append(Period(amount=amount, unit=unit)))
    good = period[0] if period else Period(amount=1, unit="months")
    _only_omnimsg_errors(lambda: good.cutoff(now))
    _only_omnimsg_errors(lambda: good.window(now))
    _only_omnimsg_errors(good.describe)


@_SETTINGS
@given(value=hostile)
def test_the_sql_helpers(value: Any) -> None:
    """SPEC section 3: the fold for an application's own queries and its SQLite function."""
    _only_omnimsg_errors(lambda: fold_case(value))
    _only_omnimsg_errors(lambda: fold_sql(value))
    _only_omnimsg_errors(lambda: install_sqlite_functions(value))
    segment = parse_segment({"field": "email", "op": "is_set"})
    _only_omnimsg_errors(lambda: segment_clause(segment, now=NOW, tables=value))


def test_the_sqlite_function_folds_what_sqlite_hands_it() -> None:
    """SPEC section 3: omnimsg_fold passes NULL, numbers and blobs through unchanged."""
    conn = sqlite3.connect(":memory:")
    install_sqlite_functions(conn)
    row = conn.execute(
        "select omnimsg_fold(?), omnimsg_fold(?), omnimsg_fold(?), omnimsg_fold(?)",
        ("ÉA", None, 5, b"AB"),
    ).fetchone()
    assert row == ("éa", None, 5, b"AB")
    conn.close()


def test_a_long_text_condition_runs_in_linear_time_in_sql() -> None:
    """SPEC A1: 100,000-character values build, compile and run on SQLite quickly."""
    segment = parse_segment({"field": "email", "op": "contains", "value": LONG})
    engine = sa.create_engine("sqlite://")
    sa.event.listen(engine, "connect", install_sqlite_functions)
    start = time.perf_counter()
    with engine.begin() as conn:
        create_reference_schema(conn)
        load_contacts(
            conn, [Contact("long", email="x" + LONG.upper()), Contact("short", email="é")]
        )
        found = set(conn.execute(select_contact_ids(segment, now=NOW)).scalars())
    assert found == {"long"}
    assert time.perf_counter() - start < BOUND


def test_a_datetime_whose_tzinfo_raises_is_refused_everywhere() -> None:
    """SPEC A1: a tzinfo is user code; when it fails, the error is an omnimsg error."""
    segment = parse_segment(
        {"field": "custom.when", "op": "within_last", "value": {"amount": 1, "unit": "days"}},
        custom_fields={"when": "datetime"},
    )
    for name, compile_ in COMPILERS.items():
        _only_omnimsg_errors(lambda c=compile_: c(segment, BROKEN_NOW))  # type: ignore[misc]
        assert name
    hand_built = Condition(STANDARD_FIELDS["created_at"], Operator.BEFORE, BROKEN_NOW)
    _only_omnimsg_errors(lambda: compile_segment(Segment(hand_built), now=NOW))
    _only_omnimsg_errors(
        lambda: parse_segment({"field": "created_at", "op": "before", "value": BROKEN_NOW})
    )
    predicate = compile_segment(segment, now=NOW)
    _only_omnimsg_errors(lambda: predicate(Contact("c", custom={"when": BROKEN_NOW})))
    _only_omnimsg_errors(lambda: Period(amount=1, unit="days").cutoff(BROKEN_NOW))
