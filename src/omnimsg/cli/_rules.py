"""``omnimsg rules``: one channel's dated rules in force on a day, and what changed around it.

The command line is the edge that may read the clock: without ``--as-of`` the day is
today in UTC. ``--markdown`` prints a whole profile's timeline as the Markdown page
``docs/platform-rules.md`` (SPEC section 7); everything else comes from
:mod:`omnimsg.channels.timeline`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from omnimsg import SystemClock
from omnimsg.channels.timeline import (
    RuleChange,
    RulePeriod,
    RulesView,
    instant_text,
    platform_rules_markdown,
    rules_as_of,
    value_text,
)
from omnimsg.cli._flags import FlagError, as_of_instant, text
from omnimsg.cli._options import JsonFlag, ProfileOption
from omnimsg.cli._output import Output, styled
from omnimsg.cli._profiles import complete_channel, load_named

__all__ = ["rules"]

DEFAULT_PROFILE = "official"
UNCERTAIN = "(u)"
_UNCERTAIN_WORDS = "(u): sources disagree, or only a third party states it"
_NO_VALUE = "(no value)"
_SHOWN = 40  # characters of a bad --as-of quoted back


def _today() -> datetime:
    now = SystemClock().now()
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _day(value: str) -> datetime:
    """``--as-of``: a date (00:00 UTC) or an instant with an offset."""
    try:
        return as_of_instant(value, "--as-of", default=_today())
    except FlagError:
        if any(mark in value.upper() for mark in "T:"):
            raise  # an instant: its own message says what is wrong (no offset, range)
        shown = value if len(value) <= _SHOWN else value[: _SHOWN - 1] + "…"
        raise FlagError(
            "--as-of",
            f"expected a date such as 2024-05-01 or an ISO 8601 instant with an offset "
            f"such as 2024-05-01T12:00Z, got {shown!r}",
        ) from None


def _instant_json(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat()


def _period_json(period: RulePeriod | None) -> dict[str, Any] | None:
    if period is None:
        return None
    return {
        "setting": period.setting,
        "value": period.value,
        "start": _instant_json(period.start),
        "end": _instant_json(period.end),
        "source": period.source,
        "uncertain": period.uncertain,
    }


def _changes_json(changes: tuple[RuleChange, ...]) -> dict[str, Any] | None:
    if not changes:
        return None
    return {
        "at": _instant_json(changes[0].at),
        "changes": [
            {
                "setting": change.setting,
                "from": _period_json(change.before),
                "to": _period_json(change.after),
            }
            for change in changes
        ],
    }


def _stated(view: RulesView) -> tuple[RulePeriod, ...]:
    return tuple(period for period in view.rules if not period.default)


def rules_json(view: RulesView) -> dict[str, Any]:
    """The ``rules --json`` document of one view (shape in docs/cli.md)."""
    return {
        "profile": view.profile,
        "channel": view.kind.value,
        "as_of": _instant_json(view.at),
        "retired": _period_json(view.retired),
        "rules": [_period_json(period) for period in _stated(view)],
        "last_change": _changes_json(view.last_change),
        "next_change": _changes_json(view.next_change),
    }


def _value_cell(period: RulePeriod | None, note: str = "") -> Text:
    if period is None:
        return styled(_NO_VALUE, "dim")
    cell = styled(value_text(period.value))
    if period.uncertain:
        cell.append(" ")
        cell.append(styled(UNCERTAIN, "yellow"))
    if note:
        cell.append(" ")
        cell.append(styled(note, "dim"))
    return cell


def _print_changes(output: Output, heading: str, changes: tuple[RuleChange, ...]) -> None:
    output.blank()
    if not changes:
        output.line(styled(heading, "bold"), ": none known")
        return
    output.table(
        ("setting", "from", "to"),
        (
            (
                change.setting,
                _value_cell(change.before),
                _value_cell(change.after, "" if change.value_changed else "(same value)"),
            )
            for change in changes
        ),
        title=f"{heading}: {instant_text(changes[0].at)}",
    )


def _print_view(output: Output, view: RulesView) -> None:
    output.line(
        styled(view.profile, "bold cyan"),
        ": ",
        styled(view.kind.value, "bold"),
        f" as of {instant_text(view.at)}",
    )
    if view.retired is not None:
        since = "always" if view.retired.start is None else instant_text(view.retired.start)
        output.line(styled(f"retired since {since}", "bold red"), f": {view.retired.source or ''}")
    output.blank()
    stated = _stated(view)
    output.table(
        ("setting", "value", "since", "until", "source"),
        (
            (
                period.setting,
                _value_cell(period),
                instant_text(period.start),
                instant_text(period.end),
                period.source or "",
            )
            for period in stated
        ),
        title="rules in force",
    )
    if any(period.uncertain for period in stated):
        output.line(styled(_UNCERTAIN_WORDS, "dim"))
    _print_changes(output, "last change", view.last_change)
    _print_changes(output, "next change", view.next_change)


def rules(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Argument(
            metavar="CHANNEL",
            help="The channel kind, such as whatsapp (not with --markdown).",
            autocompletion=complete_channel,
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="The day (00:00 UTC) or ISO 8601 instant to show (default: today in UTC).",
            show_default=False,
        ),
    ] = None,
    profile: ProfileOption = DEFAULT_PROFILE,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown",
            help="Print every channel's dated rules as Markdown (docs/platform-rules.md).",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> int:
    """Print the rules of a channel in force on a day, and what changed before and after."""
    output = Output.of(ctx)
    if markdown:
        given = (("CHANNEL", channel is not None), ("--as-of", as_of is not None))
        for flag, present in (*given, ("--json", json_output)):
            if present:
                raise FlagError(flag, "not with --markdown, which prints every channel")
        page = platform_rules_markdown(load_named(text(profile, "--profile"), "--profile"))
        output.stream.write(page)
        output.stream.flush()
        return 0
    if channel is None:
        raise FlagError("CHANNEL", "name a channel kind such as whatsapp (or give --markdown)")
    at = _today() if as_of is None else _day(as_of)
    loaded = load_named(text(profile, "--profile"), "--profile")
    view = rules_as_of(loaded, text(channel, "CHANNEL"), at)
    if json_output:
        output.json(rules_json(view))
    else:
        _print_view(output, view)
    return 0
