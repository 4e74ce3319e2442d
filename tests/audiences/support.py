"""Helpers shared by the CSV import and export tests: running an import on text."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    RejectedRow,
    RowRejection,
    import_contacts_csv,
)
from omnimsg.contacts import Contact
from omnimsg.stores.memory import MemoryContactStore

US = CsvImportOptions(default_region="US")


def stream(text: str) -> io.StringIO:
    """CSV text as the open stream the importer reads."""
    return io.StringIO(text, newline="")


def run(
    text: str | Iterable[str],
    options: CsvImportOptions = US,
    on_rejected: Callable[[RejectedRow], object] | None = None,
) -> tuple[CsvImportReport, MemoryContactStore]:
    sink = MemoryContactStore()
    source = stream(text) if isinstance(text, str) else text
    report = import_contacts_csv(source, sink, options, on_rejected=on_rejected)
    return report, sink


def by_phone(sink: MemoryContactStore) -> dict[str | None, Contact]:
    return {c.phone: c for c in sink}


def rejected_lines(report: CsvImportReport) -> list[tuple[int, RowRejection]]:
    return [(r.line, r.code) for r in report.rejected]


def assert_accounted(report: CsvImportReport) -> None:
    assert report.rows_read == report.imported + report.merged + report.rejected_count


class RecordingSink:
    """A fake sink that records every call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Contact]] = []

    def add(self, contact: Contact, /) -> None:
        self.calls.append(("add", contact.id, contact))

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        self.calls.append(("merge", existing_id, contact))
