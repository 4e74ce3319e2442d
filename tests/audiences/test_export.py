"""Rejected rows back out as CSV (SPEC A5), with spreadsheet formulas neutralised (issue 6.6)."""

from __future__ import annotations

import csv
import io
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimsg.audiences import (
    REJECT_REASON_COLUMN,
    CsvImportOptions,
    CsvImportReport,
    RejectedRow,
    RejectedRowWriter,
    neutralize_formula,
    write_rejected_rows,
)
from omnimsg.audiences.formula import guard_patterns
from omnimsg.errors import InputError

from .support import by_phone, run

CELL_TEXT = st.text(st.sampled_from('ab \n",;=+é'), max_size=8) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=8
)

# ---------------------------------------------------------------- issue 6.6: the guard widened

FORMULA = "=+-@\t\r\x00＝＋－＠"
SEPARATORS = ",;\t\r\n"
# What issue 6 names, each reproduced in a spreadsheet that trims before parsing.
NAMED_INVISIBLE = [" ", "\u00a0", "\u3000", "\u200b", "\ufeff", "\x0b", "\x0c", "\u2028", "\x85"]


def invisible(char: str) -> bool:
    """A character a spreadsheet may skip or not show before a formula."""
    return char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Zs", "Zl", "Zp"}


def unsafe_pieces(text: str, delimiter: str = ",") -> list[str]:
    """The pieces of ``text`` a spreadsheet could run: after any separator, and after
    the invisible characters it may skip, a formula character."""
    pieces = re.split("[" + re.escape(SEPARATORS + delimiter) + "]", text)
    unsafe = []
    for piece in pieces:
        start = 0
        while start < len(piece) and invisible(piece[start]) and piece[start] not in FORMULA:
            start += 1
        if start < len(piece) and piece[start] in FORMULA:
            unsafe.append(piece)
    return unsafe


@pytest.mark.parametrize("space", NAMED_INVISIBLE)
@pytest.mark.parametrize("formula", ["=", "+", "-", "@", "＝", "＋", "－", "＠"])
def test_a_formula_after_spaces_or_invisible_characters_is_neutralised(
    space: str, formula: str
) -> None:
    """SPEC A5, issue 6.6: " =1", NBSP, U+3000, ZWSP, BOM, VT, FF, U+2028 or U+0085 before
    a formula character (or its full-width form) passed unguarded before."""
    cell = space + formula + "1"
    assert neutralize_formula(cell) == "'" + cell
    assert neutralize_formula(space * 3 + formula) == "'" + space * 3 + formula
    assert neutralize_formula("Ann;" + cell) == "Ann;'" + cell
    assert unsafe_pieces(neutralize_formula("a," + cell + ";" + cell)) == []


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("＝1+1", "'＝1+1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠SUM(A1)", "'＠SUM(A1)"),
        ("\x00=1", "'\x00=1"),
        ("\x00", "'\x00"),
        ("' =1", "'' =1"),
        ("a, =1", "a,' =1"),
        (" \t=1", "' \t'=1"),
        (" x", " x"),
        ("\u200bx", "\u200bx"),
        ("x =1", "x =1"),
        ("\u3164=1", "'\u3164=1"),
        ("\ufe0f=1", "'\ufe0f=1"),
    ],
)
def test_full_width_formula_characters_and_nul_are_neutralised(cell: str, written: str) -> None:
    """SPEC A5, issue 6.6: full-width ＝＋－＠ and NUL start a guarded piece too."""
    assert neutralize_formula(cell) == written
    assert guard_patterns(",")[1].sub("", written) == cell


def test_every_space_control_or_format_character_before_a_formula_is_neutralised() -> None:
    """SPEC A5, issue 6.6 (exhaustive): every code point that is a space, a control or
    a format character, placed before '=', leaves no piece a spreadsheet could run, and
    the import takes the guard off again."""
    restore = guard_patterns(",")[1]
    checked = 0
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if not invisible(char):
            continue
        cell = char + "=1"
        guarded = neutralize_formula(cell)
        assert unsafe_pieces(guarded) == [], f"U+{point:04X}"
        assert restore.sub("", guarded) == cell, f"U+{point:04X}"
        checked += 1
    assert checked > 200


@pytest.mark.parametrize("delimiter", ["'", '"', "\n", "\r", "\x00", "", ",,"])
def test_a_quote_line_break_or_nul_as_delimiter_is_refused_everywhere(delimiter: str) -> None:
    """SPEC A5, issue 6.6: "'" marks a guarded cell, so it cannot separate cells."""
    with pytest.raises(InputError, match="delimiter"):
        neutralize_formula("=1", delimiter)
    with pytest.raises(InputError, match="delimiter"):
        RejectedRowWriter(io.StringIO(), delimiter=delimiter)
    report, _ = run("phone\nbad\n")
    with pytest.raises(InputError, match="delimiter"):
        write_rejected_rows(report, io.StringIO(), delimiter=delimiter)
    with pytest.raises(InputError, match="delimiter"):
        CsvImportOptions(delimiter=delimiter)


GUARD_ALPHABET = st.sampled_from(
    list("'ab,;|-= \t\r\n\x00\x0b\x0c\x85\u00a0\u3000\u200b\ufeff\u2028＝＋－＠@+")
)


@given(
    st.text(GUARD_ALPHABET, max_size=16),
    st.sampled_from([",", ";", "\t", "|", " ", "\u00a0", "-", "=", "\u200b"]),
)
def test_the_guard_leaves_nothing_runnable_and_is_undone_exactly(cell: str, delimiter: str) -> None:
    """SPEC A5, issue 6.6 (property): after the guard no piece (split at any separator or
    the delimiter) starts, past invisible characters, with a formula character; and the
    import's inverse rule gives back the original cell, for every delimiter."""
    guarded = neutralize_formula(cell, delimiter)
    assert unsafe_pieces(guarded, delimiter) == []
    assert guard_patterns(delimiter)[1].sub("", guarded) == cell


# ---------------------------------------------------------------- the guard, as before


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+12122000001", "'+12122000001"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ann", "Ann"),
        ("", ""),
        ("a=b", "a=b"),
        ("Ann;=1+1;@SUM(A1)", "Ann;'=1+1;'@SUM(A1)"),
        ("x,-1\t+2\n=3\r@4", "x,'-1\t'+2\n'=3\r'@4"),
        ("\t=1", "'\t'=1"),
        ("'=x", "''=x"),
        ("a;''-b", "a;'''-b"),
        ("'hello", "'hello"),
        (" =1", "' =1"),
    ],
)
def test_formula_cells_are_neutralised(cell: str, written: str) -> None:
    """SPEC A5: every piece a spreadsheet could split off and run as a formula is guarded."""
    assert neutralize_formula(cell) == written


def test_the_delimiter_is_a_piece_separator_too() -> None:
    """SPEC A5: a file written with '|' is guarded after every '|' as well."""
    assert neutralize_formula("a|=1") == "a|=1"
    assert neutralize_formula("a|=1", "|") == "a|'=1"


def test_rejected_rows_of_a_semicolon_file_are_quoted_and_guarded_in_every_piece() -> None:
    """SPEC A5: the export of a ';' file uses ';', quotes every cell, defuses inner formulas."""
    options = CsvImportOptions(delimiter=";")
    report, _ = run('phone;first_name\n12345;"Ann;=1+1;@SUM(A1)"\n', options)
    assert report.delimiter == ";"
    out = io.StringIO(newline="")
    assert write_rejected_rows(report, out) == 1
    header, row = out.getvalue().splitlines()
    assert header == '"import_error";"phone";"first_name"'
    assert row.startswith('"line 2: phone: ')
    assert row.endswith(""";"12345";"Ann;'=1+1;'@SUM(A1)\"""")
    for line in (header, row):
        for piece in re.split("[,;\t]", line):
            assert not piece.strip('"').startswith(("=", "+", "-", "@", "\t", "\r")), piece


def test_the_streaming_writer_takes_the_delimiter_of_its_rows_unless_told() -> None:
    """SPEC A5: as on_rejected the writer learns the import's delimiter from the rows."""
    semicolons = CsvImportOptions(delimiter=";")
    text = "phone;first_name\nbad;Ann\n"
    learned = io.StringIO()
    run(text, semicolons, on_rejected=RejectedRowWriter(learned))
    assert learned.getvalue().splitlines()[0] == '"import_error";"phone";"first_name"'
    told = io.StringIO()
    run(text, semicolons, on_rejected=RejectedRowWriter(told, delimiter="\t"))
    assert told.getvalue().splitlines()[0] == '"import_error"\t"phone"\t"first_name"'
    report, _ = run(text, semicolons)
    forced = io.StringIO()
    write_rejected_rows(report, forced, delimiter=",")
    assert forced.getvalue().splitlines()[0] == '"import_error","phone","first_name"'
    with pytest.raises(InputError, match="delimiter"):
        RejectedRowWriter(io.StringIO(), delimiter='"')


def test_rejected_rows_export_with_reason_column_and_neutralised_cells() -> None:
    """SPEC A5: rejected rows go back out as CSV: reason column + original header and cells."""
    report, _ = run('phone,first_name\n12345,=cmd()\n+12122000001,Ann\n-1,"two\nlines"\n')
    out = io.StringIO()
    assert write_rejected_rows(report, out) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        [REJECT_REASON_COLUMN, "phone", "first_name"],
        [f"line 2: {report.rejected[0].reason}", "12345", "'=cmd()"],
        [f"lines 4-5: {report.rejected[1].reason}", "'-1", "two\nlines"],
    ]
    assert report.rejected[1].reason.startswith("phone: cannot parse phone number '-1'")


def test_rejected_rows_can_stream_to_a_writer_instead_of_the_report() -> None:
    """SPEC A5: keep_rejected=False keeps only the count; on_rejected gets every row."""
    out = io.StringIO()
    writer = RejectedRowWriter(out)
    seen: list[RejectedRow] = []

    def both(row: RejectedRow) -> None:
        seen.append(row)
        writer(row)

    report, _ = run(
        "phone\nbad\n+12122000001\nworse\n",
        CsvImportOptions(keep_rejected=False),
        on_rejected=both,
    )
    assert (report.rejected, report.rejected_count) == ((), 2)
    assert [r.line for r in seen] == [2, 4]
    assert out.getvalue().splitlines()[0] == '"import_error","phone"'
    assert writer.written == 2


def test_every_neutralised_cell_reads_back_as_written_when_reimported() -> None:
    """SPEC A5: the apostrophes the export adds are undone in names, tags, e-mails, all cells."""
    options = CsvImportOptions(custom_types={"plan": "string"})
    report, _ = run("phone,first_name,tags,email,plan\n12345,-Ann,+vip;@b,=x@y.co,'x\n", options)
    out = io.StringIO()
    write_rejected_rows(report, out)
    assert "'-Ann" in out.getvalue()
    again, sink = run(out.getvalue().replace("12345", "+12122000001"), options)
    assert again.ok
    (c,) = sink.contacts
    assert (c.first_name, set(c.tags), c.email) == ("-Ann", {"+vip", "@b"}, "=x@y.co")
    assert c.custom["plan"] == "'x"


def test_a_corrected_export_imports_again_ignoring_the_reason_column() -> None:
    """SPEC A5: the rejected-rows file, once fixed, is a valid import (apostrophes undone)."""
    report, _ = run("phone,plan\n12345,-2\n", CsvImportOptions(custom_types={"plan": "number"}))
    out = io.StringIO()
    write_rejected_rows(report, out)
    fixed = out.getvalue().replace("12345", "+12122000001")
    again, sink = run(fixed, CsvImportOptions(custom_types={"plan": "number"}))
    assert again.ok
    assert (sink.contacts[0].phone, sink.contacts[0].custom["plan"]) == ("+12122000001", -2)


def test_write_rejected_rows_writes_the_header_even_when_nothing_was_rejected() -> None:
    """SPEC A5: an empty correction file still has its header."""
    report, _ = run("phone\n+12122000001\n")
    out = io.StringIO()
    assert write_rejected_rows(report, out) == 0
    assert out.getvalue() == '"import_error","phone"\r\n'


@given(st.lists(st.lists(CELL_TEXT, min_size=2, max_size=2), max_size=10))
def test_exported_rejected_rows_read_back_as_their_neutralised_cells(
    rows: list[list[str]],
) -> None:
    """SPEC A5 (property): the correction file round-trips every cell, formulas defused."""
    rejected = tuple(
        RejectedRow(n + 2, n + 2, tuple(cells), ()) for n, cells in enumerate(rows) if cells
    )
    report = CsvImportReport(
        header=("a", "b"),
        columns={},
        rows_read=len(rejected),
        imported=0,
        merged=0,
        rejected_count=len(rejected),
        blank_rows=0,
        rejected=rejected,
    )
    out = io.StringIO(newline="")
    write_rejected_rows(report, out)
    back = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert back[0] == [REJECT_REASON_COLUMN, "a", "b"]
    assert [row[1:] for row in back[1:]] == [
        [neutralize_formula(c) for c in r.cells] for r in rejected
    ]
    for row in back[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
        pieces = [piece for cell in row for piece in re.split("[,;\t\r\n]", cell)]
        assert not any(piece.startswith(("=", "+", "-", "@")) for piece in pieces)


ROUND_TRIP_CELLS = st.text(st.sampled_from("'=+-@\t\r\n,;| a\"é"), max_size=10)
SCORES = st.integers(-(2**63), 2**63 - 1).map(str) | st.floats(
    allow_nan=False, allow_infinity=False
).map(repr)


@given(
    st.lists(
        st.tuples(st.booleans(), ROUND_TRIP_CELLS, ROUND_TRIP_CELLS, ROUND_TRIP_CELLS, SCORES),
        max_size=8,
    ),
    st.sampled_from([",", ";", "\t", "|"]),
)
def test_rejected_rows_exported_and_reimported_unchanged_give_the_original_values(
    rows: list[tuple[bool, str, str, str, str]], delimiter: str
) -> None:
    """SPEC A5 (property): export rejected rows, fix nothing, re-import: values are the originals.

    Whatever apostrophes the export adds are taken off again, in every column.
    """
    header = ("phone", "first_name", "tags", "note", "score")
    rejected = tuple(
        RejectedRow(
            n + 2,
            n + 2,
            (f"+1 212 200 {n:04d}" if plus else f"212-200-{n:04d}", name, tags, note, score),
            (),
            header,
            delimiter,
        )
        for n, (plus, name, tags, note, score) in enumerate(rows)
    )
    report = CsvImportReport(
        header=header,
        columns={},
        rows_read=len(rejected),
        imported=0,
        merged=0,
        rejected_count=len(rejected),
        blank_rows=0,
        rejected=rejected,
        delimiter=delimiter,
    )
    out = io.StringIO(newline="")
    write_rejected_rows(report, out)
    options = CsvImportOptions(
        default_region="US",
        delimiter=delimiter,
        custom_types={"note": "string", "score": "number"},
    )
    again, sink = run(out.getvalue(), options)
    assert again.ok
    assert again.imported == len(rows)
    contacts = by_phone(sink)
    for n, (_, name, tags, note, score) in enumerate(rows):
        contact = contacts[f"+1212200{n:04d}"]
        assert contact.first_name == (name.strip() or None)
        assert contact.tags == {t.strip() for t in re.split("[,;]", tags) if t.strip()}
        assert contact.custom.get("note") == (note.strip() or None)
        number = contact.custom["score"]
        assert (number, type(number)) == (
            (int(score), int) if score.lstrip("-").isdigit() else (float(score), float)
        )
