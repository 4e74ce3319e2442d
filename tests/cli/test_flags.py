"""Reading flag values: instants, durations ago, zones, pairs, media; errors name the flag."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from omnimsg import MediaKind
from omnimsg.cli._flags import (
    FlagError,
    as_of_instant,
    custom_fields,
    instant,
    last_inbound,
    media,
    time_zone,
    voice_note,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("-2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("2026-11-01T10:00Z", datetime(2026, 11, 1, 10, 0, tzinfo=UTC)),
        ("2026-11-01T11:00+01:00", datetime(2026, 11, 1, 10, 0, tzinfo=UTC)),
        ("20261101T1000Z", datetime(2026, 11, 1, 10, 0, tzinfo=UTC)),
        ("never", None),
        ("NEVER", None),
    ],
)
def test_last_inbound_reads_durations_ago_instants_and_never(
    value: str, expected: datetime | None
) -> None:
    """SPEC W2, W5: the window is measured from the contact's last message."""
    assert last_inbound(value, "--last-inbound", now=NOW) == expected


def test_an_instant_ending_in_z_is_an_instant_not_minutes() -> None:
    at = last_inbound("2026-11-23T11:00Z", "--last-inbound", now=NOW)
    assert at == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("2026-11-01T10:00", "has no UTC offset"),
        ("2026-11-01", "has no UTC offset"),
        ("yesterday", "invalid duration 'yesterday'"),
        ("yesterday", "an ISO 8601 instant such as 2026-11-23T12:00Z"),
        ("2h-ish", "expected an ISO 8601 instant"),
        ("-", "expected a duration ago"),
        ("2026-12-01T00:00Z", "later than now"),
        ("99999999999d", "longer than the maximum"),
        ("1" * 100_000 + "h", "expected a duration ago"),
        ("2026-11-01T10:00Z" * 10_000, "expected an ISO 8601 instant"),
        ("2\udcffh", "not UTF-8"),
    ],
)
def test_last_inbound_refusals_name_the_flag(value: str, needle: str) -> None:
    started = time.perf_counter()
    with pytest.raises(FlagError) as caught:
        last_inbound(value, "--last-inbound", now=NOW)
    assert time.perf_counter() - started < 2
    assert str(caught.value).startswith("--last-inbound: ")
    assert needle in str(caught.value)


def test_a_duration_reaching_before_year_one_is_a_flag_error() -> None:
    early = datetime(1, 1, 2, tzinfo=UTC)
    with pytest.raises(FlagError, match="before year 1"):
        last_inbound("3d", "--last-inbound", now=early)


def test_instant_converts_to_utc_and_refuses_naive_values() -> None:
    assert instant("2026-11-23T13:00+01:00", "--now", default=NOW) == NOW
    assert instant(None, "--now", default=NOW) is NOW
    with pytest.raises(FlagError, match=r"^--now: '2026-11-23T12:00' has no UTC offset"):
        instant("2026-11-23T12:00", "--now", default=NOW)
    with pytest.raises(FlagError, match="outside years 1-9999"):
        instant("0001-01-01T00:00+05:00", "--now", default=NOW)


def test_as_of_takes_a_date_as_midnight_utc() -> None:
    assert as_of_instant("2026-11-23", "--as-of", default=NOW) == datetime(2026, 11, 23, tzinfo=UTC)
    assert as_of_instant("2026-11-23T12:00Z", "--as-of", default=NOW) == NOW
    with pytest.raises(FlagError, match=r"^--as-of: "):
        as_of_instant("2026-13-45", "--as-of", default=NOW)


@pytest.mark.parametrize("name", ["Nowhere/City", "../../etc/passwd", "a" * 100_000, "\x00", ""])
def test_unknown_or_malformed_time_zones_are_flag_errors(name: str) -> None:
    with pytest.raises(FlagError, match=r"^--account-tz: "):
        time_zone(name, "--account-tz")


def test_known_time_zones_are_read() -> None:
    assert str(time_zone("Asia/Tokyo", "--account-tz")) == "Asia/Tokyo"


def test_custom_fields_are_name_type_pairs() -> None:
    assert custom_fields(["score=number", " vip = boolean "], "--custom-field") == {
        "score": "number",
        "vip": "boolean",
    }
    with pytest.raises(FlagError, match="expected NAME=TYPE"):
        custom_fields(["score"], "--custom-field")
    with pytest.raises(FlagError, match="unknown type 'integer'"):
        custom_fields(["score=integer"], "--custom-field")


def test_media_reads_a_kind_after_the_last_at_sign_only_when_it_is_a_word() -> None:
    """SPEC C2: media go by URL; a URL may itself hold an @."""
    assert media("https://ex.co/a.jpg", "--media").kind is MediaKind.IMAGE
    assert media("https://ex.co/a.pdf@document", "--media").kind is MediaKind.DOCUMENT
    assert media("https://me@ex.co/a.jpg", "--media").url == "https://me@ex.co/a.jpg"
    with pytest.raises(FlagError, match=r"^--media: unknown media kind 'imgae'"):
        media("https://ex.co/a.jpg@imgae", "--media")


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -1.0])
def test_voice_notes_need_a_finite_length(seconds: float) -> None:
    """SPEC C4: a voice note has a duration."""
    with pytest.raises(FlagError, match=r"^--voice-seconds: "):
        voice_note(seconds, "--voice-seconds")
