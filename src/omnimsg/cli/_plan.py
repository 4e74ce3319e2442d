"""``omnimsg plan``: a broadcast draft planned for the contacts of a CSV (SPEC section 4).

The draft is read by :func:`~omnimsg.broadcasts.draft.load_draft` and checked against
the profile (content, accounts, the 7 days of B10 for the audience found); the CSV
by the audiences importer (A5), the same way as ``omnimsg segment``. Three columns the
importer keeps as text are read here as what a CSV cannot otherwise say:
``subscription`` (the contact's opt-in status with every sender of the draft) and
``subscription:ACCOUNT`` (with one account), and ``last_channel`` (the channel the
contact last interacted on, B3). The plan is written as JSON Lines to ``--out``
while it is produced; the summary (B7, B17) and who is held or excluded, and why,
are printed. The clock is read here when ``--now`` is not given, never in the core.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack
from datetime import datetime, tzinfo
from typing import Annotated, Any

import typer

from omnimsg import (
    AccountState,
    Contact,
    InputError,
    SystemClock,
    compile_segment,
)
from omnimsg._files import describe_failure, open_regular, shown_path
from omnimsg.audiences import (
    CsvImportOptions,
    CsvImportReport,
    UnknownColumns,
    import_contacts_csv_file,
)
from omnimsg.broadcasts import Draft, Plan, PlanSummary, Tally, plan_broadcast, write_plan
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.draft import load_draft
from omnimsg.broadcasts.outcomes import reason_rule, reason_words
from omnimsg.cli._contact_columns import CHANNEL_COLUMN, SUBSCRIPTION_COLUMN, with_columns
from omnimsg.cli._flags import custom_fields, instant, refused_as, text, time_zone
from omnimsg.cli._options import JsonFlag, RegionOption, UnknownColumnsOption
from omnimsg.cli._output import Output, is_terminal, progress_bar, styled
from omnimsg.cli._profiles import load_named
from omnimsg.stores.memory import MemoryContactStore

__all__ = [
    "CHANNEL_COLUMN",
    "PROGRESS_THRESHOLD",
    "SUBSCRIPTION_COLUMN",
    "plan",
    "shows_progress",
]

PROGRESS_THRESHOLD = 5_000
"""More contacts than this in the CSV show a progress bar (on a terminal, without --json)."""
_PROGRESS_STEP = 1_000
_REJECTED_SHOWN = 20


def shows_progress(contacts: int, *, terminal: bool, json_output: bool) -> bool:
    """Whether a plan over ``contacts`` contacts shows a progress bar."""
    return contacts > PROGRESS_THRESHOLD and terminal and not json_output


# --- the contacts --------------------------------------------------------------------


class _Source:
    """The imported contacts as a contact source that reports how many were read."""

    def __init__(self, store: MemoryContactStore, advance: Callable[[int], object]) -> None:
        self._store = store
        self._advance = advance

    def iter_contacts(self) -> Iterator[Contact]:
        read = 0
        for contact in self._store.iter_contacts():
            yield contact
            read += 1
            if read == _PROGRESS_STEP:
                self._advance(read)
                read = 0
        self._advance(read)

    def get_contact(self, contact_id: str, /) -> Contact | None:
        return self._store.get_contact(contact_id)

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        return self._store.find_identity(account_id, external_id)

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        return self._store.accounts_for(external_id)


def _import(
    path: str, draft: Draft, options: CsvImportOptions
) -> tuple[MemoryContactStore, CsvImportReport]:
    imported = MemoryContactStore()
    report = import_contacts_csv_file(path, imported, options)
    accounts = [s.account_id for s in draft.senders]
    store = MemoryContactStore(with_columns(path, c, accounts) for c in imported)
    return store, report


def _options(
    draft: Draft, declared: Mapping[str, str], region: str | None, unknown: UnknownColumns
) -> CsvImportOptions:
    segment = draft.audience.segment
    custom = {} if segment is None else {n: t.value for n, t in segment.custom_fields.items()}
    custom.update(declared)
    with refused_as("--region"):
        return CsvImportOptions(
            custom_types=custom,
            unknown_columns=unknown,
            default_region=None if region is None else text(region, "--region"),
        )


def _audience_size(draft: Draft, store: MemoryContactStore, now: datetime) -> int | None:
    """How many contacts of the CSV the audience holds (``None``: an id list's, unknown)."""
    audience = draft.audience
    if audience.id_list:
        return None
    named = {cid for cid in audience.contact_ids if cid in store}
    if audience.segment is None:
        return len(named) if audience.contact_ids else len(store)
    predicate = compile_segment(audience.segment, now=now)
    return len(named | {c.id for c in store if predicate(c)})


# --- writing the plan ----------------------------------------------------------------


def _write(planned: Plan, path: str) -> PlanSummary:
    """Write ``planned`` as JSON Lines to the regular file at ``path`` while it is made."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = open_regular(path, what="plan file", error=InputError, flags=flags)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            return write_plan(planned, stream)
    except OSError as exc:
        raise InputError(
            f"cannot write plan file {shown_path(path)}: {describe_failure(exc)}"
        ) from None


def _progress(total: int, show: bool, stack: ExitStack) -> Callable[[int], object]:
    if not show:
        return lambda _: None
    update = progress_bar("planning", total, stack)
    return lambda n: update(advance=n)


# --- printing ------------------------------------------------------------------------


def _when(value: datetime | None, zone: tzinfo) -> str:
    return "-" if value is None else value.astimezone(zone).isoformat(timespec="minutes")


def _tally_row(name: str, tally: Tally, zone: tzinfo) -> tuple[str, ...]:
    return (
        name,
        f"{tally.messages:,}",
        f"{tally.recipients:,}",
        f"{tally.prompts:,}",
        f"{tally.paid_messages:,}",
        _when(tally.first_send, zone),
        _when(tally.last_send, zone),
    )


_TALLY_HEADERS = ("messages", "recipients", "prompts", "paid", "first send", "last send")


def _print_reasons(output: Output, title: str, counts: Mapping[str, int]) -> None:
    if not counts:
        return
    output.table(
        ("reason", "rule", "contacts", "why"),
        (
            (styled(code, "yellow"), reason_rule(code), f"{count:,}", reason_words(code))
            for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ),
        title=title,
    )


def _print_report(output: Output, report: CsvImportReport) -> None:
    output.line(
        f"contacts: {report.rows_read:,} rows read, {report.imported:,} imported, "
        f"{report.merged:,} merged, {report.rejected_count:,} rejected"
    )
    if report.rejected:
        shown = report.rejected[:_REJECTED_SHOWN]
        output.table(
            ("where", "code", "reason"),
            ((row.where, styled(row.code.value, "red"), row.reason) for row in shown),
            title="rejected rows (not planned):",
        )
        if len(report.rejected) > len(shown):
            output.line(f"... and {len(report.rejected) - len(shown):,} more")


def _print(
    output: Output,
    summary: PlanSummary,
    profile: str,
    report: CsvImportReport,
    zone: tzinfo,
    out: str | None,
) -> None:
    output.line(styled(summary.name, "bold cyan"), f" ({summary.broadcast_id}), profile {profile}")
    output.line(
        f"starts {_when(summary.start, zone)}; every send by {_when(summary.ends_by, zone)} (B10)"
    )
    _print_report(output, report)
    output.line(styled(summary.describe(), "bold"), " (B7)")
    output.grid(
        [
            (
                "audience",
                f"{summary.audience:,}: {summary.planned:,} planned, {summary.held:,} held, "
                f"{summary.excluded:,} excluded",
            ),
            ("prompts", f"{summary.prompts:,} double opt-in prompts and reminders (B12)"),
            ("paid", f"{summary.paid_messages:,} paid messages (B17)"),
            ("first send", _when(summary.first_send, zone)),
            ("last send", _when(summary.last_send, zone)),
            ("days", f"{summary.days_spanned:,} (UTC calendar days from first to last send)"),
            ("batches", f"{summary.batches:,}"),
        ]
    )
    if summary.by_channel:
        output.table(
            ("channel", *_TALLY_HEADERS),
            (_tally_row(str(kind), tally, zone) for kind, tally in summary.by_channel.items()),
            title="per channel:",
        )
    if summary.by_account:
        output.table(
            ("account", *_TALLY_HEADERS),
            (_tally_row(name, tally, zone) for name, tally in summary.by_account.items()),
            title="per account:",
        )
    _print_reasons(output, "held:", summary.held_by_reason)
    _print_reasons(output, "excluded:", summary.excluded_by_reason)
    if out is not None:
        output.line("plan written to ", styled(out, "bold"))


def _json(
    summary: PlanSummary,
    *,
    draft_file: str,
    profile: str,
    now: datetime,
    contacts: str,
    report: CsvImportReport,
    total: int,
    out: str | None,
) -> dict[str, Any]:
    codes = sorted({*summary.held_by_reason, *summary.excluded_by_reason})
    return {
        "draft": draft_file,
        "profile": profile,
        "now": now.isoformat(),
        "out": out,
        "contacts": {
            "file": contacts,
            "rows_read": report.rows_read,
            "imported": report.imported,
            "merged": report.merged,
            "rejected": report.rejected_count,
            "blank_rows": report.blank_rows,
            "total": total,
        },
        "summary": summary.to_dict(),
        "reasons": {
            code: {"rule": reason_rule(code), "words": reason_words(code)} for code in codes
        },
    }


# --- the command -----------------------------------------------------------------------


def plan(
    ctx: typer.Context,
    draft_file: Annotated[
        str,
        typer.Argument(
            metavar="DRAFT.toml", help="The broadcast draft, TOML or JSON.", show_default=False
        ),
    ],
    contacts: Annotated[
        str,
        typer.Option(
            "--contacts",
            metavar="CSV",
            help="The contacts CSV the audience is taken from.",
            show_default=False,
        ),
    ],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            metavar="NAME|PATH",
            help="Built-in profile name, or a profile file (a value with / or ending in .toml).",
        ),
    ] = "respondio",
    account_tz: Annotated[
        str,
        typer.Option(
            "--account-tz",
            metavar="ZONE",
            help="The sender accounts' IANA time zone: their days for the daily cap (B11).",
        ),
    ] = "UTC",
    custom_field: Annotated[
        list[str] | None,
        typer.Option(
            "--custom-field",
            metavar="NAME=TYPE",
            help="Declare a custom field of the CSV: string, number, boolean or datetime "
            "(repeatable; the draft's segment declares its own).",
            show_default=False,
        ),
    ] = None,
    region: RegionOption = None,
    unknown_columns: UnknownColumnsOption = UnknownColumns.CUSTOM,
    now_flag: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="WHEN",
            help="Plan at this ISO 8601 instant with offset (default: the clock).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the plan as JSON Lines to this file while it is made.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> int:
    """Plan a broadcast draft for the contacts of a CSV and summarise the plan."""
    output = Output.of(ctx)
    now = instant(now_flag, "--now", default=SystemClock().now())
    zone = time_zone(account_tz, "--account-tz")
    declared = custom_fields(custom_field or (), "--custom-field")
    loaded = load_named(profile, "--profile")
    draft = load_draft(draft_file)
    store, report = _import(contacts, draft, _options(draft, declared, region, unknown_columns))
    validate_draft(draft, loaded, audience_size=_audience_size(draft, store, now), now=now)
    accounts = {s.account_id: AccountState(timezone=zone) for s in draft.senders}
    show = shows_progress(len(store), terminal=is_terminal(sys.stderr), json_output=json_output)
    with ExitStack() as stack:
        advance = _progress(len(store), show, stack)
        planned = plan_broadcast(
            draft, _Source(store, advance), profile=loaded, now=now, accounts=accounts
        )
        summary = planned.run() if out is None else _write(planned, out)
    if json_output:
        output.json(
            _json(
                summary,
                draft_file=draft_file,
                profile=loaded.name,
                now=now,
                contacts=contacts,
                report=report,
                total=len(store),
                out=out,
            )
        )
    else:
        _print(output, summary, loaded.name, report, zone, out)
    return 0
