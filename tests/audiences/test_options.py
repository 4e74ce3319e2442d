"""CsvImportOptions are checked when built, never halfway through an import (SPEC A5).

Issue 6, point 5: ``CsvImportOptions(naive_timezone="UTC")`` was accepted and then
raised ``TypeError`` in the middle of an import, after rows had reached the sink;
``CsvImportOptions(default_region=5)`` raised ``AttributeError``.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import attrs
import pytest

from omnimsg.audiences import CsvImportOptions, import_contacts_csv
from omnimsg.errors import InputError
from omnimsg.stores.memory import MemoryContactStore


class NoOffset(tzinfo):
    """A tzinfo that cannot make a date-time aware: its utcoffset() is None."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_a_zone_name_becomes_a_zone_when_the_options_are_built() -> None:
    """SPEC A5, issue 6.5: "UTC" as naive_timezone used to fail mid-import with TypeError."""
    options = CsvImportOptions(naive_timezone="UTC", custom_types={"renews": "datetime"})
    assert options.naive_timezone == ZoneInfo("UTC")
    store = MemoryContactStore()
    report = import_contacts_csv(
        io.StringIO("phone,renews\n+12122000001,2025-01-31\n+12122000002,2025-02-01T10:00\n"),
        store,
        options,
    )
    assert report.ok
    assert [c.custom["renews"] for c in store] == [
        datetime(2025, 1, 31, tzinfo=UTC),
        datetime(2025, 2, 1, 10, tzinfo=UTC),
    ]


def test_an_iana_zone_applies_its_own_offset_on_each_date() -> None:
    """SPEC A5: a named zone is a zone, not a fixed offset (daylight saving applies)."""
    paris = CsvImportOptions(naive_timezone="Europe/Paris", custom_types={"at": "datetime"})
    store = MemoryContactStore()
    import_contacts_csv(
        io.StringIO("phone,at\n+12122000001,2025-01-15T12:00\n+12122000002,2025-07-15T12:00\n"),
        store,
        paris,
    )
    instants = [c.custom["at"] for c in store]
    assert [i.astimezone(UTC).hour for i in instants if isinstance(i, datetime)] == [11, 10]


@pytest.mark.parametrize("zone", ["Mars/Base", "", "/etc/localtime", "../zoneinfo/UTC", "UTC\x00"])
def test_an_unknown_zone_name_is_refused_before_any_row(zone: str) -> None:
    """SPEC A5: a name that is no IANA zone is an InputError naming the option."""
    with pytest.raises(InputError, match=r"^naive_timezone: .* is not an IANA time zone name"):
        CsvImportOptions(naive_timezone=zone)


@pytest.mark.parametrize("zone", [NoOffset(), tzinfo()])  # type: ignore[abstract]
def test_a_tzinfo_that_gives_no_offset_is_refused(zone: tzinfo) -> None:
    """SPEC A5: attaching it would leave date-times naive; refused up front, not per row."""
    with pytest.raises(InputError, match=r"^naive_timezone: the "):
        CsvImportOptions(naive_timezone=zone)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("default_region", 5, "expected an ISO 3166 region code such as 'US', got int"),
        ("default_region", b"US", "got bytes"),
        ("default_region", "Narnia", "'Narnia' is not an ISO 3166 region"),
        ("mapping", ["phone"], "expected a mapping of header text to a target, got list"),
        ("mapping", {5: "phone"}, "keys must be text, got int"),
        ("mapping", {"x": 5}, "unknown target of type int"),
        ("mapping", {"x": ["phone"]}, "unknown target of type list"),
        ("custom_types", ["plan"], "expected a mapping of custom field name to type"),
        ("custom_types", {"plan": 5}, "expected one of string, number, boolean, datetime"),
        ("custom_types", {"plan": ["number"]}, "got list"),
        ("custom_types", {None: "number"}, "keys must be text"),
        ("unknown_columns", 5, "expected one of error, custom, ignore, got int"),
        ("unknown_columns", None, "got NoneType"),
        ("dedupe", "yes", "expected True or False, got str"),
        ("dedupe", None, "got NoneType"),
        ("keep_rejected", 1, "expected True or False, got int"),
        ("naive_timezone", 5, "expected a tzinfo or an IANA time zone name, got int"),
        ("naive_timezone", timedelta(hours=1), "got timedelta"),
        ("delimiter", 5, "got int"),
        ("delimiter", "", "got ''"),
        ("delimiter", ",;", "got ',;'"),
        ("delimiter", "'", 'got "\'"'),
        ("delimiter", '"', "other than a quote"),
        ("delimiter", "\x00", "got '\\x00'"),
        ("tag_separators", 5, "expected text, got int"),
        ("tag_separators", None, "got NoneType"),
    ],
)
def test_every_option_of_the_wrong_type_is_an_input_error_naming_it(
    option: str, value: object, words: str
) -> None:
    """SPEC A5, issue 6.5: default_region=5 raised AttributeError; all such are InputError."""
    with pytest.raises(InputError, match="^" + re.escape(option) + r"\b") as info:
        CsvImportOptions(**{option: value})  # type: ignore[arg-type]
    assert words in str(info.value)


def test_options_changed_with_evolve_are_checked_again() -> None:
    """SPEC A5: attrs.evolve runs the same checks, so no unchecked options exist."""
    options = CsvImportOptions()
    with pytest.raises(InputError, match=r"^naive_timezone"):
        attrs.evolve(options, naive_timezone="Nowhere/Town")
    assert attrs.evolve(options, naive_timezone="UTC").naive_timezone == ZoneInfo("UTC")


def test_long_option_values_are_shown_cut_in_messages() -> None:
    """SPEC A5: a 100,000-character value gives a short message, quickly."""
    with pytest.raises(InputError) as info:
        CsvImportOptions(default_region="x" * 100_000)
    assert len(str(info.value)) < 200
