"""Hostile values in every argument and every field of a broadcast draft: only omnimsg
errors escape, in bounded time.

SPEC B1-B11, B16, C1-C5, X2, X4, A3, A4: the draft and its lifecycle come from
outside. Every public function of omnimsg.broadcasts.draft and .lifecycle gets wrong
types, None, NUL, lone surrogates, deeply nested structures, 100,000-character
strings and the ends of the date range, in each argument and in each field of a
draft. Whatever it does, it returns or raises an OmnimsgError, never a
RecursionError, OverflowError, TypeError, AttributeError, UnicodeError or KeyError,
and it finishes well inside a few seconds.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odd_zones import BrokenOffset, NoOffset
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.draft import (
    draft_from_dict,
    draft_json_schema,
    draft_to_dict,
    load_draft,
)
from omnimsg.broadcasts.lifecycle import check_recurrence, occurrences, transition
from omnimsg.broadcasts.model import BroadcastMessage, Schedule
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import load_profile
from omnimsg.errors import DraftError, OmnimsgError
from omnimsg.segments import Condition, NotGroup, Segment

T = TypeVar("T")
EXAMPLE = Path(__file__).parents[2] / "examples" / "winter_service.toml"
PROFILES = (load_profile("expertconnect"), load_profile("respondio"))
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BOUND = 5.0
"""Seconds any one call may take: generous, far below what a quadratic path needs."""
LONG = "é" * 100_000
WEST, EAST = timezone(timedelta(hours=-5)), timezone(timedelta(hours=5))


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _deep_table(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _wide_dag(depth: int) -> dict[str, Any]:
    """A table whose two keys share one child, ``depth`` times: 2**depth paths."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value, "b": value}
    return value


def _cycle() -> dict[str, Any]:
    table: dict[str, Any] = {"id": "x"}
    table["self"] = table
    return table


class _FailingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no")

    def __len__(self) -> int:
        raise RuntimeError("no")


class _EndlessMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        return 1

    def __iter__(self) -> Iterator[str]:
        n = 0
        while True:
            n += 1
            yield str(n)

    def __len__(self) -> int:
        return 1


class _LyingList(list[Any]):
    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("no")

    def __len__(self) -> int:
        return -1


class _OddStr(str):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no")

    __hash__ = str.__hash__

    def strip(self, *args: Any) -> str:
        raise RuntimeError("no")


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


SPECIAL: list[Any] = [
    None,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "a\udfffb",
    LONG,
    "9" * 100_000,
    "{{" * 50_000,
    _OddStr("sms"),
    b"\xff\xfe",
    10**100,
    10**5000,
    -(2**63) - 1,
    0,
    -1,
    float("nan"),
    float("inf"),
    1.5,
    True,
    object(),
    _BadRepr(),
    _deep_list(10_000),
    _deep_table(10_000),
    _wide_dag(60),
    _cycle(),
    _FailingMapping(),
    _EndlessMapping(),
    _LyingList([1, 2]),
    [LONG] * 3,
    {"text": LONG},
    {LONG: 1},
    {1: 2},
    [],
    {},
    datetime.max.replace(tzinfo=WEST),
    datetime.min.replace(tzinfo=EAST),
    datetime.max,
    datetime(2026, 1, 1, tzinfo=NoOffset()),
    date(2026, 1, 1),
    clock(8, tzinfo=UTC),
    timedelta(days=1),
    ChannelKind.SMS,
]

BROKEN = datetime(2026, 1, 1, tzinfo=BrokenOffset())
"""Kept out of the drawn values: hashing it raises, and Hypothesis hashes what it draws."""
EVERY = [*SPECIAL, BROKEN]

hostile = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.lists(st.text(max_size=5), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.datetimes(timezones=st.sampled_from([UTC, WEST, EAST])),
)


def _only_omnimsg_errors(call: Callable[[], T]) -> T | None:
    start = time.perf_counter()
    result: T | None = None
    with contextlib.suppress(OmnimsgError):
        result = call()
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND, f"took {elapsed:.1f} s"
    return result


def _raises_quickly(call: Callable[[], object], error: type[OmnimsgError]) -> OmnimsgError:
    start = time.perf_counter()
    with pytest.raises(error) as info:
        call()
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND, f"took {elapsed:.1f} s"
    return info.value


def _example() -> dict[str, Any]:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["rate"] = {"messages": 10, "per": "minute"}
    data["schedule"]["recurrence"] = "FREQ=WEEKLY;COUNT=2"
    data["audience"]["contact_ids"] = ["c1"]
    data["content"]["sms"][0]["template_params"] = {"name": "x"}
    data["content"]["sms"][0]["template"] = "t"
    data["content"]["sms"][0]["media"][0]["filename"] = "a.jpg"
    return data


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the example data a value sits at, containers included."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
        yield (*path, "unknown_key")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


PATHS = [p for p in _paths(_example()) if p]


def _replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_example())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _everything_on(data: Any) -> None:
    """Read, validate and write ``data``: only omnimsg errors, in bounded time."""
    draft = _only_omnimsg_errors(lambda: draft_from_dict(data))
    if draft is None:
        return
    for profile in PROFILES:
        _only_omnimsg_errors(lambda p=profile: validate_draft(draft, p, now=NOW))  # type: ignore[misc]
    written = _only_omnimsg_errors(lambda: draft_to_dict(draft))
    if written is not None:
        assert draft_from_dict(written) == draft


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_with_every_special_value(path: tuple[Any, ...]) -> None:
    """SPEC B1-B11, C1-C5, X2, X4, A3, A4: each field of a draft, however hostile."""
    for value in EVERY:
        _everything_on(_replaced(path, value))


_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_SETTINGS
@given(path=st.sampled_from(PATHS), value=hostile)
def test_every_field_with_drawn_values(path: tuple[Any, ...], value: Any) -> None:
    _everything_on(_replaced(path, value))


@_SETTINGS
@given(data=st.one_of(hostile, st.sampled_from(SPECIAL)), source=hostile)
def test_draft_from_dict_with_anything(data: Any, source: Any) -> None:
    _only_omnimsg_errors(lambda: draft_from_dict(data))
    _only_omnimsg_errors(lambda: draft_from_dict(_example(), source=source))


def test_a_failing_mapping_becomes_a_draft_error() -> None:
    for data in (_FailingMapping(), {"audience": _FailingMapping()}, _EndlessMapping()):
        with pytest.raises(DraftError):
            draft_from_dict(data)


def test_deep_nesting_is_refused_without_recursion() -> None:
    """SPEC A1: a segment nested past its limit, and arrays 10,000 deep."""
    deep_segment: dict[str, Any] = {"field": "email", "op": "is_set"}
    for _ in range(10_000):
        deep_segment = {"not": deep_segment}
    for data in (
        _replaced(("audience", "segment"), deep_segment),
        _replaced(("audience", "id_list"), _deep_list(10_000)),
        _replaced(("content", "sms"), _deep_list(10_000)),
    ):
        with pytest.raises(DraftError, match="nest"):
            draft_from_dict(data)


@_SETTINGS
@given(
    draft_arg=st.one_of(st.sampled_from(SPECIAL), hostile),
    profile=st.sampled_from([*SPECIAL[:12], *PROFILES]),
    size=st.one_of(st.sampled_from(SPECIAL), st.integers()),
    now=st.one_of(st.sampled_from(SPECIAL), st.datetimes(timezones=st.sampled_from([UTC, EAST]))),
)
def test_validate_draft_with_hostile_arguments(
    draft_arg: Any, profile: Any, size: Any, now: Any
) -> None:
    draft = load_draft(EXAMPLE)
    _only_omnimsg_errors(lambda: validate_draft(draft_arg, profile))
    _only_omnimsg_errors(lambda: validate_draft(draft, profile, audience_size=size, now=now))
    _only_omnimsg_errors(lambda: validate_draft(draft, PROFILES[0], audience_size=size, now=now))


@pytest.mark.parametrize(
    "start",
    [
        datetime.max.replace(tzinfo=UTC),
        datetime.max.replace(tzinfo=WEST),
        datetime.min.replace(tzinfo=UTC),
        datetime.min.replace(tzinfo=EAST),
        datetime(2026, 1, 1, tzinfo=BrokenOffset()),
        datetime(9999, 12, 20, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize(
    "recurrence",
    [
        None,
        "FREQ=DAILY",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2,3,4,5,6,7,-7",
        "FREQ=YEARLY;INTERVAL=100000",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        LONG,
        "FREQ=DAILY;\x00",
        "FREQ=DAILY;BYDAY=\ud800",
    ],
)
def test_hand_built_schedules_at_the_ends_of_time(start: datetime, recurrence: str | None) -> None:
    """SPEC B9: the model checks types only; validation and occurrences check the rest."""
    schedule = Schedule(start=start, recurrence=recurrence)
    draft = attrs.evolve(load_draft(EXAMPLE), schedule=schedule)
    for profile in PROFILES:
        _only_omnimsg_errors(lambda p=profile: validate_draft(draft, p, now=NOW))  # type: ignore[misc]
        _only_omnimsg_errors(lambda p=profile: validate_draft(draft, p))  # type: ignore[misc]
    for now in (NOW, datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)):
        _only_omnimsg_errors(lambda n=now: occurrences(schedule, now=n))  # type: ignore[misc]
    _only_omnimsg_errors(lambda: draft_to_dict(draft))


def test_hand_built_messages_with_huge_or_broken_text() -> None:
    """SPEC C1, C3, C5: the model checks types only; validation measures the rest."""
    base = load_draft(EXAMPLE)
    for text in (LONG, "{{" * 50_000, "{{ a }}" * 20_000, "\x00" * 1000, "\ud800" * 1000):
        message = _only_omnimsg_errors(lambda t=text: BroadcastMessage(text=t))  # type: ignore[misc]
        if message is None:
            continue
        draft = attrs.evolve(base, content={ChannelKind.SMS: (message,)})
        for profile in PROFILES:
            _only_omnimsg_errors(lambda d=draft, p=profile: validate_draft(d, p))  # type: ignore[misc]
        _only_omnimsg_errors(lambda d=draft: draft_to_dict(d))  # type: ignore[misc]


def test_a_hand_built_invalid_segment_is_an_omnimsg_error() -> None:
    bad = Segment(NotGroup(Condition(LONG, LONG)))  # type: ignore[arg-type]
    draft = load_draft(EXAMPLE)
    audience = attrs.evolve(draft.audience, segment=bad)
    _only_omnimsg_errors(lambda: draft_to_dict(attrs.evolve(draft, audience=audience)))


@_SETTINGS
@given(value=st.one_of(st.sampled_from(SPECIAL), hostile))
def test_the_other_functions_with_hostile_arguments(value: Any) -> None:
    _only_omnimsg_errors(lambda: draft_to_dict(value))
    _only_omnimsg_errors(lambda: draft_json_schema(custom_fields=value))
    _only_omnimsg_errors(lambda: transition(value, "draft"))
    _only_omnimsg_errors(lambda: transition("draft", value))
    _only_omnimsg_errors(lambda: occurrences(value, now=NOW))
    _only_omnimsg_errors(lambda: occurrences(Schedule(), now=value))
    _only_omnimsg_errors(lambda: occurrences(Schedule(), now=NOW, limit=value))
    _only_omnimsg_errors(lambda: check_recurrence(value, NOW))
    _only_omnimsg_errors(lambda: check_recurrence("FREQ=DAILY", value))
    _only_omnimsg_errors(lambda: load_draft(value))


@pytest.mark.parametrize(
    "rule",
    [
        LONG,
        "FREQ=DAILY;INTERVAL=" + "9" * 400,
        "FREQ=DAILY;COUNT=" + "9" * 400,
        "FREQ=DAILY;BYSETPOS=" + ",".join(["1"] * 200),
        "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=SECONDLY;BYSETPOS=2",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYDAY=MO,TU;BYMONTHDAY=" + ",".join(map(str, range(1, 32))),
        "FREQ=YEARLY;BYWEEKNO=" + ",".join(map(str, range(1, 32))) + ";BYSETPOS=-1,-2,-3",
        "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2,4,6,9,11",
        "FREQ=SECONDLY;BYSETPOS=1;BYMONTHDAY=31;BYMONTH=4",
        "FREQ=DAILY;UNTIL=00010101T000000Z",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        "FREQ=DAILY;UNTIL=20261399T999999Z",
        "FREQ=WEEKLY;WKST=XX",
        "RRULE:RRULE:FREQ=DAILY",
        ";;;",
        "=",
    ],
)
def test_hostile_recurrence_rules(rule: str) -> None:
    """SPEC B9: any rule ends as instants or an InputError, quickly."""
    for start in (NOW, datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        schedule = Schedule(start=start, recurrence=rule)
        _only_omnimsg_errors(lambda s=schedule: occurrences(s, now=NOW, limit=10_000))  # type: ignore[misc]
        _only_omnimsg_errors(lambda s=start: check_recurrence(rule, s))  # type: ignore[misc]


# --- files ----------------------------------------------------------------------------------


def test_load_draft_with_hostile_paths(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for path in (
        "",
        "\x00.toml",
        "\ud800.toml",
        "x" * 100_000 + ".toml",
        str(tmp_path / "missing.toml"),
        str(folder),
        tmp_path / "missing.json",
        str(EXAMPLE)[:-5] + ".yaml",
        Path("/dev/null"),
    ):
        _raises_quickly(lambda p=path: load_draft(p), OmnimsgError)  # type: ignore[misc]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_load_draft_refuses_a_fifo_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "draft.toml"
    os.mkfifo(fifo)
    assert "FIFO" in str(_raises_quickly(lambda: load_draft(fifo), DraftError))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.toml", b"a = " + b"[" * 10_000 + b"]" * 10_000),
        ("deep.json", b"[" * 10_000 + b"]" * 10_000),
        ("deep-table.json", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
        ("latin1.toml", 'name = "Espa\xf1a"'.encode("latin-1")),
        ("nul.toml", b'id = "a\x00"'),
        ("surrogate.json", b'{"id": "\\ud800", "name": "x"}'),
        ("array.json", b"[1, 2]"),
        ("empty.toml", b""),
        ("broken.toml", b"id = "),
        ("broken.json", b'{"id": '),
        ("long.json", b'{"id": "' + b"x" * 1_000_000 + b'"}'),
        ("naive.toml", b"[schedule]\nstart = 2026-12-01T09:00:00"),
    ],
)
def test_load_draft_with_hostile_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert name in str(_raises_quickly(lambda: load_draft(path), DraftError))


def test_load_draft_refuses_a_file_over_its_size_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omnimsg.broadcasts.draft as module

    monkeypatch.setattr(module, "MAX_DRAFT_BYTES", 100)
    path = tmp_path / "big.toml"
    path.write_bytes(b"# " + b"x" * 200)
    with pytest.raises(DraftError, match="larger than"):
        load_draft(path)
