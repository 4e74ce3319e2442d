"""CSV contact import (SPEC A5): mapping, validation, line numbers, merging."""

from __future__ import annotations

import csv
import io
import re
import shelve
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.audiences import (
    CsvImportOptions,
    RejectedRow,
    RowRejection,
    derive_contact_id,
    import_contacts_csv,
    import_contacts_csv_file,
    write_rejected_rows_file,
)
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, merge_contacts
from omnimsg.errors import AudienceError, InputError
from omnimsg.state import SubscriptionStatus
from omnimsg.stores.memory import MemoryContactStore

from .support import (
    US,
    RecordingSink,
    assert_accounted,
    by_phone,
    rejected_lines,
    run,
    stream,
)

# ---------------------------------------------------------------- header mapping


def test_common_header_spellings_map_to_contact_fields() -> None:
    """SPEC A5: Phone, phone_number, E-mail, First name ... are recognised without a mapping."""
    report, sink = run(
        "Phone Number,E-mail,First name,Surname,Time zone,Tags\n"
        "(212) 200-0001,ann@example.com,Ann,Lee,America/New_York,vip; beta\n"
    )
    assert dict(report.columns) == {
        "Phone Number": "phone",
        "E-mail": "email",
        "First name": "first_name",
        "Surname": "last_name",
        "Time zone": "timezone",
        "Tags": "tags",
    }
    (ann,) = sink.contacts
    assert (ann.phone, ann.phone_region, ann.email) == ("+12122000001", "US", "ann@example.com")
    assert (ann.first_name, ann.last_name, ann.timezone) == ("Ann", "Lee", "America/New_York")
    assert ann.tags == {"vip", "beta"}
    assert ann.id == derive_contact_id("+12122000001", None)


def test_explicit_mapping_wins_and_matches_ignoring_case_and_punctuation() -> None:
    """SPEC A5: the caller's mapping names contact fields, custom fields, or None to drop."""
    options = CsvImportOptions(
        default_region="US",
        mapping={"cell #": "phone", "Phone": None, "Plan": "custom.plan", "ref": "id"},
    )
    report, sink = run("REF,Cell #,Phone,plan\nr-1,212 200 0001,ignored,gold\n", options)
    assert report.columns["Phone"] is None
    (c,) = sink.contacts
    assert (c.id, c.phone, dict(c.custom)) == ("r-1", "+12122000001", {"plan": "gold"})


def test_unknown_columns_are_refused_before_any_row_by_default() -> None:
    """SPEC A5: an unknown column is an error up front, naming it and the way out."""
    sink = RecordingSink()
    with pytest.raises(AudienceError, match=r"unknown columns 'Notes' \(column 2\)") as info:
        import_contacts_csv(stream("phone,Notes\n+12122000001,x\n"), sink)
    assert "unknown_columns='custom'" in str(info.value)
    assert sink.calls == []


def test_unknown_columns_can_become_string_custom_fields_or_be_ignored() -> None:
    """SPEC A5: unknown_columns='custom' keeps them under the header text; 'ignore' drops them."""
    text = "phone,Favourite colour\n+12122000001,  teal \n"
    _, kept = run(text, CsvImportOptions(unknown_columns="custom"))
    assert dict(kept.contacts[0].custom) == {"Favourite colour": "teal"}
    report, dropped = run(text, CsvImportOptions(unknown_columns="ignore"))
    assert dict(dropped.contacts[0].custom) == {}
    assert report.columns["Favourite colour"] is None


@pytest.mark.parametrize(
    ("header", "options", "words"),
    [
        ("phone,mobile", US, "columns 'phone' and 'mobile' both map to 'phone'"),
        ("phone,email,phone", US, "repeats column names: 'phone' at columns [1, 3]"),
        ("first_name,last_name", US, "no id, phone or e-mail column"),
        ("phone", CsvImportOptions(mapping={"Mobile": "phone"}), "does not have: 'Mobile'"),
    ],
)
def test_unusable_headers_are_refused_with_what_is_wrong(
    header: str, options: CsvImportOptions, words: str
) -> None:
    """SPEC A5: a header that cannot be mapped is an AudienceError naming the columns."""
    with pytest.raises(AudienceError, match=re.escape(words)):
        run(header + "\n", options)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"mapping": {"x": "nickname"}}, "mapping['x']: unknown target 'nickname'"),
        ({"mapping": {"x": "custom."}}, "unknown target 'custom.'"),
        ({"custom_types": {"plan": "money"}}, "custom_types['plan']: expected one of"),
        ({"unknown_columns": "keep"}, "unknown_columns: expected one of"),
        ({"default_region": "XX"}, "default_region: 'XX'"),
        ({"delimiter": ",;"}, "delimiter"),
    ],
)
def test_malformed_options_raise_input_error(kwargs: dict[str, object], words: str) -> None:
    """SPEC A5: options are checked when built, not per row."""
    with pytest.raises(InputError, match=re.escape(words)):
        CsvImportOptions(**kwargs)  # type: ignore[arg-type]


def test_semicolon_delimited_exports_read_with_the_delimiter_option() -> None:
    """SPEC A5: many spreadsheet exports use ';'."""
    _, sink = run(
        "phone;first name\n+12122000001;Ann\n", CsvImportOptions(delimiter=";", tag_separators=",")
    )
    assert sink.contacts[0].first_name == "Ann"


# ---------------------------------------------------------------- rows and line numbers


def test_bad_phones_are_rejected_with_line_and_reason_and_good_rows_kept() -> None:
    """SPEC A5: phones must be valid; each bad row is reported with its line, none lost."""
    report, sink = run(
        "phone,first_name\n(212) 200-0001,Ann\n12345,Bob\n+44 20 7946 0958,Cat\nnot a phone,Dan\n"
    )
    assert_accounted(report)
    assert (report.rows_read, report.imported, report.rejected_count) == (4, 2, 2)
    assert set(by_phone(sink)) == {"+12122000001", "+442079460958"}
    assert rejected_lines(report) == [
        (3, RowRejection.INVALID_PHONE),
        (5, RowRejection.INVALID_PHONE),
    ]
    assert report.rejected[0].reason == "phone: phone number '12345' is not a valid number"
    assert report.rejected[0].cells == ("12345", "Bob")
    assert report.rejected[0].problems[0].column == "phone"


def test_short_rows_and_long_rows_are_rejected_but_trailing_empty_cells_are_not() -> None:
    """SPEC A5: a row with the wrong number of fields is reported with its line."""
    report, sink = run(
        "phone,first_name\n+12122000001\n+12122000002,Bob,surprise\n+12122000003,Cat,,\n"
    )
    assert rejected_lines(report) == [
        (2, RowRejection.WRONG_FIELD_COUNT),
        (3, RowRejection.WRONG_FIELD_COUNT),
    ]
    assert report.rejected[0].reason == "expected 2 fields (as in the header), got 1"
    assert report.rejected[1].cells == ("+12122000002", "Bob", "surprise")
    assert [c.first_name for c in sink] == ["Cat"]


def test_quoted_fields_spanning_lines_keep_later_line_numbers_right() -> None:
    """SPEC A5: line numbers are physical lines, counted through multi-line quoted fields."""
    report, sink = run(
        "phone,first_name\n"
        '+12122000001,"Ann\nof two\nlines"\n'
        "bad,Bob\n"
        '+12122000003,"Cat\r\nCRLF"\n'
        'bad,"Dan\nspread"\n'
    )
    assert [(r.line, r.end_line, r.where) for r in report.rejected] == [
        (5, 5, "line 5"),
        (8, 9, "lines 8-9"),
    ]
    assert by_phone(sink)["+12122000001"].first_name == "Ann\nof two\nlines"
    assert by_phone(sink)["+12122000003"].first_name == "Cat\r\nCRLF"


def test_broken_quoting_is_reported_and_the_next_rows_still_import() -> None:
    """SPEC A5: a malformed CSV record is a rejected row with its raw text, not a crash."""
    report, sink = run('phone,first_name\n"+12122000001"x,Ann\n+12122000002,Bob\n"+1212,"Cat\n')
    assert [(r.line, r.end_line, r.code) for r in report.rejected] == [
        (2, 2, RowRejection.MALFORMED_CSV),
        (4, 4, RowRejection.MALFORMED_CSV),
    ]
    assert report.rejected[0].cells == ('"+12122000001"x,Ann',)
    assert report.rejected[1].reason.startswith("malformed CSV: ")
    assert [c.first_name for c in sink] == ["Bob"]
    assert_accounted(report)


def test_an_unclosed_quote_rejects_only_its_own_line_and_the_rows_after_it_import() -> None:
    """SPEC A5: a real import loses none of the good rows, even after an unclosed quote."""
    report, sink = run('phone,first_name\n+14155550123,"Ann\n+14155550124,Bob\n+14155550125,Cy\n')
    assert (report.rows_read, report.imported, report.rejected_count) == (3, 2, 1)
    (row,) = report.rejected
    assert (row.line, row.end_line, row.where, row.code) == (2, 2, "line 2", "malformed_csv")
    assert row.cells == ('+14155550123,"Ann',)
    assert row.reason.startswith("unclosed quote: ")
    assert "line 4: unexpected end of data" in row.reason
    assert [c.first_name for c in sink] == ["Bob", "Cy"]
    assert_accounted(report)


def test_an_unclosed_quote_in_a_large_file_costs_one_row() -> None:
    """SPEC A5: 8,000 rows behind an unclosed quote are imported, not swallowed to the limit."""
    rows = "".join(f"+1415{5550000 + i:07d},N{i}\n" for i in range(1, 8001))
    report, sink = run('phone,first_name\n+14155550000,"Ann\n' + rows)
    assert (report.rows_read, report.imported, report.rejected_count) == (8001, 8000, 1)
    assert rejected_lines(report) == [(2, RowRejection.MALFORMED_CSV)]
    assert by_phone(sink)["+14155558000"].first_name == "N8000"


def test_a_quote_closed_by_a_later_row_rejects_only_the_line_that_opened_it() -> None:
    """SPEC A5: a later quote that ends the runaway field does not hide the rows before it."""
    report, sink = run(
        "phone,first_name\n"
        '+12122000001,"Ann\n'
        "+12122000002,Bob\n"
        '+12122000003,"Cat"\n'
        '+12122000004,"Dan\nof two lines"\n'
        "bad,Eve\n"
        '+12122000006,"Fay\n'
    )
    assert [(r.line, r.end_line, r.code) for r in report.rejected] == [
        (2, 2, RowRejection.MALFORMED_CSV),
        (7, 7, RowRejection.INVALID_PHONE),
        (8, 8, RowRejection.MALFORMED_CSV),
    ]
    assert "line 4: ',' expected after '\"'" in report.rejected[0].reason
    assert report.rejected[2].reason == "unclosed quote: the quoted field is never closed " + (
        "(unexpected end of data)"
    )
    assert [c.first_name for c in sink] == ["Bob", "Cat", "Dan\nof two lines"]
    assert_accounted(report)


def test_a_header_with_an_unclosed_quote_is_refused() -> None:
    """SPEC A5: without a readable header no row can be read; the error names the line."""
    with pytest.raises(AudienceError, match=r"^line 2: cannot read the header row"):
        run('\nphone,"first_name\n+12122000001,Ann\n')


def test_blank_lines_and_rows_of_empty_cells_are_skipped_and_counted() -> None:
    """SPEC A5: blank lines are not rows; they do not shift line numbers."""
    report, _ = run("\n\nphone\n\n+12122000001\n , \n\nbad\n")
    assert (report.rows_read, report.blank_rows) == (2, 3)
    assert rejected_lines(report) == [(8, RowRejection.INVALID_PHONE)]


def test_a_row_without_id_phone_or_email_is_rejected() -> None:
    """SPEC A5: a row must name a contact by id, phone or e-mail."""
    report, _ = run("phone,email,first_name\n,,Ann\n")
    assert rejected_lines(report) == [(2, RowRejection.MISSING_KEY)]


def test_invalid_email_and_id_are_rejected() -> None:
    """SPEC A5: e-mails must look like addresses; ids follow the id rules of A4."""
    report, _ = run(
        "id,email\nok-1,ann@example\nok\u200b2,bob@example.com\nok-3,Cat <cat@example.com>\n"
    )
    assert rejected_lines(report) == [
        (2, RowRejection.INVALID_EMAIL),
        (3, RowRejection.INVALID_ID),
        (4, RowRejection.INVALID_EMAIL),
    ]


def test_an_unknown_time_zone_rejects_the_row() -> None:
    """SPEC A5: a time zone must be an IANA name (quiet hours depend on it)."""
    report, _ = run("phone,timezone\n+12122000001,Mars/Base\n+12122000002,Europe/Paris\n")
    assert rejected_lines(report) == [(2, RowRejection.INVALID_VALUE)]
    assert "'Mars/Base' is not an IANA time zone name" in report.rejected[0].reason


def test_a_value_under_an_unnamed_column_rejects_the_row() -> None:
    """SPEC A5: columns with an empty header are allowed only while they stay empty."""
    report, sink = run("phone,,first_name,\n+12122000001,,Ann,\n+12122000002,x,Bob,\n")
    assert rejected_lines(report) == [(3, RowRejection.UNNAMED_COLUMN)]
    assert report.rejected[0].problems[0].column == "column 2"
    assert [c.first_name for c in sink] == ["Ann"]


# ---------------------------------------------------------------- typed custom fields

TYPED = CsvImportOptions(
    default_region="US",
    custom_types={"plan": "number", "vip": "boolean", "renews": "datetime", "note": "string"},
)


def test_typed_custom_fields_parse() -> None:
    """SPEC A5: custom fields have the types the caller declares."""
    _, sink = run(
        "phone,Plan,VIP,Renews,Note\n"
        "+12122000001,3,yes,2025-01-31T10:00:00Z, hi \n"
        "+12122000002,-2.5e1,FALSE,2025-01-31 10:00:00+02:00,\n"
        "+12122000003,,,,\n",
        TYPED,
    )
    a, b, c = sink.contacts
    assert dict(a.custom) == {
        "plan": 3,
        "vip": True,
        "renews": datetime(2025, 1, 31, 10, tzinfo=UTC),
        "note": "hi",
    }
    assert dict(b.custom) == {
        "plan": -25.0,
        "vip": False,
        "renews": datetime(2025, 1, 31, 8, tzinfo=UTC),
    }
    assert dict(c.custom) == {}


def test_custom_values_that_do_not_parse_reject_the_row_naming_each_column() -> None:
    """SPEC A5: a value of the wrong type is a rejected row that names the column."""
    report, sink = run(
        "phone,plan,vip,renews\n"
        "+12122000001,1,maybe,2025-01-31\n"
        "+12122000002,1_000,yes,2025-01-31T10:00Z\n"
        "+12122000003,nan,1,soon\n",
        TYPED,
    )
    assert len(sink) == 0
    assert [r.reason for r in report.rejected] == [
        "vip: expected a boolean (true/false, yes/no, 1/0), got 'maybe'; "
        "renews: date-time '2025-01-31' has no time zone; write an offset such as +00:00 "
        "or Z, or set naive_timezone",
        "plan: expected a number, got '1_000'",
        "plan: expected a number, got 'nan'; renews: expected an ISO 8601 date-time, got 'soon'",
    ]
    assert {p.code for r in report.rejected for p in r.problems} == {RowRejection.INVALID_VALUE}


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        (str(2**63 - 1), 2**63 - 1),
        (str(-(2**63)), -(2**63)),
        ("+" + "0" * 30 + "42", 42),
        # int() refuses more than 4,300 digits; leading zeros are not digits that count.
        ("-" + "0" * 5000 + "7", -7),
        ("1e30", 1e30),
    ],
)
def test_numbers_within_64_bit_integers_or_floats_are_accepted(cell: str, stored: float) -> None:
    """SPEC A5: integers follow the 64-bit rule of segments; floats stay floats."""
    report, sink = run(f"phone,plan\n+12122000001,{cell}\n", TYPED)
    assert report.ok
    value = sink.contacts[0].custom["plan"]
    assert (value, type(value)) == (stored, type(stored))


@pytest.mark.parametrize(
    "cell", [str(2**63), str(-(2**63) - 1), "1" * 25, "-" + "9" * 31, "7" * 5000]
)
def test_integers_beyond_64_bits_reject_the_row_naming_the_column(cell: str) -> None:
    """SPEC A5: an integer segments and the SQL store would refuse is refused at import."""
    report, sink = run(f"phone,plan\n+12122000001,{cell}\n", TYPED)
    assert len(sink) == 0
    (row,) = report.rejected
    (problem,) = row.problems
    assert (problem.code, problem.column) == (RowRejection.INVALID_VALUE, "plan")
    assert problem.message.startswith("integers must fit in 64 bits")


@pytest.mark.parametrize(
    ("column", "cell", "naive"),
    [
        ("renews", "0001-01-01T00:00:00+05:00", None),
        ("renews", "9999-12-31T23:00:00-05:00", None),
        ("created_at", "0001-01-01T00:00:00+05:00", None),
        ("renews", "0001-01-01T00:00:00", timezone(timedelta(hours=5))),
    ],
)
def test_date_times_outside_the_utc_range_reject_the_row_naming_the_column(
    column: str, cell: str, naive: timezone | None
) -> None:
    """SPEC A5: a date-time that cannot be converted to UTC is refused at import, not later."""
    options = attrs.evolve(TYPED, naive_timezone=naive)
    report, sink = run(f"phone,{column}\n+12122000001,{cell}\n", options)
    assert len(sink) == 0
    (row,) = report.rejected
    assert row.reason == f"{column}: date-time {cell!r} is outside the range of UTC dates"
    assert row.code is RowRejection.INVALID_VALUE


def test_date_times_at_the_edges_of_the_utc_range_are_accepted() -> None:
    """SPEC A5: the refusal is about UTC, not about the year as written."""
    report, sink = run(
        "phone,renews\n+12122000001,0001-01-01T05:00:00+05:00\n"
        "+12122000002,9999-12-31T18:59:59-05:00\n",
        TYPED,
    )
    assert report.ok
    assert [c.custom["renews"] for c in sink] == [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]


def test_naive_timezone_is_attached_to_date_times_without_offset() -> None:
    """SPEC A5: naive_timezone says what time zone bare date-times are in."""
    tz = timezone(timedelta(hours=-5))
    options = CsvImportOptions(custom_types={"renews": "datetime"}, naive_timezone=tz)
    _, sink = run("phone,renews,created_at\n+12122000001,2025-01-31,2024-06-01T09:30\n", options)
    (c,) = sink.contacts
    assert c.custom["renews"] == datetime(2025, 1, 31, tzinfo=tz)
    assert c.created_at == datetime(2024, 6, 1, 9, 30, tzinfo=tz)


# ---------------------------------------------------------------- encodings


def test_a_byte_order_mark_at_the_start_is_dropped() -> None:
    """SPEC A5: files saved by spreadsheets start with a BOM; it is not part of the header."""
    report, sink = run('\ufeff"Phone",First name\n+12122000001,Ann\n')
    assert report.header == ("Phone", "First name")
    assert sink.contacts[0].first_name == "Ann"


def test_empty_file_is_refused_and_header_only_imports_nothing() -> None:
    """SPEC A5: no header means the file cannot be read at all; a header alone is fine."""
    with pytest.raises(AudienceError, match="empty"):
        run("")
    with pytest.raises(AudienceError, match="empty"):
        run("\n\r\n")
    report, sink = run("\ufeffphone,first_name\r\n")
    assert (report.rows_read, report.imported, report.rejected, len(sink)) == (0, 0, (), 0)
    assert report.ok


def test_undecodable_bytes_reject_their_row_when_read_with_surrogateescape(
    tmp_path: Path,
) -> None:
    """SPEC A5: bytes that are not UTF-8 reject their row; the rows around it import."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        b"\xef\xbb\xbfphone,first_name\r\n+12122000001,Ann\r\n+12122000002,B\xf6b\r\n"
        b"+12122000003,Cat\x00\r\n+12122000004,Dan\r\n"
    )
    sink = MemoryContactStore()
    report = import_contacts_csv_file(path, sink, US)
    assert [c.first_name for c in sink] == ["Ann", "Dan"]
    assert [(r.line, r.code, r.reason) for r in report.rejected] == [
        (3, RowRejection.UNDECODABLE, "first_name: the cell holds bytes that are not valid text"),
        (4, RowRejection.UNDECODABLE, "first_name: the cell holds a NUL character"),
    ]
    out = tmp_path / "rejected.csv"
    assert write_rejected_rows_file(report, out) == 2
    assert b"B\xf6b" in out.read_bytes()
    assert out.read_bytes().startswith(b'\xef\xbb\xbf"import_error","phone","first_name"\r\n')


def test_a_strict_stream_that_cannot_decode_stops_with_the_line() -> None:
    """SPEC A5: when the caller's stream raises on bad bytes, the error names the line."""

    def lines() -> Iterator[str]:
        yield "phone\n"
        yield "+12122000001\n"
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(AudienceError, match=r"^line 3 or later: the text cannot be decoded"):
        run(lines())
    stream = io.TextIOWrapper(io.BytesIO(b"phone\n+1212\xff2000002\n"), encoding="utf-8")
    with pytest.raises(AudienceError, match="errors='surrogateescape'"):
        run(stream)


def test_a_str_source_is_refused_pointing_to_stream_or_file() -> None:
    """SPEC A5: a path or CSV text passed as a str is not silently read as characters."""
    with pytest.raises(InputError, match="import_contacts_csv_file"):
        import_contacts_csv("contacts.csv", MemoryContactStore())


def test_lines_may_come_from_any_iterable() -> None:
    """SPEC A5: the importer reads any iterable of lines; the caller opens files."""

    def lines() -> Iterator[str]:
        yield "phone,first_name\n"
        yield '+12122000001,"Ann\n'
        yield 'Lee"\n'
        yield "bad,Bob\n"

    report, sink = run(lines())
    assert sink.contacts[0].first_name == "Ann\nLee"
    assert rejected_lines(report) == [(4, RowRejection.INVALID_PHONE)]


# ---------------------------------------------------------------- duplicates


def test_duplicates_by_phone_merge_first_row_wins_later_rows_fill_and_tags_union() -> None:
    """SPEC A5: rows with one phone are one contact: first values win, gaps filled, tags unioned."""
    report, sink = run(
        "phone,first_name,last_name,email,tags,plan\n"
        "+12122000001,Ann,,,a,gold\n"
        "(212) 200-0001,Annie,Lee,ann@example.com,b;a,silver\n",
        CsvImportOptions(default_region="US", custom_types={"plan": "string"}),
    )
    assert (report.imported, report.merged) == (1, 1)
    (ann,) = sink.contacts
    assert (ann.first_name, ann.last_name, ann.email) == ("Ann", "Lee", "ann@example.com")
    assert ann.tags == {"a", "b"}
    assert ann.custom["plan"] == "gold"


def test_duplicates_by_email_ignore_case_and_link_a_later_phone() -> None:
    """SPEC A5: e-mails match case-insensitively; a phone seen with it leads to the contact."""
    report, sink = run(
        "phone,email,first_name\n"
        ",Ann@Example.com,Ann\n"
        "+12122000001,ann@example.COM,\n"
        "+12122000001,,Someone\n"
    )
    assert (report.imported, report.merged) == (1, 2)
    (ann,) = sink.contacts
    assert (ann.email, ann.phone, ann.first_name) == ("Ann@Example.com", "+12122000001", "Ann")
    assert ann.id == derive_contact_id(None, "ann@example.com")


def test_rows_with_an_id_are_matched_by_id_only() -> None:
    """SPEC A5: an id column decides; rows sharing a phone but not an id stay apart."""
    sink = RecordingSink()
    report = import_contacts_csv(
        stream(
            "id,phone,first_name\n"
            "k-1,+12122000001,Mum\n"
            "k-2,+12122000001,Kid\n"
            "k-1,,Mother\n"
            ",+12122000001,Who\n"
        ),
        sink,
        US,
    )
    assert [(kind, cid) for kind, cid, _ in sink.calls] == [
        ("add", "k-1"),
        ("add", "k-2"),
        ("merge", "k-1"),
        ("merge", "k-1"),
    ]
    assert (report.imported, report.merged) == (2, 2)


def test_a_row_naming_an_earlier_derived_id_merges_instead_of_adding_it_twice() -> None:
    """SPEC A5: a derived id is a contact's id like any other; the sink never gets it twice."""
    derived = derive_contact_id("+12122000001", None)
    sink = RecordingSink()
    report = import_contacts_csv(
        stream(f"id,phone,first_name\n,+12122000001,Ann\n{derived},,Annie\n"), sink, US
    )
    assert [(kind, cid) for kind, cid, _ in sink.calls] == [("add", derived), ("merge", derived)]
    assert (report.imported, report.merged) == (1, 1)


def test_a_row_whose_derived_id_an_earlier_row_named_merges_into_it() -> None:
    """SPEC A5: ids are checked first, so a row without one finds the contact of its id."""
    derived = derive_contact_id(None, "ann@example.com")
    sink = RecordingSink()
    report = import_contacts_csv(
        stream(f"id,email,first_name\n{derived},,Ann\n,ANN@example.com,Annie\n"), sink, US
    )
    assert [(kind, cid) for kind, cid, _ in sink.calls] == [("add", derived), ("merge", derived)]
    assert (report.imported, report.merged) == (1, 1)


def test_a_shared_index_remembers_derived_ids_for_a_later_file_with_ids() -> None:
    """SPEC A5: across files sharing a dedupe_index, a derived id is still not added twice."""
    derived = derive_contact_id("+12122000001", None)
    index: dict[str, str] = {}
    sink = RecordingSink()
    import_contacts_csv(stream("phone\n+12122000001\n"), sink, dedupe_index=index)
    later = import_contacts_csv(stream(f"id,first_name\n{derived},Ann\n"), sink, dedupe_index=index)
    assert [(kind, cid) for kind, cid, _ in sink.calls] == [("add", derived), ("merge", derived)]
    assert (later.imported, later.merged) == (0, 1)


def test_merge_goes_to_the_sink_with_the_existing_id() -> None:
    """SPEC A5: merge(existing_id, contact) receives the later row as that contact."""
    sink = RecordingSink()
    import_contacts_csv(stream("email,first_name\nann@example.com,Ann\nANN@example.com,B\n"), sink)
    (_, first_id, _), (kind, existing_id, later) = sink.calls
    assert (kind, existing_id, later.id, later.first_name) == ("merge", first_id, first_id, "B")


def test_without_dedupe_every_row_is_added() -> None:
    """SPEC A5: dedupe=False keeps no index; the memory sink upserts same ids."""
    sink = RecordingSink()
    report = import_contacts_csv(
        stream("phone,first_name\n+12122000001,Ann\n+12122000001,Bob\n"),
        sink,
        CsvImportOptions(dedupe=False),
    )
    assert [kind for kind, _, _ in sink.calls] == ["add", "add"]
    assert (report.imported, report.merged) == (2, 0)
    _, memory = run(
        "phone,first_name\n+12122000001,Ann\n+12122000001,Bob\n", CsvImportOptions(dedupe=False)
    )
    assert [c.first_name for c in memory] == ["Ann"]


def test_the_dedupe_index_can_be_any_mutable_mapping(tmp_path: Path) -> None:
    """SPEC A5: a disk-backed index (shelve) keeps dedupe keys out of memory."""
    with shelve.open(str(tmp_path / "index"), flag="n") as index:
        report = import_contacts_csv(
            stream("phone,email\n+12122000001,a@example.com\n,A@example.com\n"),
            MemoryContactStore(),
            dedupe_index=index,
        )
        derived = derive_contact_id("+12122000001", None)
        assert sorted(index) == ["e:a@example.com", "i:" + derived, "p:+12122000001"]
    assert report.merged == 1


def test_derived_ids_are_deterministic() -> None:
    """SPEC A5: importing the same file twice gives the same contact ids."""
    assert derive_contact_id("+12122000001", "x@example.com") == derive_contact_id(
        "+12122000001", None
    )
    assert derive_contact_id(None, "X@Example.com") == derive_contact_id(None, "x@example.com")
    assert derive_contact_id(None, "x@example.com").startswith("c-")
    with pytest.raises(InputError):
        derive_contact_id(None, None)


def test_merge_contacts_keeps_existing_values_and_fills_the_rest() -> None:
    """SPEC A5: the merge rule, on every kind of field."""
    wa = ChannelIdentity("wa", ChannelKind.WHATSAPP, "w-1")
    tg = ChannelIdentity("tg", ChannelKind.TELEGRAM, "t-1")
    existing = Contact(
        id="c",
        first_name="Ann",
        tags={"a"},
        custom={"plan": "gold", "seats": None},
        identities=(wa,),
        subscriptions={"wa": SubscriptionStatus.SUBSCRIBED},
    )
    incoming = Contact(
        id="other",
        first_name="Annie",
        last_name="Lee",
        phone="+12122000001",
        tags={"b"},
        custom={"plan": "silver", "seats": 3, "vip": True},
        identities=(wa, tg),
        subscriptions={"wa": SubscriptionStatus.UNSUBSCRIBED, "tg": SubscriptionStatus.PROMPTED},
    )
    merged = merge_contacts(existing, incoming)
    assert (merged.id, merged.first_name, merged.last_name) == ("c", "Ann", "Lee")
    assert (merged.phone, merged.phone_region) == ("+12122000001", "US")
    assert merged.tags == {"a", "b"}
    assert dict(merged.custom) == {"plan": "gold", "seats": 3, "vip": True}
    assert merged.identities == (wa, tg)
    assert merged.channels == {ChannelKind.WHATSAPP, ChannelKind.TELEGRAM}
    assert {sender: record.status for sender, record in merged.subscriptions.items()} == {
        "wa": SubscriptionStatus.SUBSCRIBED,
        "tg": SubscriptionStatus.PROMPTED,
    }
    assert merge_contacts(existing, Contact(id="x", first_name="Z")) is existing


def test_memory_sink_refuses_to_merge_into_an_unknown_contact() -> None:
    """SPEC A5: merge names an earlier contact; an unknown one is a caller's bug."""
    sink = MemoryContactStore()
    with pytest.raises(InputError, match="no contact 'ghost'"):
        sink.merge("ghost", Contact(id="ghost"))
    sink.add(Contact(id="a"))
    assert "a" in sink
    assert sink.get_contact("a") == Contact(id="a")
    assert sink.get_contact("b") is None


# ---------------------------------------------------------------- properties

NAMES = st.text(st.sampled_from('ab \n",;=+é'), max_size=8) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=8
)
ROW_KINDS = st.sampled_from(["good", "good", "bad_phone", "short", "long", "duplicate", "blank"])


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, list[dict[str, object]]]:
    """A CSV of good, bad, duplicate and blank rows, and what each row is expected to be."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(["phone", "first_name", "tags"])
    line = 2
    goods: list[int] = []
    expected: list[dict[str, object]] = []
    for n, kind in enumerate(draw(st.lists(ROW_KINDS, max_size=25))):
        name = draw(NAMES)
        tag = f"t{n}"
        if kind == "duplicate" and not goods:
            kind = "good"
        if kind == "duplicate":
            phone = f"+1212200{draw(st.sampled_from(goods)):04d}"
        elif kind == "bad_phone":
            phone = f"12{n}"
        else:
            phone = f"+1212200{n:04d}"
        cells = {"short": [phone], "long": [phone, name, tag, "x"], "blank": ["", "", ""]}.get(
            kind, [phone, name, tag]
        )
        start = buffer.tell()
        writer.writerow(cells)
        text = buffer.getvalue()[start:]
        if kind == "good":
            goods.append(n)
        expected.append({"kind": kind, "line": line, "phone": phone, "name": name, "tag": tag})
        line += len(io.StringIO(text, newline="").readlines())
    return buffer.getvalue(), expected


@settings(max_examples=100)
@given(csv_files())
def test_every_good_row_is_imported_and_every_bad_row_reported(
    data: tuple[str, list[dict[str, object]]],
) -> None:
    """SPEC A5 (property): read == imported + merged + rejected; nobody lost; bad lines named."""
    text, expected = data
    report, sink = run(text, CsvImportOptions())
    assert_accounted(report)
    kinds = [row["kind"] for row in expected]
    assert report.blank_rows == kinds.count("blank")
    assert report.imported == kinds.count("good")
    assert report.merged == kinds.count("duplicate")
    bad = [row for row in expected if row["kind"] in ("bad_phone", "short", "long")]
    assert [r.line for r in report.rejected] == [row["line"] for row in bad]
    contacts = by_phone(sink)
    assert len(contacts) == report.imported
    for row in expected:
        if row["kind"] not in ("good", "duplicate"):
            continue
        contact = contacts[str(row["phone"])]
        assert row["tag"] in contact.tags
        name = str(row["name"]).strip()
        if row["kind"] == "good" and name:
            assert contact.first_name == name


# ---------------------------------------------------------------- order and the sink


class EventSink:
    """A fake sink that records, with the rejected rows, every call in the order made."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def add(self, contact: Contact, /) -> None:
        if contact.first_name == self.fail_on:
            raise RuntimeError("the store is down")
        self.events.append(("add", contact.first_name or ""))

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        self.events.append(("merge", contact.first_name or ""))

    def rejected(self, row: RejectedRow) -> None:
        self.events.append(("reject", row.cells[-1]))


def test_sink_calls_and_rejected_rows_come_in_file_order_across_many_rows() -> None:
    """SPEC A5: whatever the importer does inside, contacts and rejections follow the file."""
    rows = []
    expected = []
    last_added = 1
    for n in range(1, 1200):
        if n % 97 == 0:
            rows.append(f'"+1212200{n:04d},N{n}\n')  # broken quoting
            expected.append(("reject", f'"+1212200{n:04d},N{n}'))
        elif n % 31 == 0:
            rows.append(f"bad,N{n}\n")
            expected.append(("reject", f"N{n}"))
        elif n % 53 == 0:
            rows.append(f"+1212200{n:04d},N{n},extra\n")
            expected.append(("reject", "extra"))
        elif n % 41 == 0:
            rows.append(f"+1212200{last_added:04d},N{n}\n")
            expected.append(("merge", f"N{n}"))
        else:
            rows.append(f"+1212200{n:04d},N{n}\n")
            expected.append(("add", f"N{n}"))
            last_added = n
    sink = EventSink()
    report = import_contacts_csv(
        stream("phone,first_name\n" + "".join(rows)), sink, US, on_rejected=sink.rejected
    )
    assert_accounted(report)
    assert sink.events == expected


def test_an_error_of_the_sink_stops_the_import_and_propagates() -> None:
    """SPEC A5: a broken backend is not a bad row; rows before it reached the sink."""
    sink = EventSink(fail_on="N3")
    text = "phone,first_name\n" + "".join(f"+1212200{n:04d},N{n}\n" for n in range(1, 6))
    with pytest.raises(RuntimeError, match="the store is down"):
        import_contacts_csv(stream(text), sink, US)
    assert sink.events == [("add", "N1"), ("add", "N2")]
