"""``omnimsg explain``: what a rule id or a reason code means, from the rule catalogue.

Every entry comes from :mod:`omnimsg.policy.catalogue`; this module only adds which
channels of the built-in profiles cite a rule in their ``sources``, and prints.
``--markdown`` prints the whole catalogue as the page ``docs/rules.md``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

import typer

from omnimsg import builtin_profile_names, load_profile
from omnimsg.cli._flags import FlagError, text
from omnimsg.cli._options import JsonFlag
from omnimsg.cli._output import Output, styled
from omnimsg.policy.catalogue import (
    ReasonEntry,
    RuleEntry,
    catalogue_markdown,
    citing,
    lookup,
    rule,
)

__all__ = ["explain", "profile_citations"]

_ARGUMENT = "ID_OR_REASON"


@cache
def _channel_sources() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple(
        (name, str(kind), tuple(spec.sources))
        for name in builtin_profile_names()
        for kind, spec in load_profile(name).spec.channels.items()
    )


def profile_citations(rule_id: str) -> tuple[tuple[str, str], ...]:
    """``(profile, channel)`` of every built-in profile channel whose sources cite a rule."""
    cited = re.compile(rf"(?<![A-Za-z0-9]){re.escape(rule_id)}(?![0-9])")
    return tuple(
        (name, kind)
        for name, kind, sources in _channel_sources()
        if any(cited.search(source) for source in sources)
    )


def _rule_json(entry: RuleEntry) -> dict[str, Any]:
    return {
        "kind": "rule",
        "id": entry.id,
        "title": entry.title,
        "section": entry.section,
        "text": entry.text,
        "seeds": list(entry.seeds),
        "platform": entry.platform,
        "in_force": entry.in_force,
        "reasons": [reason.code for reason in citing(entry.id)],
        "profiles": [
            {"profile": name, "channel": kind} for name, kind in profile_citations(entry.id)
        ],
    }


def _reason_json(entry: ReasonEntry) -> dict[str, Any]:
    return {
        "kind": "reason",
        "code": entry.code,
        "rule": entry.rule,
        "rules": list(entry.rules),
        "words": entry.words,
        "sources": list(entry.sources),
        "cites": [
            {"id": cited.id, "title": cited.title, "text": cited.text}
            for cited in (rule(rule_id) for rule_id in entry.rules)
        ],
    }


def _print_rule(output: Output, entry: RuleEntry) -> None:
    output.line(styled(entry.id, "bold cyan"), "  ", styled(entry.title, "bold"))
    output.line(entry.text)
    facts: list[tuple[str, str]] = [("section", entry.section)]
    if entry.platform is not None:
        facts.append(("platform", entry.platform))
    if entry.in_force is not None:
        facts.append(("in force", entry.in_force))
    if entry.seeds:
        facts.append(("seeds", ", ".join(entry.seeds)))
    cited_by = profile_citations(entry.id)
    if cited_by:
        facts.append(("profiles", ", ".join(f"{name}: {kind}" for name, kind in cited_by)))
    output.grid(facts)
    reasons = citing(entry.id)
    if reasons:
        output.blank()
        output.table(
            ("reason", "meaning"),
            ((reason.code, reason.words) for reason in reasons),
            title="reasons that cite it",
        )


def _print_reason(output: Output, entry: ReasonEntry) -> None:
    cited = ", ".join(entry.rules) or "no rule"
    output.line(styled(entry.code, "bold cyan"), "  ", styled(f"[{cited}]", "bold"))
    output.line(entry.words)
    output.grid([("from", ", ".join(entry.sources))])
    for rule_id in entry.rules:
        output.blank()
        _print_rule_summary(output, rule(rule_id))


def _print_rule_summary(output: Output, entry: RuleEntry) -> None:
    output.line(styled(entry.id, "bold"), "  ", styled(entry.title, "bold"))
    output.line(entry.text)


def explain(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar=f"{_ARGUMENT}...",
            help="Rule ids (W2, B17) or reason codes (template_required), one or more.",
            show_default=False,
        ),
    ] = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown",
            help="Print the whole rule catalogue as Markdown (docs/rules.md).",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> int:
    """Print what rule ids and reason codes mean: the rule's text and the reasons citing it."""
    output = Output.of(ctx)
    given = list(names or ())
    if markdown:
        for flag, present in ((f"{_ARGUMENT}", bool(given)), ("--json", json_output)):
            if present:
                raise FlagError(flag, "not with --markdown, which prints the whole catalogue")
        output.stream.write(catalogue_markdown())
        output.stream.flush()
        return 0
    if not given:
        raise FlagError(_ARGUMENT, "name a rule id such as W2 or a reason code (or --markdown)")
    entries = [lookup(text(name, _ARGUMENT)) for name in given]
    if json_output:
        output.json(
            {
                "entries": [
                    _rule_json(entry) if isinstance(entry, RuleEntry) else _reason_json(entry)
                    for entry in entries
                ]
            }
        )
        return 0
    for index, entry in enumerate(entries):
        if index:
            output.blank()
        if isinstance(entry, RuleEntry):
            _print_rule(output, entry)
        else:
            _print_reason(output, entry)
    return 0
