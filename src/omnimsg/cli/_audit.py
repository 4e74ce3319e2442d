"""``omnimsg audit``: replay a message log through a profile's rules and report violations.

Thin: reads the flags, the contact data and the log (streamed, through
:func:`omnimsg.audit.read_log`), runs :func:`omnimsg.audit.audit` and prints a table
of counts by rule and a sample of each, or one JSON document. Exit status 0 when
the log is clean, 1 when any violation was found (so the command can gate a CI
pipeline), 3 when omnimsg refused the input, bad log rows included: the rows that
could be read are audited and reported, and the bad ones listed.
"""

from __future__ import annotations

import json
import os
from datetime import UTC
from typing import Annotated, Any

import typer

from omnimsg.audiences import CsvImportOptions, UnknownColumns, import_contacts_csv_file
from omnimsg.audit import (
    LOG_FORMATS,
    MAX_SAMPLES,
    AuditReport,
    BadRow,
    Violation,
    read_log,
)
from omnimsg.audit import audit as run_audit
from omnimsg.channels.capabilities import FrequencyLimit
from omnimsg.cli._contact_columns import SUBSCRIPTION_COLUMN, column_of, with_columns
from omnimsg.cli._files import read_text_file
from omnimsg.cli._flags import FlagError, text
from omnimsg.cli._options import JsonFlag, ProfileOption
from omnimsg.cli._output import Output, styled
from omnimsg.cli._profiles import load_named
from omnimsg.contacts import Contact
from omnimsg.errors import InputError, OmnimsgError
from omnimsg.policy.reasons import REASONS
from omnimsg.stores.memory import MemoryContactStore

__all__ = ["audit", "audit_json"]

DEFAULT_PROFILE = "official"
EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 3
BAD_ROWS_KEPT = 20
"""Bad log rows listed in the output (all are counted)."""
_CUT = 160  # characters of a message's text shown in a table


def _frequency(value: str | None) -> FrequencyLimit | None:
    """``--frequency-cap N/PERIOD`` (``3/24h``, ``2/7d``)."""
    if value is None:
        return None
    from omnimsg._time import parse_duration

    count, sep, period = text(value, "--frequency-cap").partition("/")
    if not sep or not count.strip().isdigit() or len(count.strip()) > 9:
        raise FlagError("--frequency-cap", f"expected N/PERIOD such as 3/24h, got {value[:40]!r}")
    try:
        limit = FrequencyLimit(messages=int(count), period=parse_duration(period.strip()))
    except (OmnimsgError, ValueError) as exc:
        raise FlagError("--frequency-cap", str(exc)[:200]) from None
    if limit.messages < 1 or limit.period.total_seconds() <= 0:
        raise FlagError("--frequency-cap", "expected at least 1 message per a positive period")
    return limit


def _contacts(path: str | None) -> list[Contact] | None:
    """The contact data of ``--contacts``: a contacts CSV (as ``plan`` imports it, with
    ``subscription:ACCOUNT`` columns for consent), or a JSON array (or JSON Lines) of
    contact objects."""
    if path is None:
        return None
    path = text(path, "--contacts")
    if path.lower().endswith(".csv"):
        store = MemoryContactStore()
        options = CsvImportOptions(unknown_columns=UnknownColumns.CUSTOM)
        report = import_contacts_csv_file(path, store, options)
        if not report.ok:
            first = report.rejected[0] if report.rejected else None
            where = "" if first is None else f" (first at line {first.line})"
            raise InputError(
                f"contacts file: {report.rejected_count} row(s) rejected{where}; "
                "fix them so that no contact's state is guessed"
            )
        # The consent and last-channel columns as ``plan`` reads them
        # (``subscription:ACCOUNT``); the accounts are not known before the log is read.
        contacts = list(store.iter_contacts())
        for contact in contacts:
            if any(column_of(name) == (SUBSCRIPTION_COLUMN, "") for name in contact.custom):
                raise InputError(
                    f"contacts file: name the sender of the {SUBSCRIPTION_COLUMN!r} column "
                    f"({SUBSCRIPTION_COLUMN}:ACCOUNT): the audit does not know the senders "
                    "before it reads the log"
                )
        return [with_columns(path, contact, ()) for contact in contacts]
    data = read_text_file(path, "contacts file", InputError)
    try:
        stripped = data.lstrip()
        if stripped.startswith("["):
            items = json.loads(data)
        else:
            items = [json.loads(line) for line in data.splitlines() if line.strip()]
    except RecursionError:
        raise InputError("contacts file: JSON nested too deeply") from None
    except ValueError as exc:
        raise InputError(f"contacts file: not JSON: {str(exc)[:120]}") from None
    if not isinstance(items, list):
        raise InputError("contacts file: expected a JSON array of contact objects")
    contacts = []
    for i, item in enumerate(items):
        try:
            contacts.append(Contact.from_dict(item))
        except InputError as exc:
            raise InputError(f"contacts file, contact {i + 1}: {exc}") from None
    return contacts


def _violation_json(violation: Violation) -> dict[str, Any]:
    entry = violation.entry
    return {
        "rule": violation.rule,
        "reason": None if violation.reason is None else violation.reason.value,
        "line": entry.line,
        "at": entry.at.astimezone(UTC).isoformat(),
        "direction": entry.direction.value,
        "channel": entry.channel.value,
        "account": entry.account,
        "contact": entry.contact,
        "text": entry.text,
        "template": entry.template,
        "tag": entry.tag,
        "marketing": entry.marketing,
        "detail": violation.detail,
    }


def audit_json(
    report: AuditReport, *, log: str, profile: str, bad: list[BadRow], bad_count: int
) -> dict[str, Any]:
    """The ``audit --json`` document (shape in docs/cli.md and docs/audit.md)."""
    return {
        "log": log,
        "profile": profile,
        "messages_read": report.messages_read,
        "outbound_checked": report.outbound_checked,
        "unchecked": report.unchecked,
        "violations": report.violations,
        "by_rule": dict(report.by_rule),
        "samples": {
            rule: [_violation_json(v) for v in sample] for rule, sample in report.samples.items()
        },
        "bad_rows": bad_count,
        "bad_row_samples": [
            {"line": row.line, "field": row.field, "message": row.message} for row in bad
        ],
    }


def _rule_words(rule: str, sample: tuple[Violation, ...]) -> str:
    reasons = {v.reason for v in sample if v.reason is not None}
    if len(reasons) == 1:
        return REASONS[next(iter(reasons))].words
    return {
        "B11": "a sender's daily recipient cap",
        "B13": "a WhatsApp messaging limit (unique users in 24 h)",
        "P2": "WhatsApp messaging limit, v1 rules",
        "P3": "WhatsApp messaging limit, v2 rules",
        "P4": "WhatsApp messaging limit, v3 rules",
        "P12": "a US state's quiet hours or frequency cap",
        "X2": "quiet hours in the recipient's time",
        "X4": "the frequency cap per contact",
    }.get(rule, "")


def _shown(value: str | None) -> str:
    if value is None:
        return ""
    return value if len(value) <= _CUT else value[: _CUT - 1] + "…"


def _print(output: Output, report: AuditReport, bad: list[BadRow], bad_count: int) -> None:
    output.grid(
        [
            ("messages read", f"{report.messages_read or 0:,}"),
            ("outbound checked", f"{report.outbound_checked or 0:,}"),
            ("not in the profile", f"{report.unchecked or 0:,}"),
            ("violations", f"{report.violations:,}"),
            ("bad rows", f"{bad_count:,}"),
        ]
    )
    if report.violations:
        output.blank()
        output.table(
            ("rule", "violations", "what"),
            (
                (rule, f"{count:,}", _rule_words(rule, report.samples[rule]))
                for rule, count in report.by_rule.items()
            ),
            title="violations by rule",
        )
        for rule, sample in report.samples.items():
            if not sample:
                continue
            output.blank()
            output.table(
                ("line", "at", "channel", "account", "contact", "message", "why"),
                (
                    (
                        "" if v.entry.line is None else str(v.entry.line),
                        v.entry.at.astimezone(UTC).isoformat(),
                        v.entry.channel.value,
                        _shown(v.entry.account),
                        _shown(v.entry.contact),
                        _shown(v.entry.text or v.entry.template or ""),
                        v.detail,
                    )
                    for v in sample
                ),
                title=f"{rule}: first {len(sample)} of {report.by_rule[rule]:,}",
            )
    elif not bad_count:
        output.blank()
        output.line(styled("no violations", "bold green"))
    else:  # the rows read are clean, but the log is not all read
        output.blank()
        output.line(styled("no violations in the rows that could be read", "yellow"))
    if bad:
        output.blank()
        output.table(
            ("line", "field", "problem"),
            ((str(row.line), row.field or "", row.message) for row in bad),
            title=f"bad rows: first {len(bad)} of {bad_count:,}",
        )


def audit(
    ctx: typer.Context,
    log: Annotated[
        str,
        typer.Argument(
            metavar="LOG", help="The message log: JSON Lines or CSV.", show_default=False
        ),
    ],
    profile: ProfileOption = DEFAULT_PROFILE,
    contacts: Annotated[
        str | None,
        typer.Option(
            "--contacts",
            metavar="FILE",
            help="Contact data: a contacts CSV, or a JSON array of contacts.",
            show_default=False,
        ),
    ] = None,
    frequency_cap: Annotated[
        str | None,
        typer.Option(
            "--frequency-cap",
            metavar="N/PERIOD",
            help="Your own cap on marketing per contact (X4), such as 3/7d.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="jsonl or csv (default: from the file's suffix, else its first line).",
            show_default=False,
        ),
    ] = None,
    samples: Annotated[
        int,
        typer.Option("--samples", metavar="N", help="Violations shown per rule."),
    ] = 3,
    json_output: JsonFlag = False,
) -> int:
    """Replay a message log through the rules; exit 1 if any message broke one."""
    output = Output.of(ctx)
    if log_format is not None and log_format not in LOG_FORMATS:
        raise FlagError("--format", f"expected one of {', '.join(LOG_FORMATS)}")
    if not 0 <= samples <= MAX_SAMPLES:
        raise FlagError("--samples", f"expected 0 to {MAX_SAMPLES}")
    cap = _frequency(frequency_cap)
    rules = load_named(text(profile, "--profile"), "--profile")
    people = _contacts(contacts)
    path = text(log, "LOG")
    bad: list[BadRow] = []
    bad_count = 0

    def note(row: BadRow) -> None:
        nonlocal bad_count
        bad_count += 1
        if len(bad) < BAD_ROWS_KEPT:
            bad.append(row)

    entries = read_log(path, format=log_format, on_bad_row=note)
    report = run_audit(entries, rules, contacts=people, frequency_cap=cap, samples=samples)
    if json_output:
        output.json(
            audit_json(
                report, log=os.fspath(path), profile=rules.name, bad=bad, bad_count=bad_count
            )
        )
    else:
        _print(output, report, bad, bad_count)
    if bad_count:
        raise InputError(
            f"log: {bad_count:,} bad row(s), first at line {bad[0].line}; "
            "the audit covers the other rows only"
        )
    return EXIT_CLEAN if report.clean else EXIT_VIOLATIONS
