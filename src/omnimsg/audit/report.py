"""The report of an audit: totals, counts by rule and a bounded sample of each rule.

This module owns summing violations up as they stream past, and nothing else: it
keeps a count per rule id and the first ``samples`` violations of each, so a report
of a log with millions of violations is as small as one with a few. It reads no file
and decides nothing; :func:`audit` reads a replay through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from omnimsg._convert import shown
from omnimsg.audit.model import LogEntry, Violation
from omnimsg.audit.replay import Auditor
from omnimsg.broadcasts.model import FrequencyCap
from omnimsg.channels.capabilities import FrequencyLimit
from omnimsg.channels.registry import Profile
from omnimsg.contacts import Contact
from omnimsg.errors import InputError
from omnimsg.state import AccountState

__all__ = ["MAX_SAMPLES", "AuditReport", "audit", "summarize"]

MAX_SAMPLES = 1000
"""The most violations a report keeps per rule."""


@attrs.frozen
class AuditReport:
    """What an audit found.

    ``messages_read``: log entries replayed; ``outbound_checked``: outbound messages
    judged; ``unchecked``: outbound messages on a channel the profile does not define
    (the last three are ``None`` in a report summed from violations alone, without
    the replay's counts). ``violations``: how many were found; ``by_rule``: that
    number per SPEC rule id, sorted by id; ``samples``: the first violations of each
    rule, in log order, at most the ``samples`` asked for.
    """

    messages_read: int | None
    outbound_checked: int | None
    unchecked: int | None
    violations: int
    by_rule: Mapping[str, int]
    samples: Mapping[str, tuple[Violation, ...]]

    @property
    def clean(self) -> bool:
        """Whether no violation was found."""
        return self.violations == 0


def rule_order(rule: str) -> tuple[str, int, str]:
    """A sort key putting rule ids in the SPEC's order: by letter, then by number
    (``P4`` before ``P12``)."""
    head = rule.rstrip("0123456789")
    digits = rule[len(head) :]
    return (head, int(digits) if digits and len(digits) < 6 else 0, rule)


def _samples(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAMPLES:
        raise InputError(
            f"samples: expected a whole number from 0 to {MAX_SAMPLES}, got {shown(value)}"
        )
    return value


def _build(violations: Iterable[Violation], samples: int, auditor: Auditor | None) -> AuditReport:
    counts: dict[str, int] = {}
    kept: dict[str, list[Violation]] = {}
    total = 0
    for violation in violations:
        if not isinstance(violation, Violation):
            raise InputError(
                f"violations[{total}]: expected a Violation, got {type(violation).__name__}"
            )
        total += 1
        rule = violation.rule
        counts[rule] = counts.get(rule, 0) + 1
        sample = kept.setdefault(rule, [])
        if len(sample) < samples:
            sample.append(violation)
    order = sorted(counts, key=rule_order)
    return AuditReport(
        messages_read=None if auditor is None else auditor.read,
        outbound_checked=None if auditor is None else auditor.outbound,
        unchecked=None if auditor is None else auditor.unchecked,
        violations=total,
        by_rule=MappingProxyType({rule: counts[rule] for rule in order}),
        samples=MappingProxyType({rule: tuple(kept[rule]) for rule in order}),
    )


def summarize(violations: Iterable[Violation], *, samples: int = 3) -> AuditReport:
    """A report of ``violations`` (from :func:`audit_log`), read as they stream.

    The totals of the replay (messages read, outbound checked) are ``None``: use
    :func:`audit` for them.

    Raises:
        InputError: ``violations`` is not an iterable of Violation, or ``samples``
            not a whole number from 0 to :data:`MAX_SAMPLES`.
    """
    count = _samples(samples)
    if isinstance(violations, str | bytes | Mapping) or not isinstance(violations, Iterable):
        raise InputError(
            f"violations: expected an iterable of Violation, got {type(violations).__name__}"
        )
    return _build(violations, count, None)


def audit(
    entries: Iterable[LogEntry],
    profile: Profile,
    *,
    contacts: Iterable[Contact] | None = None,
    accounts: Mapping[str, AccountState] | None = None,
    frequency_cap: FrequencyCap | FrequencyLimit | None = None,
    samples: int = 3,
) -> AuditReport:
    """Replay a log (as :func:`audit_log` does) and return its report.

    Args:
        entries: the log, in time order.
        profile: the rules, as of each message's instant.
        contacts: optional contact data (starting state, time zones, phones).
        accounts: optional sending accounts' states, by account id.
        frequency_cap: the business's own marketing cap per contact (X4).
        samples: violations kept per rule (0 to :data:`MAX_SAMPLES`).

    Returns:
        An :class:`AuditReport` with the replay's totals.

    Raises:
        InputError: as :func:`audit_log`, or a bad ``samples``.
        ConfigurationError: the profile's rules cannot be applied.
    """
    count = _samples(samples)
    auditor = Auditor(profile, contacts=contacts, accounts=accounts, frequency_cap=frequency_cap)
    return _build(auditor.run(entries), count, auditor)
