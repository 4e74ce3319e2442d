"""Reading logs: JSON Lines and CSV, streamed, bad rows named by line and field.

Only omnimsg errors escape, whatever the source or the rows hold.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from omnimsg.audit import BadRow, Direction, LogEntry, read_log
from omnimsg.channels.kinds import ChannelKind
from omnimsg.errors import CallbackError, InputError, OmnimsgError

ROW = {
    "at": "2026-03-02T09:00:00Z",
    "direction": "outbound",
    "channel": "whatsapp",
    "account": "wa-1",
    "contact": "+34611000001",
    "text": "hello",
}
HEADER = "instant,direction,channel,account,contact,content,template,tag,marketing"


def line(**changes: object) -> str:
    row: dict[str, object] = {**ROW, **changes}
    return json.dumps({k: v for k, v in row.items() if v is not ...})


def bad_rows(lines: list[str], **options: object) -> tuple[list[LogEntry], list[BadRow]]:
    found: list[BadRow] = []
    entries = list(read_log(lines, on_bad_row=found.append, **options))  # type: ignore[arg-type]
    return entries, found


# --- the formats ---------------------------------------------------------------------------


def test_a_json_line_becomes_an_entry_in_utc() -> None:
    (entry,) = read_log([line(at="2026-03-02T10:00:00+01:00", marketing=True, tag="T")])
    assert entry == LogEntry(
        at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        direction=Direction.OUTBOUND,
        channel=ChannelKind.WHATSAPP,
        account="wa-1",
        contact="+34611000001",
        text="hello",
        tag="T",
        marketing=True,
        line=1,
    )


def test_instant_and_content_are_names_for_at_and_text() -> None:
    (entry,) = read_log([line(at=..., instant="2026-03-02T09:00:00Z", text=..., content="hi")])
    assert entry.text == "hi"
    assert entry.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_csv_log_reads_the_same_as_its_json_twin() -> None:
    rows = [HEADER, "2026-03-02T09:00:00Z,outbound,whatsapp,wa-1,+34611000001,hello,,,false"]
    (entry,) = read_log(rows, format="csv")
    (twin,) = read_log([line()])
    assert entry == attrs.evolve(twin, line=2)


def test_the_format_is_sniffed_from_the_first_line_with_text() -> None:
    rows = ["", HEADER, "2026-03-02T09:00:00Z,inbound,sms,s,+12125550100,STOP,,,"]
    (entry,) = read_log(rows)
    assert entry.direction is Direction.INBOUND
    assert entry.line == 3
    assert entry.marketing is False


def test_the_format_comes_from_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(HEADER + "\n2026-03-02T09:00:00Z,outbound,sms,s,+12125550100,hi,,,yes\n")
    (entry,) = read_log(path)
    assert entry.marketing is True
    assert entry.line == 2


def test_a_csv_cell_spanning_lines_keeps_the_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        HEADER + '\n2026-03-02T09:00:00Z,outbound,sms,s,+1212,"two\nlines",,,\n'
        "2026-03-02T09:01:00Z,outbound,sms,s,+1212,x,,,maybe\n"
    )
    found: list[BadRow] = []
    entries = list(read_log(path, on_bad_row=found.append))
    assert [e.text for e in entries] == ["two\nlines"]
    assert found == [BadRow(4, "marketing", "expected true or false")]


def test_unknown_fields_are_ignored_and_blank_lines_skipped() -> None:
    entries = list(read_log(["", line(id="m-1", status="delivered"), "   "]))
    assert [e.line for e in entries] == [2]


def test_the_reader_streams_one_line_at_a_time() -> None:
    pulled: list[int] = []

    def lines() -> Iterator[str]:
        for n in range(1_000_000):
            pulled.append(n)
            yield line()

    reader = read_log(lines(), format="jsonl")
    next(reader)
    next(reader)
    assert len(pulled) <= 3


# --- bad rows ------------------------------------------------------------------------------


def test_a_naive_instant_is_refused_naming_line_and_field() -> None:
    with pytest.raises(InputError, match=r"line 2, field 'at': naive instant"):
        list(read_log([line(), line(at="2026-03-02T09:00:00")]))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"at": "yesterday"}, "at"),
        ({"at": 12}, "at"),
        ({"at": "0001-01-01T00:00:00+00:00"}, "at"),
        ({"at": "9999-12-31T23:59:59+00:00"}, "at"),
        ({"direction": "sideways"}, "direction"),
        ({"channel": "pigeon"}, "channel"),
        ({"account": ""}, "account"),
        ({"account": None}, "account"),
        ({"contact": 5}, "contact"),
        ({"text": ["a"]}, "text"),
        ({"text": "x" * 100_001}, "text"),
        ({"template": {"a": 1}}, "template"),
        ({"marketing": "perhaps"}, "marketing"),
        ({"marketing": 2}, "marketing"),
    ],
)
def test_a_bad_field_is_a_bad_row_and_good_rows_are_kept(
    changes: dict[str, object], field: str
) -> None:
    entries, found = bad_rows([line(), line(**changes), line()])
    assert [e.line for e in entries] == [1, 3]
    assert [(b.line, b.field) for b in found] == [(2, field)]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' * 50_000 + "1" + "}" * 50_000,
        "\x00",
        '{"at": "2026-03-02T09:00:00Z", "at": "x"}',
    ],
)
def test_a_line_that_is_no_json_object_is_a_bad_row(text: str) -> None:
    entries, found = bad_rows([line(), text, line()], format="jsonl")
    assert [e.line for e in entries] == [1, 3]
    assert [b.line for b in found] == [2]


def test_a_100000_character_text_is_kept_whole() -> None:
    (entry,) = read_log([line(text="é" * 100_000)])
    assert entry.text == "é" * 100_000


def test_a_lone_surrogate_is_kept_as_given_text() -> None:
    (entry,) = read_log([line(text="\ud800")])
    assert entry.text == "\ud800"


def test_a_line_that_is_not_utf8_or_text_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(line().encode() + b"\n\xff\xfe{}\n" + line().encode() + b"\n")
    found: list[BadRow] = []
    entries = list(read_log(path, on_bad_row=found.append))
    assert [e.line for e in entries] == [1, 3]
    assert [b.line for b in found] == [2]
    _, given = bad_rows([line(), None, b"\xff", 7, line()], format="jsonl")  # type: ignore[list-item]
    assert [b.line for b in given] == [2, 3, 4]


def test_a_line_over_the_limit_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(line() + "\n" + "x" * (1024 * 1024 + 10) + "\n" + line() + "\n")
    found: list[BadRow] = []
    entries = list(read_log(path, on_bad_row=found.append))
    assert [e.line for e in entries] == [1, 3]
    assert [b.line for b in found] == [2]


def test_a_csv_header_without_the_required_columns_stops_the_read() -> None:
    with pytest.raises(InputError, match="missing column 'direction'"):
        list(read_log(["instant,channel,account,contact", "x,y,z,w"], format="csv"))
    with pytest.raises(InputError, match="given twice"):
        list(read_log([HEADER + ",at", "x"], format="csv"))


def test_a_csv_row_of_the_wrong_width_is_a_bad_row() -> None:
    _, found = bad_rows([HEADER, "a,b"], format="csv")
    assert found[0].line == 2


def test_a_raising_bad_row_handler_is_a_callback_error() -> None:
    def handler(row: BadRow) -> None:
        raise KeyError(row.line)

    with pytest.raises(CallbackError):
        list(read_log(["nope"], format="jsonl", on_bad_row=handler))


# --- hostile sources -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", [None, 5, 3.5, b"bytes", {"a": 1}, object(), "no\x00such", "\ud800.jsonl"]
)
def test_a_wrong_source_is_an_input_error(source: object) -> None:
    with pytest.raises(InputError):
        list(read_log(source))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["xml", 5, ""])
def test_a_wrong_format_is_an_input_error(fmt: object) -> None:
    with pytest.raises(InputError):
        read_log([line()], format=fmt)  # type: ignore[arg-type]


def test_a_directory_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        read_log(tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "log.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        read_log(fifo)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_log(tmp_path / "none.jsonl")


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(line() + "\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: mode 000 does not stop reading")
        with pytest.raises(InputError):
            read_log(path)
    finally:
        path.chmod(0o600)


def test_only_omnimsg_errors_escape_from_any_line() -> None:
    hostile = [
        "{}",
        "null",
        '{"at": null}',
        '{"at": "2026-03-02T09:00:00Z", "direction": "outbound"}',
        json.dumps({**ROW, "at": "2026-03-02T09:00:00\ud800Z"}),
        json.dumps({**ROW, "account": "\x00"}),
        "1e999999",
        '"' + "x" * 200_000 + '"',
    ]
    for text in hostile:
        with contextlib.suppress(OmnimsgError):
            list(read_log([text], format="jsonl"))


# --- what other systems export -------------------------------------------------------------


def test_a_byte_order_mark_on_the_first_given_line_is_dropped() -> None:
    (entry,) = read_log(["\ufeff" + line()])
    assert entry.line == 1
    rows = ["\ufeff" + "instant,direction,channel,account,contact", ROW["at"] + ",inbound,sms,s,c"]
    (csv_entry,) = read_log(rows)
    assert csv_entry.direction is Direction.INBOUND


def test_a_csv_file_with_bom_crlf_blank_lines_offsets_and_no_optional_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(
        b"\xef\xbb\xbfinstant,direction,channel,account,contact,content\r\n"
        b"\r\n"
        b'2026-03-02T10:00:00+01:00,inbound,sms,s,+12125550100,"two\r\nlines"\r\n'
        b"2026-03-02 04:01:00-05:00,outbound,sms,s,+12125550100,ok\r\n"
    )
    first, second = read_log(path)
    assert (first.line, first.text, first.at) == (
        3,
        "two\r\nlines",
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    assert (second.line, second.at, second.marketing) == (
        5,
        datetime(2026, 3, 2, 9, 1, tzinfo=UTC),
        False,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("T", True), ("on", True), (" Yes ", True), ("f", False), ("OFF", False), ("", False)],
)
def test_the_marketing_flag_reads_the_importer_s_spellings(given: str, expected: bool) -> None:
    rows = [HEADER, f"2026-03-02T09:00:00Z,outbound,sms,s,c,hi,,,{given}"]
    (entry,) = read_log(rows, format="csv")
    assert entry.marketing is expected


@pytest.mark.parametrize(("given", "expected"), [(1, True), (0, False), (None, False)])
def test_a_json_marketing_flag_may_be_0_or_1(given: object, expected: bool) -> None:
    (entry,) = read_log([line(marketing=given)])
    assert entry.marketing is expected


@pytest.mark.parametrize("given", [1772442000, 1772442000.0, "1772442000", " 1772442000.000000 "])
def test_unix_seconds_are_an_instant_in_utc(given: object) -> None:
    # A WhatsApp webhook's timestamp is Unix seconds, as text.
    (entry,) = read_log([line(at=given)])
    assert entry.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    (twin,) = read_log([HEADER, f"{given},outbound,sms,s,c,,,,"], format="csv")
    assert twin.at == entry.at


@pytest.mark.parametrize(
    "given", [12, 1772442000123, float("nan"), float("inf"), -1772442000, "20260302", "1e9"]
)
def test_what_is_no_unix_seconds_is_a_bad_row_naming_at(given: object) -> None:
    entries, found = bad_rows([line(at=given)])
    assert entries == []
    assert [(b.line, b.field) for b in found] == [(1, "at")]


def test_an_unclosed_quote_costs_its_own_row_only() -> None:
    # A stray quote must not swallow the good rows after it (no good row lost).
    rows = [
        HEADER,
        '2026-03-02T09:00:00Z,outbound,sms,s,c,"broken,,,',
        "2026-03-02T09:01:00Z,outbound,sms,s,c,ok,,,",
        "2026-03-02T09:02:00Z,outbound,sms,s,c,ok too,,,",
    ]
    entries, found = bad_rows(rows, format="csv")
    assert [(e.line, e.text) for e in entries] == [(3, "ok"), (4, "ok too")]
    assert [(b.line, b.field) for b in found] == [(2, None)]
    assert "unclosed quote" in found[0].message
