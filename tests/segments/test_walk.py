"""The one walk every reader of a segment shares: depth, order, and what it refuses.

SPEC A1: a segment is conditions and groups of conditions. Groups nest at most
MAX_DEPTH levels, however the segment was built: parse_segment checks JSON, and the
walk checks hand-built segments for both compilers, describe() and to_dict(), without
recursion and in linear time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from omnimsg.contacts import Contact
from omnimsg.errors import SegmentError
from omnimsg.segments import (
    MAX_DEPTH,
    MAX_TERMS,
    AllGroup,
    AnyGroup,
    Condition,
    Node,
    NotGroup,
    Segment,
    compile_segment,
    filter_contacts,
    parse_segment,
    predicate_source,
)
from omnimsg.segments.fields import STANDARD_FIELDS, Operator
from omnimsg.segments.sql import segment_clause, select_contact_ids

from .conftest import Evaluate

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
VIP = Condition(field=STANDARD_FIELDS["tags"], op=Operator.CONTAINS, value="vip")
EMAIL = Condition(field=STANDARD_FIELDS["email"], op=Operator.IS_SET)

READERS: dict[str, Callable[[Segment], object]] = {
    "compile_segment": lambda s: compile_segment(s, now=NOW),
    "predicate_source": lambda s: predicate_source(s, now=NOW),
    "filter_contacts": lambda s: filter_contacts(s, [], now=NOW),
    "segment_clause": lambda s: segment_clause(s, now=NOW),
    "select_contact_ids": lambda s: select_contact_ids(s, now=NOW),
    "Segment.describe": Segment.describe,
    "Segment.to_dict": Segment.to_dict,
    "Segment.to_json": Segment.to_json,
    "Segment.conditions": Segment.conditions,
    "Segment.custom_fields": lambda s: s.custom_fields,
    "NotGroup.describe": lambda s: s.root.describe(),
    "NotGroup.to_dict": lambda s: s.root.to_dict(),
}

SHAPES: dict[str, Callable[[Node], Node]] = {
    "not": NotGroup,
    "all": lambda child: AllGroup((child,)),
    "any of two": lambda child: AnyGroup((EMAIL, child)),
    "all, not": lambda child: NotGroup(AllGroup((child, VIP))),
}


def nested(depth: int, shape: Callable[[Node], Node] = NotGroup) -> Segment:
    """``depth`` groups around one condition, built by hand (no parse_segment)."""
    node: Node = VIP
    for _ in range(depth):
        node = shape(node)
    return Segment(node if isinstance(node, NotGroup) else NotGroup(node))


def _not_depth(depth: int) -> Segment:
    node: Node = VIP
    for _ in range(depth):
        node = NotGroup(node)
    return Segment(node)


@pytest.mark.parametrize("name", list(READERS))
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000, 5000])
def test_a_hand_built_segment_deeper_than_max_depth_is_a_segment_error(
    name: str, depth: int
) -> None:
    """SPEC A1: 300 to 5,000 hand-built levels end in SegmentError naming MAX_DEPTH,
    never RecursionError or 'too many nested parentheses'."""
    with pytest.raises(SegmentError, match=rf"at most {MAX_DEPTH} levels deep \(MAX_DEPTH\)"):
        READERS[name](_not_depth(depth))


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("name", ["compile_segment", "segment_clause", "Segment.describe"])
def test_every_kind_of_group_counts_towards_the_depth(name: str, shape: str) -> None:
    """SPEC A1: all, any and not are each one level, as in parse_segment."""
    with pytest.raises(SegmentError, match="MAX_DEPTH"):
        READERS[name](nested(2000, SHAPES[shape]))


def test_the_message_gives_the_path_to_the_group_too_deep() -> None:
    """SPEC A1: the path reads like parse_segment's JSON paths."""
    segment = nested(MAX_DEPTH + 3, SHAPES["any of two"])
    with pytest.raises(SegmentError) as raised:
        segment.describe()
    message = str(raised.value)
    assert message.startswith("Segment.describe: not." + ".".join(["any[1]"] * (MAX_DEPTH - 1)))


@pytest.mark.parametrize("name", list(READERS))
def test_max_depth_itself_is_allowed(name: str) -> None:
    """SPEC A1: exactly MAX_DEPTH nested groups are a valid segment."""
    READERS[name](_not_depth(MAX_DEPTH))


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_parse_segment_and_the_walk_draw_the_line_at_the_same_depth(depth: int) -> None:
    """SPEC A1: what parse_segment accepts, every reader accepts, and no more."""
    data: dict[str, Any] = {"field": "tags", "op": "contains", "value": "vip"}
    for _ in range(depth):
        data = {"not": data}
    parsed_ok = _accepts(lambda: parse_segment(data))
    walked_ok = _accepts(lambda: compile_segment(_not_depth(depth), now=NOW))
    assert parsed_ok is walked_ok is (depth <= MAX_DEPTH)


def _accepts(run: Callable[[], object]) -> bool:
    try:
        run()
    except SegmentError:
        return False
    return True


def test_the_deepest_segment_selects_the_same_contacts_everywhere(evaluate: Evaluate) -> None:
    """SPEC A1: MAX_DEPTH levels of groups evaluate alike in Python, SQLite and
    PostgreSQL (32 nots are 32 logical negations)."""
    segment = nested(MAX_DEPTH - 1, SHAPES["any of two"])
    people = [Contact(id="vip", tags={"vip"}), Contact(id="mail", email="a@b.c"), Contact(id="x")]
    expected = {c.id for c in filter_contacts(segment, people, now=NOW)}
    assert expected == {"x"}
    assert evaluate(people, segment, NOW) == expected


@pytest.mark.parametrize("name", ["compile_segment", "segment_clause", "Segment.describe"])
def test_refusing_a_deep_segment_takes_time_linear_in_max_depth(name: str) -> None:
    """SPEC A1: the walk stops at MAX_DEPTH; a million levels cost no more than 300."""
    deep = _not_depth(1_000_000)
    start = time.perf_counter()
    with pytest.raises(SegmentError, match="MAX_DEPTH"):
        READERS[name](deep)
    assert time.perf_counter() - start < 1.0


def test_a_wide_group_is_walked_in_linear_time() -> None:
    """SPEC A1: 100,000 siblings are described and written back in bounded time, and
    compiling them is refused at MAX_TERMS before building anything that large."""
    wide = Segment(AnyGroup(tuple(VIP for _ in range(100_000))))
    start = time.perf_counter()
    assert wide.describe().count(" or ") == 99_999
    assert len(wide.to_dict()["any"]) == 100_000
    with pytest.raises(SegmentError, match="MAX_TERMS"):
        compile_segment(wide, now=NOW)
    with pytest.raises(SegmentError, match="MAX_TERMS"):
        segment_clause(wide, now=NOW)
    assert time.perf_counter() - start < 20.0


def test_a_segment_just_within_max_terms_compiles() -> None:
    """SPEC A1: MAX_TERMS counts one per condition plus one per value."""
    half = MAX_TERMS // 2
    within = Segment(AnyGroup(tuple(VIP for _ in range(half))))
    beyond = Segment(AnyGroup(tuple(VIP for _ in range(half + 1))))
    assert compile_segment(within, now=NOW)(Contact(id="v", tags={"vip"}))
    with pytest.raises(SegmentError, match="MAX_TERMS"):
        compile_segment(beyond, now=NOW)


def test_conditions_come_in_document_order() -> None:
    """SPEC A1: the walk is depth first, left to right."""
    first = Condition(field=STANDARD_FIELDS["email"], op=Operator.IS_SET)
    second = Condition(field=STANDARD_FIELDS["phone"], op=Operator.IS_SET)
    third = Condition(field=STANDARD_FIELDS["language"], op=Operator.IS_SET)
    segment = Segment(AllGroup((NotGroup(AnyGroup((first, second))), third)))
    assert segment.conditions() == (first, second, third)


def test_a_hand_built_segment_is_read_like_the_parsed_one() -> None:
    """SPEC A1: hand-built values are normalised by the same rules as JSON (a channel
    kind in any case, a country in lower case, a date-time with an offset)."""
    data = {
        "all": [
            {"field": "channels", "op": "has_channel", "value": "WhatsApp"},
            {"field": "phone_country", "op": "phone_country_is", "value": "br"},
            {"field": "created_at", "op": "before", "value": "2024-05-01T09:00:00+02:00"},
        ]
    }
    parsed = parse_segment(data)
    hand_built = Segment(
        AllGroup(
            (
                Condition(STANDARD_FIELDS["channels"], Operator.HAS_CHANNEL, "WhatsApp"),
                Condition(STANDARD_FIELDS["phone_country"], Operator.PHONE_COUNTRY_IS, "br"),
                Condition(
                    STANDARD_FIELDS["created_at"],
                    Operator.BEFORE,
                    datetime.fromisoformat("2024-05-01T09:00:00+02:00"),
                ),
            )
        )
    )
    assert hand_built.to_dict() == parsed.to_dict()
    assert hand_built.describe() == parsed.describe()
    assert predicate_source(hand_built, now=NOW) == predicate_source(parsed, now=NOW)
