"""What a CSV import says about itself: the report and its rejected rows (SPEC A5).

Frozen values only; the importer builds them and the export writes rejected rows
back out. Codes are stable strings a caller can store and match.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs

from omnimsg.audiences._checks import column_map, count, optional_text, text, to_enum, to_tuple
from omnimsg.audiences.options import check_delimiter

__all__ = ["CsvImportReport", "RejectedRow", "RowProblem", "RowRejection"]


class RowRejection(StrEnum):
    """Why a CSV row was not imported (A5). Values are stable strings."""

    MALFORMED_CSV = "malformed_csv"
    """The record breaks CSV quoting (a stray quote, or a quote never closed).

    Only the record's first line is rejected; the lines after it are read again as
    rows of their own, so an unclosed quote never swallows the rows that follow.
    """
    WRONG_FIELD_COUNT = "wrong_field_count"
    """The row has fewer fields than the header, or more that are not empty."""
    UNDECODABLE = "undecodable"
    """A cell holds bytes that are not valid text in the file's encoding, or a NUL."""
    INVALID_ID = "invalid_id"
    INVALID_PHONE = "invalid_phone"
    INVALID_EMAIL = "invalid_email"
    INVALID_VALUE = "invalid_value"
    """A typed value (number, boolean, date-time, time zone) does not parse."""
    UNNAMED_COLUMN = "unnamed_column"
    """A value sits under a column whose header cell is empty."""
    MISSING_KEY = "missing_key"
    """The row has no id, no phone and no e-mail, so it cannot name a contact."""


def _code(value: object) -> RowRejection:
    return to_enum(value, RowRejection, "RowProblem.code")


def _cells(value: object) -> tuple[str, ...]:
    return to_tuple(value, str, "RejectedRow.cells")


def _header(value: object) -> tuple[str, ...]:
    return to_tuple(value, str, "header")


def _problems(value: object) -> tuple[RowProblem, ...]:
    return to_tuple(value, RowProblem, "RejectedRow.problems")


def _rejected(value: object) -> tuple[RejectedRow, ...]:
    return to_tuple(value, RejectedRow, "CsvImportReport.rejected")


def _delimiter(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_delimiter(value, f"{type(instance).__name__}.{attribute.name}")


@attrs.frozen
class RowProblem:
    """One reason a row was rejected: a code, the column (if any) and words."""

    code: RowRejection = attrs.field(converter=_code)
    message: str = attrs.field(validator=text)
    column: str | None = attrs.field(default=None, validator=optional_text)

    def __str__(self) -> str:
        return f"{self.column}: {self.message}" if self.column else self.message


@attrs.frozen
class RejectedRow:
    """A CSV row that was not imported (A5).

    ``line`` is the physical line the record starts on (the header is line 1) and
    ``end_line`` the one it ends on, which differ when a quoted field spans lines.
    ``cells`` are the original cells; for a record that breaks CSV quoting it is the
    raw text of its first line, as one cell. ``header`` is the file's header and
    ``delimiter`` its field separator (shared by all rows), so a row can be written
    back out on its own.
    """

    line: int = attrs.field(validator=count)
    end_line: int = attrs.field(validator=count)
    cells: tuple[str, ...] = attrs.field(converter=_cells)
    problems: tuple[RowProblem, ...] = attrs.field(converter=_problems)
    header: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False, converter=_header)
    delimiter: str = attrs.field(default=",", eq=False, repr=False, validator=_delimiter)

    @property
    def code(self) -> RowRejection:
        """The code of the first problem."""
        return self.problems[0].code

    @property
    def reason(self) -> str:
        """Every problem, in words, ``; ``-separated."""
        return "; ".join(str(p) for p in self.problems)

    @property
    def where(self) -> str:
        """``"line 7"``, or ``"lines 7-9"`` for a record spanning lines."""
        if self.end_line > self.line:
            return f"lines {self.line}-{self.end_line}"
        return f"line {self.line}"


@attrs.frozen
class CsvImportReport:
    """What a CSV import did (A5).

    ``rows_read`` counts data records (blank lines and rows of empty cells are
    counted apart in ``blank_rows``). Always
    ``rows_read == imported + merged + rejected_count``: ``imported`` rows went to
    the sink's ``add`` and ``merged`` rows to its ``merge`` (into a contact an
    earlier row of this file added; see :class:`~omnimsg.protocols.ContactSink`).
    ``imported`` counts new contacts only with ``dedupe`` on; with it off every
    accepted row is ``imported``, even when the sink upserts it into a contact it
    already holds. ``rejected`` lists the rejected rows in file order unless the
    options said ``keep_rejected=False``. ``columns`` shows how each named header
    column was mapped; ``delimiter`` is the field separator the file was read with.
    """

    header: tuple[str, ...] = attrs.field(converter=_header)
    columns: Mapping[str, str | None] = attrs.field(converter=column_map)
    rows_read: int = attrs.field(validator=count)
    imported: int = attrs.field(validator=count)
    merged: int = attrs.field(validator=count)
    rejected_count: int = attrs.field(validator=count)
    blank_rows: int = attrs.field(validator=count)
    rejected: tuple[RejectedRow, ...] = attrs.field(converter=_rejected)
    delimiter: str = attrs.field(default=",", validator=_delimiter)

    @property
    def ok(self) -> bool:
        """``True`` when no row was rejected."""
        return self.rejected_count == 0
