"""``omnimsg segment``: a segment in words, and who in a contacts CSV is in it (A1, A5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NamedTuple

import typer

from omnimsg import (
    Contact,
    InputError,
    Segment,
    SystemClock,
    compile_segment,
    parse_segment,
)
from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    UnknownColumns,
    import_contacts_csv_file,
)
from omnimsg.cli._files import read_text_file
from omnimsg.cli._flags import custom_fields, instant, refused_as, text
from omnimsg.cli._options import JsonFlag, RegionOption, UnknownColumnsOption
from omnimsg.cli._output import Output, styled
from omnimsg.stores.memory import MemoryContactStore

__all__ = ["segment"]


def _contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name or None,
        "phone": contact.phone,
        "email": contact.email,
        "tags": sorted(contact.tags),
    }


class _Members(NamedTuple):
    """A contacts CSV imported into memory, and those of its contacts in the segment."""

    path: str
    report: CsvImportReport
    total: int
    matches: list[Contact]


def _members(segment: Segment, path: str, options: CsvImportOptions, now: datetime) -> _Members:
    store = MemoryContactStore()
    report = import_contacts_csv_file(path, store, options)
    predicate = compile_segment(segment, now=now)
    return _Members(path, report, len(store), [c for c in store if predicate(c)])


def _members_json(members: _Members, sample: int) -> dict[str, Any]:
    report = members.report
    return {
        "file": members.path,
        "rows_read": report.rows_read,
        "imported": report.imported,
        "merged": report.merged,
        "rejected": report.rejected_count,
        "blank_rows": report.blank_rows,
        "total": members.total,
        "in_segment": len(members.matches),
        "sample": [_contact_json(contact) for contact in members.matches[:sample]],
        "rejected_rows": [
            {
                "line": row.line,
                "end_line": row.end_line,
                "code": row.code.value,
                "reason": row.reason,
            }
            for row in report.rejected
        ],
    }


def _options(
    custom: dict[str, str], region: str | None, unknown: UnknownColumns
) -> CsvImportOptions:
    options = CsvImportOptions(custom_types=custom, unknown_columns=unknown)
    if region is not None:
        with refused_as("--region"):
            options = CsvImportOptions(
                custom_types=custom,
                unknown_columns=unknown,
                default_region=text(region, "--region"),
            )
    return options


def _print_members(output: Output, members: _Members, sample: int) -> None:
    report, matches = members.report, members.matches
    output.line(
        f"contacts: {report.rows_read} rows read, {report.imported} imported, "
        f"{report.merged} merged, {report.rejected_count} rejected"
    )
    output.line(styled(f"in segment: {len(matches)} of {members.total} contacts", "bold"))
    if matches and sample:
        output.table(
            ("id", "name", "phone", "email", "tags"),
            (
                (
                    c.id,
                    c.name or "-",
                    c.phone or "-",
                    c.email or "-",
                    ", ".join(sorted(c.tags)) or "-",
                )
                for c in matches[:sample]
            ),
        )
    if len(matches) > sample:
        output.line(f"... and {len(matches) - sample} more")
    if report.rejected:
        output.line(styled("rejected rows:", "bold"))
        output.table(
            ("where", "code", "reason"),
            ((row.where, styled(row.code.value, "red"), row.reason) for row in report.rejected),
        )


def segment(
    ctx: typer.Context,
    segment_file: Annotated[
        str,
        typer.Argument(metavar="FILE.json", help="The segment, as JSON.", show_default=False),
    ],
    contacts: Annotated[
        str | None,
        typer.Option(
            "--contacts",
            metavar="CSV",
            help="A contacts CSV file to count and sample the segment's members in.",
            show_default=False,
        ),
    ] = None,
    custom_field: Annotated[
        list[str] | None,
        typer.Option(
            "--custom-field",
            metavar="NAME=TYPE",
            help="Declare a custom field: string, number, boolean or datetime (repeatable).",
            show_default=False,
        ),
    ] = None,
    region: RegionOption = None,
    unknown_columns: UnknownColumnsOption = UnknownColumns.CUSTOM,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="How many matching contacts to show.")
    ] = 10,
    now_flag: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="WHEN",
            help="Measure relative periods from this ISO 8601 instant (default: the clock).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> int:
    """Describe a segment and count its members in a contacts CSV."""
    output = Output.of(ctx)
    now: datetime = instant(now_flag, "--now", default=SystemClock().now())
    custom = custom_fields(custom_field or (), "--custom-field")
    parsed: Segment = parse_segment(
        read_text_file(segment_file, "segment file", InputError), custom_fields=custom
    )
    description = parsed.describe()
    members = None
    if contacts is not None:
        members = _members(parsed, contacts, _options(custom, region, unknown_columns), now)
    if json_output:
        output.json(
            {
                "segment": {"file": segment_file, "description": description},
                "now": now.isoformat(),
                "contacts": None if members is None else _members_json(members, sample),
            }
        )
        return 0
    output.line(styled("segment: ", "bold"), description)
    if members is not None:
        _print_members(output, members, sample)
    return 0
