"""``omnimsg dispatch PLAN.jsonl``: send a plan through a transport, each message once.

The store keeps the ledger, so the same command run again (after a crash, or on
another machine against the same Redis or PostgreSQL) sends only what is not sent
yet. The transport is the user's: ``--transport module:factory``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import timedelta
from typing import Annotated, Any

import typer

from omnimsg._files import describe_failure, open_regular, shown_path
from omnimsg.cli._flags import time_zone
from omnimsg.cli._options import JsonFlag
from omnimsg.cli._output import Output, is_terminal, progress_bar, styled
from omnimsg.cli._profiles import load_named
from omnimsg.delivery import AsyncDispatcher, DeliveryReport, Dispatcher, DispatchProgress
from omnimsg.delivery.loader import load_transport
from omnimsg.errors import CorruptRecordError, InputError
from omnimsg.protocols import Transport
from omnimsg.state import AccountState
from omnimsg.stores.open import open_store

__all__ = ["dispatch"]

_FAILED_SHOWN = 20
"""Failed sends listed in the table (all of them with --json)."""


class _EveryAccount(Mapping[str, AccountState]):
    """The same account state for every account id (``--account-tz``)."""

    def __init__(self, state: AccountState) -> None:
        self._state = state

    def __getitem__(self, key: str) -> AccountState:
        return self._state

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _bar(show: bool, stack: ExitStack) -> Callable[[DispatchProgress], None] | None:
    if not show:
        return None
    update = progress_bar("sending", None, stack)

    def advance(progress: DispatchProgress) -> None:
        update(total=progress.total, completed=progress.settled)

    return advance


def _without_password(url: str) -> str:
    """``url`` with the password of its user part (``user:secret@host``) masked."""
    scheme, sep, rest = url.partition("://")
    user, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{host}"


def _report_json(report: DeliveryReport, store: str, tenant: str) -> dict[str, Any]:
    return {
        "broadcast_id": report.broadcast_id,
        "store": store,
        "tenant": tenant,
        "counts": dict(sorted(report.counts.items())),
        "failed": [
            {
                "key": f.key,
                "contact_id": f.contact_id,
                "account_id": f.account_id,
                "kind": f.kind,
                "status": f.status.value,
                "reason": f.reason,
                "rule": f.rule,
                "error": f.error,
                "attempts": f.attempts,
                "at": f.at.isoformat(),
            }
            for f in report.failed
        ],
        "corrupt": list(report.corrupt),
    }


def _print(output: Output, report: DeliveryReport) -> None:
    output.line(styled(report.broadcast_id, "bold cyan"), ": the ledger now holds")
    output.grid([(status, f"{count:,}") for status, count in sorted(report.counts.items())])
    if report.failed:
        rows = [
            (
                f.contact_id,
                f.account_id,
                f.status.value,
                f.reason or "-",
                f.rule or "-",
                f.error or "",
            )
            for f in report.failed[:_FAILED_SHOWN]
        ]
        more = len(report.failed) - len(rows)
        output.table(
            ("contact", "account", "status", "reason", "rule", "error"),
            rows,
            title="not sent (B15):" + (f" the first {len(rows)}, {more:,} more" if more else ""),
        )
    if report.corrupt:
        output.line(
            styled(f"{len(report.corrupt):,} corrupt ledger entries", "bold red"),
            " (kept as they are; see docs/delivery.md): ",
            ", ".join(report.corrupt[:5]),
        )


def dispatch(
    ctx: typer.Context,
    plan_file: Annotated[
        str,
        typer.Argument(metavar="PLAN.jsonl", help="A plan written by 'omnimsg plan --out'."),
    ],
    transport: Annotated[
        str,
        typer.Option(
            "--transport",
            metavar="MODULE:FACTORY",
            help="Your transport: a module (or file.py) and a function returning it.",
            show_default=False,
        ),
    ],
    store: Annotated[
        str,
        typer.Option(
            "--store",
            metavar="URL",
            help="sqlite:///state.db, redis://host:6379/0 or postgresql://user@host/db.",
        ),
    ] = "sqlite:///omnimsg-state.db",
    tenant: Annotated[
        str, typer.Option("--tenant", metavar="NAME", help="The store namespace to use.")
    ] = "default",
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="NAME|PATH",
            help="The channel rules (default: the profile the plan names).",
            show_default=False,
        ),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id",
            metavar="NAME",
            help="This worker's name in the ledger; reuse it to resume after a crash.",
            show_default=False,
        ),
    ] = None,
    account_tz: Annotated[
        str,
        typer.Option(
            "--account-tz",
            metavar="ZONE",
            help="The sender accounts' IANA time zone where the store has none (B11's days).",
        ),
    ] = "UTC",
    lease: Annotated[
        float,
        typer.Option("--lease", metavar="SECONDS", help="How long a claim holds.", min=0.001),
    ] = 300.0,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="Tries of a passing failure.", min=1)
    ] = 5,
    json_output: JsonFlag = False,
) -> int:
    """Send a plan's messages through your transport, each at most once, and report every
    one that did not go (X5, B15)."""
    output = Output.of(ctx)
    zone = time_zone(account_tz, "--account-tz")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # modules of the current directory, as python -m does
    sender = load_transport(transport)
    loaded = None if profile is None else load_named(profile, "--profile")
    fd = open_regular(plan_file, what="plan file", error=InputError)
    try:
        state = open_store(store, tenant=tenant)
    except BaseException:
        os.close(fd)
        raise
    try:
        with os.fdopen(fd, encoding="utf-8", newline="") as stream, ExitStack() as stack:
            show = not json_output and is_terminal(sys.stderr)
            options: dict[str, Any] = {
                "profile": loaded,
                "owner": worker_id,
                "lease": timedelta(seconds=lease),
                "max_attempts": max_attempts,
                "progress": _bar(show, stack),
                "accounts": _EveryAccount(AccountState(timezone=zone)),
            }
            if isinstance(sender, Transport):
                report = Dispatcher(state, sender, **options).run(stream)
            else:
                report = asyncio.run(AsyncDispatcher(state, sender, **options).run(stream))
    except OSError as exc:
        raise InputError(
            f"cannot read plan file {shown_path(plan_file)}: {describe_failure(exc)}"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"plan file {shown_path(plan_file)}: not UTF-8 text") from None
    finally:
        state.close()
    if json_output:
        output.json(_report_json(report, _without_password(store), tenant))
    else:
        _print(output, report)
    if report.corrupt:
        raise CorruptRecordError(
            "ledger",
            report.corrupt[0],
            f"cannot be read; {len(report.corrupt):,} such entries were left as they are "
            "and their sends not made (docs/delivery.md)",
        )
    return 0
