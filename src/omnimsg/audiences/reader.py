"""CSV records with the physical lines they span, surviving broken quoting (SPEC A5).

This module owns reading: it turns an iterable of text lines into records of cells,
each with the line it starts and ends on, drops a leading byte order mark, and
recovers from a record whose quoting is broken. It knows nothing of headers,
contacts or values.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator

import attrs

from omnimsg.audiences._text import BOM, type_name
from omnimsg.audiences.report import RowProblem, RowRejection
from omnimsg.errors import AudienceError, InputError

__all__ = ["Broken", "Records"]


@attrs.frozen
class Broken:
    """A record that breaks CSV quoting: its first line and where the reader gave up."""

    text: str
    line: int
    last_line: int
    error: str

    @property
    def problem(self) -> RowProblem:
        """The rejection of the record's first line, in words."""
        if self.last_line > self.line:
            message = (
                "unclosed quote: a quoted field opened on this line is not closed properly "
                f"(line {self.last_line}: {self.error}); the lines after it are read as rows "
                "of their own"
            )
        elif "unexpected end of data" in self.error:
            message = f"unclosed quote: the quoted field is never closed ({self.error})"
        else:
            message = f"malformed CSV: {self.error}"
        return RowProblem(RowRejection.MALFORMED_CSV, message)


def _text_lines(source: Iterable[str]) -> Iterator[str]:
    """The lines of ``source``, refusing anything but text, the first without a BOM."""
    for number, line in enumerate(source, start=1):
        if not isinstance(line, str):
            raise InputError(
                f"line {number}: the CSV source gave {type_name(line)}, not text; open the "
                "file in text mode (open(path, encoding='utf-8-sig', newline=''))"
            )
        yield line.removeprefix(BOM) if number == 1 else line


class Records:
    """The CSV records of a stream, each with the physical lines it spans.

    A record that breaks CSV quoting gives back every line after its first, and
    those lines are read again as records of their own: an unclosed quote costs its
    own line, never the rows after it. Lines given back are at most the ones the
    failed record read, which the csv field-size limit bounds.
    """

    def __init__(self, source: Iterable[str], delimiter: str) -> None:
        self._source = _text_lines(source)
        self._delimiter = delimiter
        self._pending: deque[str] = deque()
        self._raw: list[str] = []
        self._reader = self._open()
        self.start = 1
        """The physical line the record last read starts on."""
        self.end = 0
        """The physical line the record last read ends on (lines consumed so far)."""

    def _open(self) -> Iterator[list[str]]:
        return csv.reader(self._lines(), delimiter=self._delimiter, strict=True)

    def _lines(self) -> Iterator[str]:
        while True:
            line: str | None = self._pending.popleft() if self._pending else None
            if line is None:
                line = next(self._source, None)
                if line is None:
                    return
            self._raw.append(line)
            yield line

    def read(self) -> list[str] | Broken | None:
        """The next record's cells, a :class:`Broken` record, or ``None`` at the end.

        Raises:
            AudienceError: the stream itself cannot decode its text.
            InputError: the stream gives something other than text (bytes).
        """
        self._raw.clear()
        self.start = self.end + 1
        try:
            cells = next(self._reader, None)
        except csv.Error as exc:
            raw = self._raw
            self.end = self.start
            # The reader is reset because the old one may have seen the end of the stream.
            self._pending.extendleft(reversed(raw[1:]))
            self._reader = self._open()
            first = raw[0].rstrip("\r\n") if raw else ""
            return Broken(first, self.start, self.start + max(len(raw) - 1, 0), str(exc))
        except UnicodeDecodeError as exc:
            raise AudienceError(
                f"line {self.start + len(self._raw)} or later: the text cannot be decoded as "
                f"{exc.encoding} ({exc.reason}); open the file with errors='surrogateescape' "
                "to have such rows reported and the rest imported"
            ) from exc
        self.end += len(self._raw)
        return cells
