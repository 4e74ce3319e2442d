"""Rejected rows back out as CSV, for correction in a spreadsheet (SPEC A5).

This module owns the shape of the correction file: an ``import_error`` column with
the reason, then the original header and cells, every cell quoted and guarded
against formulas (:func:`~omnimsg.audiences.neutralize_formula`). It writes to a
stream the caller opened (:mod:`.files` opens files).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from omnimsg.audiences._text import type_name
from omnimsg.audiences.columns import REJECT_REASON_COLUMN
from omnimsg.audiences.formula import guard_patterns
from omnimsg.audiences.options import check_delimiter
from omnimsg.audiences.report import CsvImportReport, RejectedRow
from omnimsg.errors import AudienceError, InputError

__all__ = ["RejectedRowWriter", "TextSink", "write_rejected_rows"]


class TextSink(Protocol):
    """Anything with ``write(text)``: an open text file, ``io.StringIO``."""

    def write(self, text: str, /) -> object:
        """Write ``text``."""
        ...


def _text_cells(cells: object, what: str) -> tuple[str, ...]:
    if isinstance(cells, str) or not isinstance(cells, Sequence):
        raise InputError(f"{what}: expected a sequence of text, got {type_name(cells)}")
    for cell in cells:
        if not isinstance(cell, str):
            raise InputError(f"{what}: every cell must be text, got {type_name(cell)}")
    return tuple(cells)


def _translated(writerow: Callable[[Iterable[str]], object]) -> Callable[[Iterable[str]], object]:
    """``writerow`` whose stream failures are omnimsg errors (the one place they are)."""

    def write(cells: Iterable[str]) -> object:
        try:
            return writerow(cells)
        except TypeError:
            raise InputError(
                "stream: expected a text stream (open the file in text mode, newline='')"
            ) from None
        except (OSError, ValueError) as exc:
            raise AudienceError(f"cannot write the rejected rows: {exc}") from None

    return write


class RejectedRowWriter:
    """Write rejected rows as CSV for correction, one at a time.

    Columns are :data:`~omnimsg.audiences.REJECT_REASON_COLUMN`
    (``"line 7: Phone: ..."``) followed by the original header; each row is its
    original cells. Every cell is quoted and passed through
    :func:`~omnimsg.audiences.neutralize_formula`. Usable as ``on_rejected``: the
    header is written before the first row (taken from the row when not given here).

    Args:
        stream: an open text stream (open files with ``newline=""``; use
            ``errors="surrogateescape"`` to write undecodable bytes back as read).
        header: the original header, if known before the first row.
        delimiter: the field separator to write; by default the one the rows were
            imported with (``","`` when nothing is known).

    Raises:
        InputError: ``stream`` has no ``write``, ``header`` is not a sequence of
            text, or ``delimiter`` is not one character other than a quote (``"`` or
            ``'``), a line break or NUL.
    """

    def __init__(
        self,
        stream: TextSink,
        header: Sequence[str] | None = None,
        *,
        delimiter: str | None = None,
    ) -> None:
        if not callable(getattr(stream, "write", None)):
            raise InputError(f"stream: expected an open text stream, got {type_name(stream)}")
        if delimiter is not None:
            check_delimiter(delimiter)
        self._stream = stream
        self._header = None if header is None else _text_cells(header, "header")
        self._delimiter = delimiter
        self._writerow: Callable[[Iterable[str]], object] | None = None
        self.written = 0
        """How many rows were written (not counting the header)."""

    def write_header(self, header: Sequence[str] | None = None) -> None:
        """Write the header row now (once); later calls do nothing.

        Raises:
            InputError: ``header`` is not a sequence of text.
        """
        names = None if header is None else _text_cells(header, "header")
        self._start(names, None)

    def _start(
        self, header: tuple[str, ...] | None, delimiter: str | None
    ) -> Callable[[Iterable[str]], object]:
        """The row writer, made (and the header written) on first use."""
        if self._writerow is not None:
            return self._writerow
        # Known only now when the writer serves as on_rejected: the row carries it.
        self._delimiter = self._delimiter or delimiter or ","
        writer = csv.writer(self._stream, delimiter=self._delimiter, quoting=csv.QUOTE_ALL)
        self._writerow = _translated(writer.writerow)
        names = header if header is not None else (self._header or ())
        self._writerow(self._guarded((REJECT_REASON_COLUMN, *names)))
        return self._writerow

    def _guarded(self, cells: Iterable[str]) -> list[str]:
        guard = guard_patterns(self._delimiter or ",")[0]
        return [guard.sub("'", cell) if cell else cell for cell in cells]

    def __call__(self, row: RejectedRow) -> None:
        """Write one rejected row (and the header first, if not yet written).

        Raises:
            InputError: ``row`` is not a :class:`~omnimsg.audiences.RejectedRow` of
                text cells, or carries an unusable delimiter.
        """
        if not isinstance(row, RejectedRow):
            raise InputError(f"expected a RejectedRow, got {type_name(row)}")
        cells = _text_cells(row.cells, "row.cells")
        header = self._header if self._header is not None else _text_cells(row.header, "header")
        if self._writerow is None and self._delimiter is None:
            check_delimiter(row.delimiter, "row.delimiter")
        writerow = self._start(header, row.delimiter)
        writerow(self._guarded((f"{row.where}: {row.reason}", *cells)))
        self.written += 1


def write_rejected_rows(
    report: CsvImportReport, stream: TextSink, *, delimiter: str | None = None
) -> int:
    """Write ``report.rejected`` as CSV to ``stream`` (see :class:`RejectedRowWriter`).

    The header is written even when no row was rejected. The field separator is
    ``delimiter``, by default the one the file was imported with. Returns the rows
    written.

    Raises:
        InputError: ``report`` is not a :class:`~omnimsg.audiences.CsvImportReport`,
            or an argument is refused by :class:`RejectedRowWriter`.
    """
    if not isinstance(report, CsvImportReport):
        raise InputError(f"report: expected a CsvImportReport, got {type_name(report)}")
    chosen = report.delimiter if delimiter is None else delimiter
    writer = RejectedRowWriter(stream, report.header, delimiter=chosen)
    writer.write_header()
    for row in report.rejected:
        writer(row)
    return writer.written
