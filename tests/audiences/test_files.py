"""Opening CSV files (SPEC A5): every way a path fails is an AudienceError naming it.

Issue 6, point 5: ``import_contacts_csv_file`` let ``FileNotFoundError``,
``IsADirectoryError``, ``LookupError`` and ``ValueError: embedded null byte`` out,
and a FIFO named like a CSV file blocked the import forever. Odd files are made
under ``tmp_path`` only.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    RejectedRow,
    RowProblem,
    RowRejection,
    import_contacts_csv,
    import_contacts_csv_file,
    write_rejected_rows_file,
)
from omnimsg.errors import AudienceError, InputError, OmnimsgError
from omnimsg.stores.memory import MemoryContactStore

GOOD = b"phone,first_name\r\n+12122000001,Ann\r\n"


def finishes(call: Callable[[], object], seconds: float = 10.0) -> BaseException | None:
    """Run ``call`` in a thread; fail if it is still running after ``seconds``.

    Returns the exception it raised (``None`` if it returned), so that a call that
    would block forever (opening a FIFO) fails the test instead of hanging it.
    """
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test, which checks its type
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the call blocked for more than {seconds} s"
    return outcome[0]


def refused(call: Callable[[], object], *words: str) -> AudienceError:
    error = finishes(call)
    assert isinstance(error, AudienceError), repr(error)
    for word in words:
        assert word in str(error), (word, str(error))
    return error


def a_report() -> CsvImportReport:
    row = RejectedRow(2, 2, ("12345", "=cmd()"), (RowProblem(RowRejection.INVALID_PHONE, "bad"),))
    return CsvImportReport(
        header=("phone", "first_name"),
        columns={"phone": "phone", "first_name": "first_name"},
        rows_read=1,
        imported=0,
        merged=0,
        rejected_count=1,
        blank_rows=0,
        rejected=(row,),
    )


# ---------------------------------------------------------------- reading


def test_a_missing_file_is_an_audience_error_naming_the_path(tmp_path: Path) -> None:
    """SPEC A5, issue 6.5: FileNotFoundError escaped before."""
    path = tmp_path / "missing.csv"
    refused(
        lambda: import_contacts_csv_file(path, MemoryContactStore()),
        str(path),
        "No such file",
    )


def test_a_directory_is_refused_naming_the_path(tmp_path: Path) -> None:
    """SPEC A5, issue 6.5: IsADirectoryError escaped before."""
    refused(
        lambda: import_contacts_csv_file(tmp_path, MemoryContactStore()),
        str(tmp_path),
        "a directory",
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """SPEC A5, issue 6.5: opening a FIFO for reading used to wait for a writer forever."""
    fifo = tmp_path / "contacts.csv"
    os.mkfifo(fifo)
    refused(lambda: import_contacts_csv_file(fifo, MemoryContactStore()), str(fifo), "FIFO")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads a mode-000 file all the same",
)
def test_an_unreadable_file_is_an_audience_error_naming_the_path(tmp_path: Path) -> None:
    """SPEC A5, issue 6.5: PermissionError is translated like every OSError."""
    path = tmp_path / "locked.csv"
    path.write_bytes(GOOD)
    path.chmod(0)
    try:
        refused(lambda: import_contacts_csv_file(path, MemoryContactStore()), str(path))
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize("encoding", ["no-such-codec", "rot13", "hex", "utf-8\x00"])
def test_an_unknown_encoding_is_an_audience_error_naming_the_path(
    tmp_path: Path, encoding: str
) -> None:
    """SPEC A5, issue 6.5: LookupError escaped before (and non-text codecs too)."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(GOOD)
    refused(
        lambda: import_contacts_csv_file(path, MemoryContactStore(), encoding=encoding),
        str(path),
        "not a text encoding",
    )


def test_a_path_with_a_nul_is_an_audience_error_naming_it(tmp_path: Path) -> None:
    """SPEC A5, issue 6.5: ValueError: embedded null byte escaped before."""
    path = str(tmp_path / "con\x00tacts.csv")
    refused(lambda: import_contacts_csv_file(path, MemoryContactStore()), repr(path)[1:-1])


@pytest.mark.parametrize("path", ["x" * 100_000, "\ud800", ""])
def test_impossible_paths_are_audience_errors(tmp_path: Path, path: str) -> None:
    """SPEC A5: a path too long, not encodable or empty never escapes as OSError/UnicodeError."""
    refused(lambda: import_contacts_csv_file(tmp_path / path, MemoryContactStore()))


@pytest.mark.parametrize("path", [3, None, b"contacts.csv", ["a.csv"]])
def test_a_path_of_the_wrong_type_is_an_input_error(path: object) -> None:
    """SPEC A5: an int is not read as a file descriptor, bytes are not a path here."""
    with pytest.raises(InputError, match=r"path: expected a str or os\.PathLike"):
        import_contacts_csv_file(path, MemoryContactStore())  # type: ignore[arg-type]


def test_bytes_the_encoding_cannot_decode_are_an_audience_error_naming_the_path(
    tmp_path: Path,
) -> None:
    """SPEC A5, issue 6.5: UTF-16 cut in a character cannot be escaped; the path is named."""
    path = tmp_path / "contacts.csv"
    path.write_bytes("phone\n+12122000001\n".encode("utf-16") + b"A")
    refused(
        lambda: import_contacts_csv_file(path, MemoryContactStore(), encoding="utf-16"),
        str(path),
        "cannot be decoded as utf-16",
    )


def test_undecodable_bytes_in_the_header_are_refused_naming_the_column_and_path(
    tmp_path: Path,
) -> None:
    """SPEC A5, issue 6.5: a header cell with bad bytes was silently mapped before."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"phone,n\xe4me\n+12122000001,x\n")
    options = CsvImportOptions(unknown_columns="custom")
    refused(
        lambda: import_contacts_csv_file(path, MemoryContactStore(), options),
        str(path),
        "column 2 holds bytes that are not valid text",
    )


def test_a_header_error_of_a_file_names_the_path(tmp_path: Path) -> None:
    """SPEC A5: every AudienceError of a file says which file."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"first_name\nAnn\n")
    refused(
        lambda: import_contacts_csv_file(path, MemoryContactStore()),
        str(path),
        "no id, phone or e-mail column",
    )


def test_arguments_are_checked_before_the_file_is_opened(tmp_path: Path) -> None:
    """SPEC A5: a wrong sink is an InputError even for a path that does not exist."""
    with pytest.raises(InputError, match="sink must be a ContactSink"):
        import_contacts_csv_file(tmp_path / "missing.csv", object())  # type: ignore[arg-type]


def test_a_regular_file_still_imports(tmp_path: Path) -> None:
    """SPEC A5: the checks leave ordinary files alone."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD)
    store = MemoryContactStore()
    report = import_contacts_csv_file(path, store)
    assert report.ok
    assert [c.first_name for c in store] == ["Ann"]


# ---------------------------------------------------------------- writing


def test_writing_into_a_directory_or_a_missing_folder_is_an_audience_error(
    tmp_path: Path,
) -> None:
    """SPEC A5: the rejected-rows file fails like the import, naming the path."""
    refused(lambda: write_rejected_rows_file(a_report(), tmp_path), str(tmp_path), "directory")
    missing = tmp_path / "no" / "such" / "rejected.csv"
    refused(lambda: write_rejected_rows_file(a_report(), missing), str(missing))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_writing_to_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """SPEC A5: opening a FIFO for writing would wait for a reader forever."""
    fifo = tmp_path / "rejected.csv"
    os.mkfifo(fifo)
    refused(lambda: write_rejected_rows_file(a_report(), fifo), str(fifo), "FIFO")


def test_an_unknown_encoding_for_writing_is_an_audience_error(tmp_path: Path) -> None:
    """SPEC A5: LookupError does not escape from the export either."""
    path = tmp_path / "rejected.csv"
    refused(
        lambda: write_rejected_rows_file(a_report(), path, encoding="no-such-codec"),
        str(path),
    )
    assert not path.exists()


def test_text_the_encoding_cannot_hold_is_written_as_a_question_mark(tmp_path: Path) -> None:
    """SPEC A5: a lone surrogate (not an escaped byte) or a character outside the
    encoding does not lose the whole export; escaped bytes are written back as read."""
    sink = MemoryContactStore()
    report = import_contacts_csv(
        io.StringIO("phone,first_name\nbad,\ud800x\nbad,\udcffy\nbad,é\n", newline=""), sink
    )
    assert report.rejected_count == 3
    path = tmp_path / "rejected.csv"
    assert write_rejected_rows_file(report, path) == 3
    data = path.read_bytes()
    assert b'"?x"' in data
    assert b'"\xffy"' in data
    assert '"é"'.encode() in data
    latin = tmp_path / "latin.csv"
    assert write_rejected_rows_file(report, latin, encoding="ascii") == 3
    assert b'"?"' in latin.read_bytes()


def test_the_report_must_be_a_report(tmp_path: Path) -> None:
    """SPEC A5: a wrong argument is an InputError, and nothing is created."""
    path = tmp_path / "rejected.csv"
    with pytest.raises(InputError, match="report: expected a CsvImportReport"):
        write_rejected_rows_file(None, path)  # type: ignore[arg-type]
    assert not path.exists()


def test_every_file_error_is_an_omnimsg_error(tmp_path: Path) -> None:
    """SPEC A5: the families callers catch (AudienceError is also a ValueError)."""
    error = refused(lambda: import_contacts_csv_file(tmp_path / "x", MemoryContactStore()))
    assert isinstance(error, OmnimsgError)
    assert isinstance(error, ValueError)
