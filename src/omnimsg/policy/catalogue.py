"""The rule catalogue: every SPEC rule id and every reason code, in words.

An output of omnimsg cites rules (``[W2]``, ``B17``) and reason codes
(``template_required``, ``no_capacity``); this module says what each one means, so
that a user can look them up without the specification: ``omnimsg explain W2`` prints
the same entries, and ``docs/rules.md`` is generated from them
(:func:`catalogue_markdown`).

The rules' titles and texts live in the package data file ``policy/rules.toml``,
read once on first use (``import omnimsg`` never loads this module). The reason codes
of :func:`omnimsg.decide` and of the planner are read from their own tables
(:data:`~omnimsg.policy.reasons.REASONS`, :data:`~omnimsg.broadcasts.PLAN_REASONS`),
never copied; ``rules.toml`` words only the codes that no table in the code holds
(the dispatcher's ledger reasons, the rejections of id lists and CSV imports, and
the causes of a WhatsApp tier change).
Nothing here decides anything.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

import attrs

from omnimsg._convert import shown
from omnimsg.errors import InputError

__all__ = [
    "SECTIONS",
    "ReasonEntry",
    "RuleEntry",
    "UnknownRuleError",
    "catalogue_markdown",
    "citing",
    "lookup",
    "reason",
    "reasons",
    "rule",
    "rules",
]

SECTIONS = ("W", "C", "A", "B", "V", "X", "P")
"""The letters of the SPEC's rule families, in the order the SPEC gives them."""

_RULE_ID = re.compile(r"[A-Z][0-9]{1,2}")
_LONGEST = 60  # characters of an id or code compared for a suggestion (difflib is quadratic)
_DATA = "rules.toml"


class UnknownRuleError(InputError, LookupError):
    """No rule id or reason code is spelled that way.

    ``suggestions`` holds the closest known ids and codes (possibly none).
    """

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        self.suggestions = tuple(suggestions)
        self._set(message, message, self.suggestions)


@attrs.frozen
class RuleEntry:
    """One SPEC rule: its id, title and text in the project's words.

    ``section`` is the heading of its family (``"Content"`` for C1-C6); ``seeds``
    names the seed documents a rule of sections 1-5 comes from; a dated platform rule
    (P1-P16) has its ``platform`` and the period it is ``in_force``.
    """

    id: str
    section: str
    title: str
    text: str
    seeds: tuple[str, ...] = ()
    platform: str | None = None
    in_force: str | None = None


@attrs.frozen
class ReasonEntry:
    """One reason code: the rule it cites, its words and who emits it.

    ``rule`` is ``None`` for a code no rule is behind (``worker_stopped``).
    ``also`` lists the other rules the code may cite in some cases (a length refusal
    cites C1, C3 or X3, the limit it breaks); ``sources`` says where the code comes
    from: ``"decide"``, ``"plan"``, ``"dispatch"``, ``"id list"``, ``"CSV import"``,
    ``"messaging limits"``.
    """

    code: str
    rule: str | None
    words: str
    sources: tuple[str, ...]
    also: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule the code may cite: :attr:`rule` first, then :attr:`also`."""
        head = () if self.rule is None else (self.rule,)
        return head + tuple(r for r in self.also if r != self.rule)


@attrs.frozen
class _Catalogue:
    rules: dict[str, RuleEntry]
    reasons: dict[str, ReasonEntry]


def _rule_order(rule_id: str) -> tuple[int, int]:
    return (SECTIONS.index(rule_id[0]), int(rule_id[1:]))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value)


def _read_rules(data: dict[str, Any]) -> dict[str, RuleEntry]:
    sections: dict[str, str] = data["sections"]
    entries = [
        RuleEntry(
            id=rule_id,
            section=sections[rule_id[0]],
            title=body["title"],
            text=body["text"],
            seeds=_strings(body.get("seeds", ())),
            platform=body.get("platform"),
            in_force=body.get("in_force"),
        )
        for rule_id, body in data["rules"].items()
    ]
    return {entry.id: entry for entry in sorted(entries, key=lambda e: _rule_order(e.id))}


def _read_reasons(data: dict[str, Any]) -> dict[str, ReasonEntry]:
    # Imported here, not at the top: the planner's outcomes pull in the channels.
    from omnimsg.broadcasts.outcomes import PLAN_REASONS
    from omnimsg.policy.reasons import REASONS

    also: dict[str, list[str]] = data.get("also", {})
    more_sources: dict[str, list[str]] = data.get("also_sources", {})
    found: dict[str, tuple[str | None, str, str]] = {}
    for source, table in (("decide", REASONS), ("plan", PLAN_REASONS)):
        for code, info in table.items():
            found.setdefault(str(code), (info.rule, info.words, source))
    for code, body in data["reasons"].items():
        found.setdefault(code, (body.get("rule"), body["words"], body["source"]))
    return {
        code: ReasonEntry(
            code=code,
            rule=rule_id,
            words=words,
            sources=(source, *more_sources.get(code, ())),
            also=_strings(also.get(code, ())),
        )
        for code, (rule_id, words, source) in found.items()
    }


@cache
def _catalogue() -> _Catalogue:
    text = resources.files("omnimsg.policy").joinpath(_DATA).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return _Catalogue(_read_rules(data), _read_reasons(data))


def _key(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what}: expected a string, got {type(value).__name__}")
    return value.strip().strip("[]").strip()


def _rule_key(key: str) -> str:
    upper = key.upper()
    return upper if _RULE_ID.fullmatch(upper) else key


def _suggest(key: str, known: list[str]) -> tuple[str, ...]:
    probe = key[:_LONGEST]
    by_case = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(probe.casefold(), list(by_case), n=3, cutoff=0.6)
    return tuple(by_case[name] for name in close)


def _unknown(value: str, what: str, known: list[str]) -> UnknownRuleError:
    suggestions = _suggest(value, known)
    hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
    return UnknownRuleError(f"unknown {what} {shown(value)}{hint}", suggestions)


def rule(rule_id: str) -> RuleEntry:
    """The catalogue entry of one SPEC rule id.

    Args:
        rule_id: an id such as ``"W2"``; letter case, spaces around it and the
            brackets outputs print (``"[W2]"``) are ignored.

    Returns:
        The rule's entry.

    Raises:
        UnknownRuleError: no rule has that id (the message suggests the closest).
        InputError: ``rule_id`` is not a string.
    """
    key = _rule_key(_key(rule_id, "rule_id"))
    found = _catalogue().rules.get(key)
    if found is None:
        raise _unknown(key, "rule id", list(_catalogue().rules))
    return found


def rules() -> tuple[RuleEntry, ...]:
    """Every SPEC rule, in the SPEC's order (W, C, A, B, V, X, P; by number within)."""
    return tuple(_catalogue().rules.values())


def reason(code: str) -> ReasonEntry:
    """The catalogue entry of one reason code.

    Args:
        code: a code such as ``"template_required"`` (a :class:`~omnimsg.policy.Reason`,
            a :class:`~omnimsg.broadcasts.PlanReason` or a dispatcher's ledger
            reason); letter case and spaces around it are ignored.

    Returns:
        The code's entry.

    Raises:
        UnknownRuleError: no reason has that code (the message suggests the closest).
        InputError: ``code`` is not a string.
    """
    key = _key(code, "code").lower()
    found = _catalogue().reasons.get(key)
    if found is None:
        raise _unknown(key, "reason code", list(_catalogue().reasons))
    return found


def reasons() -> tuple[ReasonEntry, ...]:
    """Every reason code: :func:`omnimsg.decide`'s, the planner's, then the others."""
    return tuple(_catalogue().reasons.values())


def citing(rule_id: str) -> tuple[ReasonEntry, ...]:
    """The reason codes that may cite a rule (as :attr:`ReasonEntry.rule` or in ``also``).

    Raises:
        UnknownRuleError: no rule has that id.
        InputError: ``rule_id`` is not a string.
    """
    wanted = rule(rule_id).id
    return tuple(entry for entry in reasons() if wanted in entry.rules)


def lookup(id_or_code: str) -> RuleEntry | ReasonEntry:
    """A rule id's or a reason code's entry, whichever ``id_or_code`` names.

    Raises:
        UnknownRuleError: it is neither (the message suggests the closest of both).
        InputError: ``id_or_code`` is not a string.
    """
    key = _key(id_or_code, "id_or_code")
    catalogue = _catalogue()
    found = catalogue.rules.get(_rule_key(key)) or catalogue.reasons.get(key.lower())
    if found is None:
        known = [*catalogue.rules, *catalogue.reasons]
        raise _unknown(key, "rule id or reason code", known)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rule_link(rule_id: str | None) -> str:
    return "" if rule_id is None else f"[{rule_id}](#{rule_id})"


def _rule_lines(entry: RuleEntry) -> list[str]:
    lines = [f"### {entry.id}: {entry.title} {{ #{entry.id} }}", "", entry.text, ""]
    facts = []
    if entry.platform is not None:
        facts.append(f"Platform: {entry.platform}.")
    if entry.in_force is not None:
        facts.append(f"In force: {entry.in_force}.")
    if entry.seeds:
        facts.append(f"Seeds: {', '.join(entry.seeds)}.")
    cited = citing(entry.id)
    if cited:
        facts.append("Reasons: " + ", ".join(f"`{r.code}`" for r in cited) + ".")
    if facts:
        lines += [" ".join(facts), ""]
    return lines


def catalogue_markdown() -> str:
    """The whole catalogue as the Markdown page ``docs/rules.md``.

    Regenerate the page with ``omnimsg explain --markdown > docs/rules.md``; a test
    checks that it is up to date.
    """
    lines = [
        "# Rule catalogue",
        "",
        "<!-- Generated by `omnimsg explain --markdown > docs/rules.md`; do not edit. -->",
        "",
        "Every rule id an output of omnimsg cites (`[W2]`, `B17`) and every reason code,",
        "in the package's own words. The same entries are in the package:",
        '`omnimsg explain W2` prints one, and `omnimsg.policy.catalogue.rule("W2")`',
        "returns it.",
        "",
    ]
    current = ""
    for entry in rules():
        if entry.section != current:
            current = entry.section
            lines += [f"## {entry.id[0]}: {current}", ""]
        lines += _rule_lines(entry)
    lines += [
        "## Reason codes",
        "",
        "A decision, a plan's outcome, a dispatcher's ledger entry, an id list's or a CSV",
        "import's rejection, and a WhatsApp tier change carry one of these codes. *Rules*",
        "lists every rule the code may cite, the usual one first.",
        "",
        "| code | rules | from | meaning |",
        "|---|---|---|---|",
    ]
    for code in reasons():
        cited = ", ".join(_rule_link(r) for r in code.rules) or "none"
        lines.append(
            f"| `{code.code}` | {cited} | {', '.join(code.sources)} | {_cell(code.words)} |"
        )
    return "\n".join(lines) + "\n"
