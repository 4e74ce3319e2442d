"""Durations and instants: the time values every window rule is built on (SPEC W1–W8).

Profiles write windows as durations (``window = "24h"``, W8) and every decision takes
``now``; both are checked here, at the edges a hostile caller reaches: wrong types,
naive or broken time zones, the ends of the date range, and 100,000-character text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg._time import MAX_DURATION, parse_duration, require_aware, require_instant
from omnimsg.errors import InputError, NaiveDatetimeError

BOUND_SECONDS = 2.0
LONG = 100_000


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    with contextlib.suppress(InputError):
        call()
    return time.perf_counter() - start


# parse_duration: what it reads --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("48H", timedelta(hours=48)),
        ("1w", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        (" 2 d\t12 h\n", timedelta(days=2, hours=12)),
        ("1.5h", timedelta(minutes=90)),
        ("0.1s", timedelta(milliseconds=100)),
        ("0s", timedelta(0)),
        ("0000000000000000000000000000024h", timedelta(hours=24)),
        ("3660d", MAX_DURATION),
    ],
)
def test_w8_durations_in_profiles_are_read_exactly(text: str, expected: timedelta) -> None:
    """SPEC W8: windows are profile data written as durations (W2's 24h, W3's 7d)."""
    assert parse_duration(text) == expected


def test_fractions_are_rounded_to_the_microsecond_half_up() -> None:
    """A fraction finer than a microsecond rounds; digits past that change nothing."""
    assert parse_duration("1.0000005s") == timedelta(seconds=1, microseconds=1)
    assert parse_duration("1.00000049s") == timedelta(seconds=1)
    assert parse_duration("0." + "3" * 5000 + "s") == timedelta(microseconds=333_333)


def test_max_duration_is_about_ten_years() -> None:
    """The documented limit that profile windows and periods are checked against."""
    assert timedelta(days=3660) == MAX_DURATION


@pytest.mark.parametrize(
    "text",
    ["3661d", "523w", "87841h", "3660d1s", "1" * 13 + "s", "9" * 400 + "h", "1" * LONG + "h"],
)
def test_durations_beyond_the_maximum_are_refused(text: str) -> None:
    """A window of '3000000d' once validated and then made every decide overflow."""
    with pytest.raises(InputError, match="longer than the maximum of 3660 days"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("24", "position 1"),
        ("h", "position 1"),
        ("24x", "position 1"),
        ("1h30", "position 3"),
        ("1h 30x", "position 4"),
        ("1.h", "position 1"),
        (".5h", "position 1"),
        ("-1h", "position 1"),
        ("+1h", "position 1"),
        ("1e400h", "position 1"),
        ("inf h", "position 1"),
        ("nan", "position 1"),
        ("1_000s", "position 1"),
        ("٢٤h", "position 1"),  # digits are ASCII only
        ("24h\x00", "position 4"),
        ("24h\ud800", "position 4"),
    ],
)
def test_malformed_durations_name_the_text_and_the_position(text: str, where: str) -> None:
    """An error says what was read and where it stopped making sense."""
    with pytest.raises(InputError, match=f"invalid duration .*{where}"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_duration_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="empty duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [None, 5, 2.5, b"24h", timedelta(hours=1), ["24h"]])
def test_a_duration_that_is_not_a_str_is_an_input_error(value: object) -> None:
    """Not a TypeError or AttributeError from str methods."""
    with pytest.raises(InputError, match="must be a str"):
        parse_duration(value)  # type: ignore[arg-type]


def test_an_error_about_a_long_duration_quotes_only_its_start() -> None:
    with pytest.raises(InputError) as info:
        parse_duration("1" * LONG + "x")
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    "text",
    [
        "1" * LONG,
        "1" * (LONG - 1) + "x",
        "1" * (LONG - 1) + "h",
        "0" * (LONG - 1) + "h",
        "1." + "1" * LONG + "h",
        "1h" * (LONG // 2),
        "1 " * (LONG // 2),
        "1" + " " * LONG + "x",
        " " * LONG,
        "\x00" * LONG,
        "\ud800" * LONG,
        "1h" * (LONG // 2 - 1) + "1x",
        "1s" * (LONG // 2),
    ],
    ids=lambda text: f"{text[:6]!r}x{len(text)}",
)
def test_parse_duration_is_linear_on_100000_characters(text: str) -> None:
    """10,000 digits once took 6–10 s (a backtracking regex restarted at every digit)."""
    assert _timed(lambda: parse_duration(text)) < BOUND_SECONDS


@given(
    st.text(alphabet=st.sampled_from(list("0123456789.wdhmsWDHMS \t\x00é\ud800-+e")), max_size=40)
)
def test_parse_duration_returns_a_bounded_timedelta_or_raises_input_error(text: str) -> None:
    """Whatever the text: a duration in [0, MAX_DURATION], or InputError, nothing else."""
    try:
        span = parse_duration(text)
    except InputError:
        return
    assert timedelta(0) <= span <= MAX_DURATION


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.sampled_from(["w", "d", "h", "m", "s"])),
        min_size=1,
        max_size=5,
    )
)
def test_parts_add_up(parts: list[tuple[int, str]]) -> None:
    """SPEC W8: '1h30m' is 1 h plus 30 min, in any order and repetition."""
    seconds = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    expected = timedelta(seconds=sum(n * seconds[unit] for n, unit in parts))
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == expected


# require_aware / require_instant ------------------------------------------------------


class NoOffset(tzinfo):
    """A tzinfo that knows no offset: a datetime carrying it is naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


class BrokenOffset(tzinfo):
    """A tzinfo whose offset lookup fails."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        raise RuntimeError("tz database unavailable")


class WrongOffset(tzinfo):
    """A tzinfo returning something that is not an offset."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return "+01:00"  # type: ignore[return-value]


def test_an_aware_datetime_is_returned_unchanged() -> None:
    when = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert require_aware(when, "now") is when


def test_a_naive_datetime_is_refused_naming_the_parameter() -> None:
    """Naive datetimes are refused, never guessed."""
    with pytest.raises(NaiveDatetimeError, match=r"^now must be timezone-aware"):
        require_aware(datetime(2026, 11, 23, 12, 0), "now")


def test_a_tzinfo_without_an_offset_counts_as_naive() -> None:
    with pytest.raises(NaiveDatetimeError, match="last_inbound_at must be timezone-aware"):
        require_aware(datetime(2026, 11, 23, tzinfo=NoOffset()), "last_inbound_at")


@pytest.mark.parametrize("tz", [BrokenOffset(), WrongOffset()])
def test_a_tzinfo_that_fails_is_an_input_error(tz: tzinfo) -> None:
    with pytest.raises(InputError, match=r"now: its tzinfo .* failed to give a UTC offset"):
        require_aware(datetime(2026, 11, 23, tzinfo=tz), "now")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-11-23T12:00:00Z", "str"),
        (None, "None"),
        (5, "int"),
        (1.5, "float"),
        (date(2026, 11, 23), "date"),
        (b"2026", "bytes"),
        (timedelta(hours=1), "timedelta"),
    ],
)
def test_a_value_that_is_not_a_datetime_is_an_input_error_naming_the_parameter(
    value: object, shown: str
) -> None:
    """Not an AttributeError from reading ``.tzinfo`` off a str or None."""
    with pytest.raises(
        InputError, match=rf"^as_of must be a timezone-aware datetime, got {shown}$"
    ):
        require_aware(value, "as_of")  # type: ignore[arg-type]


def test_require_instant_converts_to_utc() -> None:
    """Window arithmetic is in elapsed hours (W2): instants are compared in UTC."""
    tokyo = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert require_instant(tokyo, "now") == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert require_instant(tokyo, "now").tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_an_instant_outside_the_utc_range_is_an_input_error(value: datetime) -> None:
    """The ends of the date range: no OverflowError."""
    with pytest.raises(InputError, match="cannot be expressed in UTC"):
        require_instant(value, "now")


@pytest.mark.parametrize(
    "value",
    [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)],
)
def test_the_ends_of_the_range_in_utc_are_instants(value: datetime) -> None:
    assert require_instant(value, "now") == value


def test_require_instant_refuses_what_require_aware_refuses() -> None:
    with pytest.raises(NaiveDatetimeError):
        require_instant(datetime(2026, 11, 23), "now")
    with pytest.raises(InputError, match="got str"):
        require_instant("2026-11-23", "now")  # type: ignore[arg-type]
