"""Every parser of the audience package runs in linear time on adversarial input.

Issue 6, point 5: a CSV number cell of 15,000 digits ending in a letter took about
17 s (a regex that could split a run of digits in quadratically many ways). Each
test below feeds 100,000-character inputs built to make a backtracking parser
slow, and allows 2 s of CPU time where a linear parser needs milliseconds.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest

from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    id_problem,
    import_contacts_csv,
    neutralize_formula,
    parse_id_list,
    resolve_id_list,
)
from omnimsg.errors import AudienceError
from omnimsg.stores.memory import MemoryContactStore

N = 100_000
BOUND = 2.0
OPTIONS = CsvImportOptions(
    default_region="US",
    custom_types={"n": "number", "b": "boolean", "d": "datetime", "s": "string"},
    unknown_columns="ignore",
)


def cpu_seconds(call: Callable[[], object]) -> float:
    started = time.process_time()
    call()
    return time.process_time() - started


def import_one(header: str, row: str) -> CsvImportReport:
    text = f"{header}\n{row}\n"
    return import_contacts_csv(io.StringIO(text, newline=""), MemoryContactStore(), OPTIONS)


def test_a_long_number_ending_in_a_letter_is_refused_in_linear_time() -> None:
    """SPEC A5, issue 6.5: the 15,000-digit cell that took 17 s, and one of 100,000."""
    for digits in (15_000, N):
        row = "+12122000001," + "9" * digits + "a"
        started = time.process_time()
        report = import_one("phone,n", row)
        assert time.process_time() - started < BOUND
        (rejected,) = report.rejected
        assert rejected.reason.startswith("n: expected a number, got '9999")
        assert len(rejected.reason) < 200


CELLS = {
    # column header: cells built against the parser of that column
    "n": [
        "9" * N + "a",
        "9" * N + ".",
        "1." + "9" * N + "e",
        "1e" + "9" * N + "x",
        "." + "9" * N + ".",
        "+" * N,
        "9" * N,
        "0" * N + "1",
    ],
    "b": ["y" * N, "true" * (N // 4)],
    "d": ["2025-01-31T10:00:00." + "1" * N, "9" * N, "2025-" * (N // 5), "T" * N],
    "email": ["a" * N + "@b.co", "a@" + "b." * (N // 2) + " ", "@" * N, "a@b." + "c" * N],
    "phone": ["1" * N, "+" + "1" * N + "x", "(" * N, "+1 212 200 0001" + " x" * N],
    "id": ["x" * N, "\u200b" * N, "a\x7f" * (N // 2)],
    "timezone": ["Europe/" * (N // 7), "a" * N, "../" * (N // 3)],
    "tags": [";" * N, "a;" * (N // 2), " , " * (N // 3)],
    "first_name": [" " * N + "x", "'" * N + "=", "'=" * (N // 2), ",=" * (N // 2)],
    "s": ["'" * N, "\u3000" * N + "=", "x" * N],
    "": ["x" * N],
}
CASES = [(column, cell) for column, cells in CELLS.items() for cell in cells]


@pytest.mark.parametrize(
    ("column", "cell"), CASES, ids=[f"{c or 'unnamed'}-{i}" for i, (c, _) in enumerate(CASES)]
)
def test_every_cell_parser_is_linear_on_100_000_characters(column: str, cell: str) -> None:
    """SPEC A5, issue 6.5: a 100,000-character cell of any type is read in linear time,
    imported or rejected with a short reason."""
    header, row = ("email," + column, f"ann@example.com,{cell}")
    if column == "email":
        header, row = ("phone,email", f"+12122000001,{cell}")
    quoted = '"' + row.split(",", 1)[1].replace('"', '""') + '"'
    row = row.split(",", 1)[0] + "," + quoted
    reports: list[CsvImportReport] = []
    assert cpu_seconds(lambda: reports.append(import_one(header, row))) < BOUND
    (report,) = reports
    assert report.rows_read == 1
    for rejected in report.rejected:
        assert len(rejected.reason) < 500


def test_a_header_of_100_000_characters_is_refused_in_linear_time() -> None:
    """SPEC A5: an unknown 100,000-character column name: a short AudienceError, quickly."""
    errors: list[AudienceError] = []

    def call() -> None:
        try:
            import_contacts_csv(
                io.StringIO("phone," + "x" * N + "\n", newline=""), MemoryContactStore()
            )
        except AudienceError as exc:
            errors.append(exc)

    assert cpu_seconds(call) < BOUND
    assert len(str(errors[0])) < 500


@pytest.mark.parametrize("row", ["," * N, "'," * (N // 2), '"' * N, "\u200b=" * (N // 2)])
def test_rows_of_many_short_cells_are_read_in_linear_time(row: str) -> None:
    """SPEC A5: a row of 100,000 delimiters or quotes is one rejected or blank row."""
    assert cpu_seconds(lambda: import_one("phone,first_name", row)) < BOUND


@pytest.mark.parametrize(
    "cell",
    [
        "'" * N + "x",
        "'" * N + "=",
        "\u200b" * N + "x",
        " " * N + "=",
        ",\u200b" * (N // 2),
        "'\u3000" * (N // 2),
        "\x0b'" * (N // 2),
        ";'" * (N // 2) + "-",
    ],
)
def test_neutralize_formula_is_linear(cell: str) -> None:
    """SPEC A5, issue 6.6: the guard scans runs of apostrophes and invisible characters once."""
    assert cpu_seconds(lambda: neutralize_formula(cell, ";")) < BOUND


@pytest.mark.parametrize("text", ["x" * N, "," * N, " ;" * (N // 2), "\u200b" * N, "a " * N])
def test_id_lists_are_parsed_and_resolved_in_linear_time(text: str) -> None:
    """SPEC A3, A4: pasted text of 100,000 characters, and ids that long."""

    def call() -> None:
        ids = parse_id_list(text)
        resolve_id_list(ids, account_id="wa-main", source=MemoryContactStore())
        for piece in ids.ids[:10]:
            id_problem(piece, max_length=10 * N)

    assert cpu_seconds(call) < BOUND
