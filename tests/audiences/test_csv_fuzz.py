"""CSV contact import on arbitrary text (SPEC A5): it reports, it never crashes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    derive_contact_id,
    import_contacts_csv,
    write_rejected_rows,
)
from omnimsg.contacts import Contact
from omnimsg.errors import AudienceError

# Longer than csv's default field-size limit (131,072), quoted and not. Drawn as a
# marker and expanded in the test, so a failing example prints short.
LONG = "<long>"
TOKENS = st.sampled_from(
    [
        '"',
        '""',
        ",",
        ";",
        "\t",
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\ufeff",
        "\udcff",
        "é",
        "\u200b",
        "😀",
        "'",
        "'=",
        "=1+1",
        "-5",
        "@SUM(A1)",
        " ",
        "+1 212 200 0001",
        "(212) 200-0002",
        "12345",
        "ann@example.com",
        "ANN@example.com",
        "c-0123",
        derive_contact_id("+12122000001", None),
        "vip;beta",
        "Europe/Paris",
        "Mars/Base",
        "3.5",
        "9" * 25,
        "2025-01-31T10:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "2025-01-31",
        "yes",
        LONG,
        '"' + LONG,
    ]
)
PIECES = TOKENS | st.text(st.characters(), max_size=12)
TEXT = st.lists(PIECES, max_size=60).map("".join)
CELLS = TOKENS | st.lists(PIECES, max_size=4).map("".join)
HEADERS = st.sampled_from(
    [
        ("phone", "email", "id", "first_name", "tags", "score", "vip", "renews", "created_at"),
        ("Phone", "E-mail", "Notes", "timezone"),
        ("\ufeffemail", "score", "Tags"),
        ("id", '"phone"', "", ""),
        ("phone",),
    ]
)
ENDS = st.sampled_from(["\n", "\r\n", "\r"])
LINE_ENDS = ENDS | st.just("")
PHONES = ["", "+1 212 200 0001", "+12122000001", "(212) 200-0002", "+44 20 7946 0958"]
EMAILS = ["", "ann@example.com", "ANN@example.com", "bob@example.org"]
# Values each column accepts (mostly), so that rows import, merge and collide on ids.
GOOD = {
    "phone": PHONES,
    '"phone"': PHONES,
    "Phone": PHONES,
    "email": EMAILS,
    "\ufeffemail": EMAILS,
    "E-mail": EMAILS,
    "id": [
        "",
        "k-1",
        "k-2",
        derive_contact_id("+12122000001", None),
        derive_contact_id(None, "ann@example.com"),
    ],
    "score": ["", "3", "-5", "'-5", "2.5e3", "9" * 19],
    "vip": ["", "yes", "N"],
    "renews": ["", "2025-01-31T10:00:00Z", "2025-01-31"],
    "created_at": ["", "2024-06-01T09:30:00+02:00"],
    "timezone": ["", "Europe/Paris"],
    "": [""],
}


@st.composite
def options(draw: st.DrawFn) -> CsvImportOptions:
    """Options a caller could pass, including the ones that change how text is split."""
    return CsvImportOptions(
        custom_types={"score": "number", "vip": "boolean", "renews": "datetime"},
        unknown_columns=draw(st.sampled_from(["custom", "ignore", "error"])),
        default_region=draw(st.sampled_from([None, "US", "GB"])),
        dedupe=draw(st.booleans()),
        naive_timezone=draw(st.sampled_from([None, timezone(timedelta(hours=-5))])),
        delimiter=draw(st.sampled_from([",", ";", "\t"])),
        keep_rejected=draw(st.booleans()),
    )


class CheckingSink:
    """A fake sink that refuses what a database would: an id added twice, a merge into nothing."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.adds = 0
        self.merges = 0

    def add(self, contact: Contact, /) -> None:
        self.adds += 1
        self.ids.add(contact.id)

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        assert existing_id in self.ids
        assert contact.id == existing_id
        self.merges += 1


@st.composite
def csv_texts(draw: st.DrawFn, delimiter: str) -> str:
    """Arbitrary text, or a usable header and rows of good, noisy and random cells."""
    if draw(st.integers(0, 4)) == 0:
        return draw(TEXT)
    header = draw(HEADERS)
    lines = [delimiter.join(header) + "\n"]
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "good", "noisy", "random"]))
        if kind == "random":
            cells = draw(st.lists(CELLS, max_size=len(header) + 1))
        else:
            cells = [
                draw(
                    CELLS
                    if name not in GOOD or (kind == "noisy" and draw(st.booleans()))
                    else st.sampled_from(GOOD[name])
                )
                for name in header
            ]
        lines.append(delimiter.join(cells) + draw(LINE_ENDS if kind == "random" else ENDS))
    return "".join(lines)


@st.composite
def inputs(draw: st.DrawFn) -> tuple[str, CsvImportOptions]:
    chosen = draw(options())
    return draw(csv_texts(chosen.delimiter)), chosen


@settings(max_examples=500)
@given(inputs())
def test_any_text_is_imported_or_refused_as_a_whole_never_crashing(
    case: tuple[str, CsvImportOptions],
) -> None:
    """SPEC A5 (property): arbitrary text never raises but AudienceError, and no row is lost.

    Every data record is imported, merged or rejected with a line of the file, in
    file order; with dedupe on the sink never receives an id twice; the rejected
    rows can always be written back out.
    """
    text, chosen = case
    text = text.replace(LONG, "x" * 140_000)
    sink = CheckingSink()
    rejected_lines: list[int] = []
    try:
        report = import_contacts_csv(
            io.StringIO(text, newline=""),
            sink,
            chosen,
            on_rejected=lambda row: rejected_lines.append(row.line),
        )
    except AudienceError:
        return
    assert report.rows_read == report.imported + report.merged + report.rejected_count
    assert (sink.adds, sink.merges) == (report.imported, report.merged)
    if chosen.dedupe:
        assert sink.adds == len(sink.ids)
    else:
        assert report.merged == 0
    physical_lines = len(io.StringIO(text, newline="").readlines())
    assert len(rejected_lines) == report.rejected_count
    assert rejected_lines == sorted(set(rejected_lines))
    assert all(2 <= line <= physical_lines for line in rejected_lines)
    if chosen.keep_rejected:
        assert [row.line for row in report.rejected] == rejected_lines
        assert all(row.line <= row.end_line <= physical_lines for row in report.rejected)
        written_back(report)


def written_back(report: CsvImportReport) -> None:
    """The rejected rows written out read back as one header and one record per row."""
    out = io.StringIO(newline="")
    assert write_rejected_rows(report, out) == report.rejected_count
    text = out.getvalue()
    if len(text) >= csv.field_size_limit():
        # A rejected cell over csv's field-size limit cannot be read back by csv either.
        return
    back = list(csv.reader(io.StringIO(text, newline=""), delimiter=report.delimiter))
    assert len(back) == 1 + report.rejected_count
