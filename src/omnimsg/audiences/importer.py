"""Contacts from a CSV stream, row by row, into a sink (SPEC A5).

This module owns the import run: the header is mapped once (:mod:`.columns`) into a
plan of one cell parser per column (:mod:`.cells`); each record the reader gives
(:mod:`.reader`) is then validated on its own, merged with the rows that are the
same contact, and handed to the sink; every rejected row is reported with its
physical line, in file order. It reads an open text stream or any iterable of lines
and does no file I/O (:mod:`.files` opens files).

Memory stays bounded by design: the importer holds one batch of at most 256 records
at a time. What it keeps is the dedupe index (one entry per distinct id, phone and
e-mail; turn dedupe off, or pass a disk-backed mapping, to keep even that out of
memory) and the rejected rows it reports (``keep_rejected=False`` streams them to
``on_rejected`` instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from itertools import chain
from typing import Any, NamedTuple

from omnimsg.audiences._text import UNREADABLE, type_name, unreadable_what
from omnimsg.audiences.cells import CellError
from omnimsg.audiences.dedupe import Dedupe
from omnimsg.audiences.formula import guard_patterns
from omnimsg.audiences.options import CsvImportOptions
from omnimsg.audiences.plan import RowPlan, plan_rows
from omnimsg.audiences.reader import Broken, Records
from omnimsg.audiences.report import CsvImportReport, RejectedRow, RowProblem, RowRejection
from omnimsg.contacts import Contact, CustomValue
from omnimsg.errors import AudienceError, InputError
from omnimsg.protocols import ContactSink

__all__ = ["check_import_arguments", "import_contacts_csv"]


# Rows are parsed in batches, column by column: each cell parser then runs over many
# cells in a row, and phonenumbers (most of the time per row) keeps its working set
# warm. Measured with bench/csv_import.py: a fifth less time per row than parsing
# each row's cells together. Memory stays bounded by the batch.
_BATCH = 256


class _Pending(NamedTuple):
    """A record waiting in a batch: its lines, its cells, and them without formula guards."""

    line: int
    end: int
    cells: list[str]
    restored: list[str]


class _Importer:
    """State of one import run; :func:`import_contacts_csv` is its only user."""

    def __init__(
        self,
        sink: ContactSink,
        options: CsvImportOptions,
        on_rejected: Callable[[RejectedRow], object] | None,
        index: MutableMapping[str, str] | None,
        shared_index: bool,
    ) -> None:
        self.sink = sink
        self.options = options
        self.on_rejected = on_rejected
        self.dedupe = Dedupe(index, record_derived_ids=shared_index)
        self.shared_index = shared_index
        self.restore = guard_patterns(options.delimiter)[1]
        self.header: tuple[str, ...] = ()
        self.rows_read = 0
        self.imported = 0
        self.merged = 0
        self.rejected_count = 0
        self.blank_rows = 0
        self.rejected: list[RejectedRow] = []

    def reject(
        self, line: int, end: int, cells: Sequence[str], problems: Sequence[RowProblem]
    ) -> None:
        row = RejectedRow(
            line, end, tuple(cells), tuple(problems), self.header, self.options.delimiter
        )
        self.rejected_count += 1
        if self.options.keep_rejected:
            self.rejected.append(row)
        if self.on_rejected is not None:
            self.on_rejected(row)

    def run(self, source: Iterable[str]) -> CsvImportReport:
        records = Records(source, self.options.delimiter)
        plan: RowPlan | None = None
        batch: list[_Pending] = []
        while (cells := records.read()) is not None:
            if isinstance(cells, Broken):
                if plan is None:
                    raise AudienceError(
                        f"line {records.start}: cannot read the header row: {cells.error}"
                    )
                self.rows_read += 1
                self._flush(plan, batch)
                self.reject(records.start, records.end, (cells.text,), (cells.problem,))
            elif plan is not None:
                self._take(plan, cells, records.start, records.end, batch)
            elif "".join(cells).strip():
                self.header = tuple(self._restored(cell).strip() for cell in cells)
                where = f"CSV header (line {records.start})"
                plan = plan_rows(self.header, self.options, where)
                # Only an id column (here, or in another file sharing the caller's
                # index) can name a derived id; without one the phone and e-mail keys
                # find every contact a derived id would, without one more key each.
                self.dedupe.record_derived_ids = self.shared_index or plan.id_index is not None
        if plan is None:
            raise AudienceError("the CSV is empty: there is no header row")
        self._flush(plan, batch)
        return CsvImportReport(
            header=self.header,
            columns=plan.columns,
            rows_read=self.rows_read,
            imported=self.imported,
            merged=self.merged,
            rejected_count=self.rejected_count,
            blank_rows=self.blank_rows,
            rejected=tuple(self.rejected),
            delimiter=self.options.delimiter,
        )

    def _restored(self, cell: str) -> str:
        """``cell`` without the apostrophes :func:`neutralize_formula` adds."""
        return self.restore.sub("", cell) if "'" in cell else cell

    def _take(
        self, plan: RowPlan, cells: list[str], line: int, end: int, batch: list[_Pending]
    ) -> None:
        """Check a record's shape and text, and add it to ``batch`` (or reject it)."""
        joined = "".join(cells)
        if not joined.strip():
            self.blank_rows += 1
            return
        self.rows_read += 1
        width = len(plan.header)
        problems: Sequence[RowProblem] = ()
        if len(cells) != width:
            if len(cells) < width or "".join(cells[width:]).strip():
                problems = (
                    RowProblem(
                        RowRejection.WRONG_FIELD_COUNT,
                        f"expected {width} fields (as in the header), got {len(cells)}",
                    ),
                )
            else:
                cells = cells[:width]
        if not problems and UNREADABLE.search(joined):
            problems = _unreadable_problems(plan, cells)
        if problems:
            # Rows are reported in file order: the batch before this row goes first.
            self._flush(plan, batch)
            self.reject(line, end, cells, problems)
            return
        restored = [self._restored(cell) for cell in cells] if "'" in joined else cells
        batch.append(_Pending(line, end, cells, restored))
        if len(batch) >= _BATCH:
            self._flush(plan, batch)

    def _flush(self, plan: RowPlan, batch: list[_Pending]) -> None:
        """Parse the batch column by column, then import or reject each row in order."""
        if not batch:
            return
        values: list[list[Any]] = [[None] * len(plan.header) for _ in batch]
        problems: list[list[RowProblem]] = [[] for _ in batch]
        for i, parse in plan.parsers:
            for row, pending in enumerate(batch):
                try:
                    values[row][i] = parse(pending.restored[i])
                except CellError as exc:
                    problems[row].append(RowProblem(exc.code, exc.message, plan.labels[i]))
        for pending, row_values, row_problems in zip(batch, values, problems, strict=True):
            if row_problems:
                self.reject(pending.line, pending.end, pending.cells, row_problems)
            else:
                self._contact(plan, pending, row_values)
        batch.clear()

    def _contact(self, plan: RowPlan, pending: _Pending, values: list[Any]) -> None:
        """Build the row's contact and hand it to the sink (``add`` or ``merge``)."""
        explicit_id: str | None = None if plan.id_index is None else values[plan.id_index]
        number: tuple[str, str | None] | None = (
            None if plan.phone_index is None else values[plan.phone_index]
        )
        phone = None if number is None else number[0]
        email: str | None = None if plan.email_index is None else values[plan.email_index]
        if explicit_id is None and phone is None and email is None:
            problem = RowProblem(RowRejection.MISSING_KEY, "the row has no id, phone or e-mail")
            self.reject(pending.line, pending.end, pending.cells, (problem,))
            return
        existing, target = self.dedupe.identify(explicit_id, phone, email)
        fields: dict[str, Any] = {name: values[i] for i, name in plan.fields}
        fields["id"] = target
        if number is not None:
            fields["phone"], fields["phone_region"] = number
        if plan.tags:
            fields["tags"] = frozenset(chain.from_iterable(values[i] for i in plan.tags))
        if plan.custom:
            custom: dict[str, CustomValue] = {}
            for i, name in plan.custom:
                if values[i] is not None:
                    custom[name] = values[i]
            fields["custom"] = custom
        contact = Contact(**fields)
        if existing is None:
            self.sink.add(contact)
            self.imported += 1
        else:
            self.sink.merge(existing, contact)
            self.merged += 1


def _unreadable_problems(plan: RowPlan, cells: Sequence[str]) -> list[RowProblem]:
    problems = []
    for label, cell in zip(plan.labels, cells, strict=True):
        found = UNREADABLE.search(cell)
        if found is not None:
            what = unreadable_what(found.group())
            problems.append(RowProblem(RowRejection.UNDECODABLE, f"the cell holds {what}", label))
    return problems


def check_import_arguments(
    sink: object,
    options: object,
    on_rejected: object,
    dedupe_index: object,
) -> CsvImportOptions:
    """Refuse arguments of the wrong type before anything is read; return the options.

    Raises:
        InputError: naming the argument.
    """
    for method in ("add", "merge"):
        if not callable(getattr(sink, method, None)):
            raise InputError(
                f"sink must be a ContactSink (with add and merge), got {type_name(sink)} "
                f"without {method}"
            )
    if options is None:
        options = CsvImportOptions()
    elif not isinstance(options, CsvImportOptions):
        raise InputError(f"options: expected CsvImportOptions or None, got {type_name(options)}")
    if on_rejected is not None and not callable(on_rejected):
        raise InputError(f"on_rejected: expected a callable or None, got {type_name(on_rejected)}")
    if dedupe_index is not None and not isinstance(dedupe_index, MutableMapping):
        raise InputError(
            f"dedupe_index: expected a mutable mapping or None, got {type_name(dedupe_index)}"
        )
    return options


def import_contacts_csv(
    source: Iterable[str],
    sink: ContactSink,
    options: CsvImportOptions | None = None,
    *,
    on_rejected: Callable[[RejectedRow], object] | None = None,
    dedupe_index: MutableMapping[str, str] | None = None,
) -> CsvImportReport:
    """Stream contacts from a CSV into ``sink`` and report every row (A5).

    The first non-blank record is the header; it is mapped to contact fields once
    (see :class:`CsvImportOptions`) and a header that cannot be used is refused
    before any row is read. Each data row is then validated on its own: a bad row is
    reported with its physical line and the reasons, and the rows around it are
    imported all the same. A record whose quoting is broken (a quote never closed)
    is rejected as its first line only, and the lines after it are read again. Before
    validation every cell loses the apostrophes :func:`neutralize_formula` adds, so
    a file from :func:`write_rejected_rows` imports as the original cells.

    Duplicates (with ``dedupe`` on): a row with an id is the contact with that id.
    A row without one is the contact with the id :func:`derive_contact_id` gives it,
    if an earlier row added that id; else the contact that an earlier row gave the
    same phone, or else the same e-mail (case-insensitive). A row that is an earlier
    contact goes to the sink's ``merge`` (the earlier values win, later rows fill
    empty fields, tags are unioned: :func:`~omnimsg.contacts.merge_contacts`); any
    other row goes to its ``add``, with its id, or one from
    :func:`derive_contact_id`. No id is given to ``add`` twice.

    Args:
        source: an open text stream (open files with ``newline=""``) or any iterable
            of lines; CSV text goes in as ``io.StringIO(text, newline="")``. A byte
            order mark at the start is dropped.
        sink: receives the contacts (:class:`~omnimsg.protocols.ContactSink`, e.g.
            :class:`~omnimsg.stores.memory.MemoryContactStore`).
        options: how to read the file; defaults to :class:`CsvImportOptions()`.
        on_rejected: called with each :class:`RejectedRow` as it is found.
        dedupe_index: the mapping that remembers ids (derived ones too), phones and
            e-mails seen (``{"i:<id>" | "p:<phone>" | "e:<email>": contact id}``); a
            fresh dict by default. Pass a disk-backed mapping (e.g. :mod:`shelve`) to
            keep it out of memory. Ignored when ``dedupe`` is off.

    Returns:
        A :class:`CsvImportReport`.

    Raises:
        AudienceError: the file cannot be read at all: no header, an unusable
            header (a column name with a NUL or undecodable bytes; repeated, unknown
            or conflicting columns; no id, phone or e-mail column), or text the
            stream cannot decode.
        InputError: ``source`` is a ``str`` (a path or CSV text; see above), bytes,
            or gives anything but text (a file opened in binary mode); or another
            argument has the wrong type. The message names it.
    """
    if isinstance(source, str):
        raise InputError(
            "import_contacts_csv reads an open text stream or an iterable of lines, not a "
            "str: wrap CSV text in io.StringIO(text, newline=''), or call "
            "import_contacts_csv_file(path) for a file"
        )
    if isinstance(source, bytes | bytearray | memoryview) or not isinstance(source, Iterable):
        raise InputError(
            f"import_contacts_csv reads an open text stream or an iterable of lines, not "
            f"{type_name(source)}: decode bytes first (io.StringIO(data.decode('utf-8-sig'), "
            "newline='')), or call import_contacts_csv_file(path) for a file"
        )
    chosen = check_import_arguments(sink, options, on_rejected, dedupe_index)
    index = (dedupe_index if dedupe_index is not None else {}) if chosen.dedupe else None
    shared = dedupe_index is not None
    return _Importer(sink, chosen, on_rejected, index, shared).run(source)
