"""Assertions for your compliance tests, with failures that say what went wrong.

Each helper checks one promise and raises :class:`~omnimsg.errors.ConformanceError`
(an :class:`AssertionError`, so pytest reports it as a failed assertion) whose message
says what was expected, what happened, the reason code, the SPEC rule id and the
decision in words. A helper given arguments of the wrong type raises
:class:`~omnimsg.errors.InputError`: that is a mistake in the test, not a failed check.

- :func:`assert_allowed` and :func:`assert_refused`: one decision (or the arguments of
  :func:`omnimsg.decide`).
- :func:`assert_plan_respects`: every send of a broadcast plan keeps the profile's
  windows, caps, tiers, rates, quiet hours, frequency caps and opt-outs.
- :func:`assert_no_violations`: a send log passes the compliance auditor
  (:mod:`omnimsg.audit`).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import chain, islice
from typing import Any

from omnimsg._convert import shown, to_instant
from omnimsg.broadcasts.model import Draft
from omnimsg.broadcasts.outcomes import ContactOutcome
from omnimsg.broadcasts.plan import Plan
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.kinds import Mode
from omnimsg.channels.registry import Profile
from omnimsg.contacts import Contact
from omnimsg.errors import ConformanceError, InputError
from omnimsg.policy.decision import Decision, decide
from omnimsg.policy.reasons import REASONS, Reason
from omnimsg.protocols import StateStore
from omnimsg.state import AccountState, SenderUsage
from omnimsg.testing._plan_checks import Breach, PlanContext, breaches

__all__ = [
    "assert_allowed",
    "assert_no_violations",
    "assert_plan_respects",
    "assert_refused",
]

_DECIDE = inspect.signature(decide)

SHOWN_AT_MOST = 10
"""How many breaches or violations a failure message lists (all are counted)."""


def _decision(
    first: object, args: tuple[object, ...], kwargs: Mapping[str, Any], helper: str
) -> Decision:
    """The decision given, or the one :func:`omnimsg.decide` makes of the arguments."""
    if isinstance(first, Decision) and not args and not kwargs:
        return first
    if isinstance(first, ChannelCapabilities):
        try:
            _DECIDE.bind(first, *args, **kwargs)
        except TypeError as exc:
            raise InputError(
                f"{helper}: the arguments of decide are (caps, conversation, message, *, "
                f"now, account=None): {exc}"
            ) from None
        return decide(first, *args, **kwargs)  # type: ignore[arg-type]
    raise InputError(
        f"{helper}: expected a Decision, or the arguments of decide (caps, conversation, "
        f"message, now=...); got {shown(first)}"
        + (" with more arguments" if isinstance(first, Decision) else "")
    )


def _reason(value: object) -> Reason | None:
    if value is None or isinstance(value, Reason):
        return value
    if isinstance(value, str):
        try:
            return Reason(value)
        except ValueError:
            known = ", ".join(r.value for r in Reason)
            raise InputError(
                f"reason: unknown reason code {shown(value)}; known: {known}"
            ) from None
    raise InputError(f"reason: expected a Reason or its code, got {shown(value)}")


def _mode(value: object) -> Mode | None:
    if value is None or isinstance(value, Mode):
        return value
    if isinstance(value, str):
        try:
            return Mode(value)
        except ValueError:
            known = ", ".join(m.value for m in Mode)
            raise InputError(f"mode: unknown mode {shown(value)}; known: {known}") from None
    raise InputError(f"mode: expected a Mode or its name, got {shown(value)}")


def _rule(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 10 or not value.isalnum():
        raise InputError(f"rule: expected a rule id such as 'W2', got {shown(value)}")
    return value.upper()


def _described(decision: Decision) -> str:
    return (
        f"  reason: {decision.reason.value} (rule {decision.rule})\n"
        f"  decision: {decision.explain()}"
    )


def _expected_reason(reason: Reason) -> str:
    info = REASONS[reason]
    return f"{reason.value} [{info.rule}: {info.words}]"


def _check_details(
    decision: Decision,
    verdict: str,
    reason: Reason | None,
    rule: str | None,
    mode: Mode | None,
) -> None:
    problems = []
    if reason is not None and decision.reason is not reason:
        problems.append(
            f"expected {verdict} for {_expected_reason(reason)}, but the reason is "
            f"{decision.reason.value} [{decision.rule}]"
        )
    if rule is not None and decision.rule != rule:
        problems.append(
            f"expected {verdict} under rule {rule}, but the rule is {decision.rule} "
            f"(reason {decision.reason.value})"
        )
    if mode is not None and decision.mode is not mode:
        problems.append(
            f"expected {verdict} as {mode.value}, but the mode is {decision.mode.value}"
        )
    if problems:
        raise ConformanceError("\n".join(problems) + "\n" + _described(decision))


def assert_allowed(
    decision: Decision | ChannelCapabilities,
    /,
    *decide_args: Any,
    reason: Reason | str | None = None,
    rule: str | None = None,
    mode: Mode | str | None = None,
    **decide_kwargs: Any,
) -> Decision:
    """Assert that a send is allowed, and how (SPEC W7).

    ``assert_allowed(decision)``, or ``assert_allowed(caps, conversation, message,
    now=...)`` to decide it here. ``reason``, ``rule`` and ``mode`` also check why and
    how it may go::

        assert_allowed(decision, reason="template_outside_window", mode="template")

    Args:
        decision: a :class:`~omnimsg.policy.Decision`, or the channel's capabilities
            (the first argument of :func:`omnimsg.decide`).
        *decide_args: with capabilities, the other positional arguments of
            :func:`omnimsg.decide` (conversation, message).
        reason: the expected reason, a :class:`~omnimsg.policy.Reason` or its code.
        rule: the expected SPEC rule id (``"W2"``).
        mode: the expected mode, a :class:`~omnimsg.channels.Mode` or its name.
        **decide_kwargs: the keyword arguments of :func:`omnimsg.decide` (``now``,
            ``account``).

    Returns:
        The decision, for further checks.

    Raises:
        ConformanceError: the send is refused, or allowed otherwise than expected.
        InputError: the arguments are not a decision nor decide's, or an expectation
            is not a known reason, rule id or mode.
    """
    expected = (_reason(reason), _rule(rule), _mode(mode))
    decision = _decision(decision, decide_args, decide_kwargs, "assert_allowed")
    if not decision.allowed:
        raise ConformanceError(
            "expected the send to be allowed, but it was refused\n" + _described(decision)
        )
    _check_details(decision, "allowed", *expected)
    return decision


def assert_refused(
    decision: Decision | ChannelCapabilities,
    /,
    *decide_args: Any,
    reason: Reason | str | None = None,
    rule: str | None = None,
    mode: Mode | str | None = None,
    **decide_kwargs: Any,
) -> Decision:
    """Assert that a send is refused, and why (SPEC W7).

    ``assert_refused(decision, reason="opted_out")`` or with the arguments of
    :func:`omnimsg.decide`; ``rule="X1"`` checks the rule id, ``mode`` what may still
    go (``"template"`` when only a template would).

    Args:
        decision: a :class:`~omnimsg.policy.Decision`, or the channel's capabilities
            (the first argument of :func:`omnimsg.decide`).
        *decide_args: with capabilities, the other positional arguments of
            :func:`omnimsg.decide` (conversation, message).
        reason: the expected reason, a :class:`~omnimsg.policy.Reason` or its code.
        rule: the expected SPEC rule id (``"X1"``).
        mode: the expected mode.
        **decide_kwargs: the keyword arguments of :func:`omnimsg.decide`.

    Returns:
        The decision, for further checks.

    Raises:
        ConformanceError: the send is allowed, or refused for another reason.
        InputError: the arguments are not a decision nor decide's, or an expectation
            is not a known reason, rule id or mode.
    """
    expected = (_reason(reason), _rule(rule), _mode(mode))
    decision = _decision(decision, decide_args, decide_kwargs, "assert_refused")
    if decision.allowed:
        wanted = "" if expected[0] is None else f" for {_expected_reason(expected[0])}"
        raise ConformanceError(
            f"expected the send to be refused{wanted}, but it was allowed\n" + _described(decision)
        )
    _check_details(decision, "a refusal", *expected)
    return decision


# --- plans --------------------------------------------------------------------------------


def _contacts(value: object) -> dict[str, Contact]:
    if value is None:
        raise InputError("contacts: the plan's audience contacts are needed to check it")
    source = getattr(value, "iter_contacts", None)
    items: object = source() if callable(source) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InputError(f"contacts: expected contacts or a contact source, got {shown(value)}")
    found: dict[str, Contact] = {}
    for i, contact in enumerate(items):
        if not isinstance(contact, Contact):
            raise InputError(f"contacts[{i}]: expected a Contact, got {shown(contact)}")
        found[contact.id] = contact
    return found


def _typed_map(value: object, cls: type, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{name}: expected a mapping of account id to {cls.__name__}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise InputError(f"{name}: expected account ids (text) as keys, got {shown(key)}")
        if not isinstance(item, cls):
            raise InputError(f"{name}[{shown(key)}]: expected a {cls.__name__}, got {shown(item)}")
    return dict(value)


def _history(value: object, contacts: Iterable[str]) -> dict[str, list[datetime]]:
    if value is None:
        return {}
    read: Callable[[str], object]
    if isinstance(value, Mapping):
        read = lambda cid: value.get(cid, ())  # noqa: E731 - the mapping's lookup
    elif callable(value):
        read = value
    else:
        raise InputError(f"history: expected a mapping or a callable, got {shown(value)}")
    found: dict[str, list[datetime]] = {}
    for cid in contacts:
        given = read(cid)
        if isinstance(given, str | bytes) or not isinstance(given, Iterable):
            raise InputError(f"history[{cid[:80]!r}]: expected a sequence of aware datetimes")
        found[cid] = [to_instant(at, f"history[{cid[:80]!r}]") for at in given]
    return found


def _outcomes(plan: object) -> list[ContactOutcome]:
    if isinstance(plan, Plan):
        return list(plan)
    if isinstance(plan, str | bytes) or not isinstance(plan, Iterable):
        raise InputError(f"plan: expected a Plan or its outcomes, got {shown(plan)}")
    items = list(plan)
    for i, item in enumerate(items):
        if not isinstance(item, ContactOutcome):
            raise InputError(f"plan[{i}]: expected a ContactOutcome, got {shown(item)}")
    return items


def _line(breach: Breach) -> str:
    send = breach.send
    return (
        f"  - [{breach.rule}] {send.kind.value} {send.number} to {send.contact_id} on "
        f"{send.account_id} at {send.not_before.isoformat()}: {breach.detail}"
    )


def assert_plan_respects(
    plan: Plan | Iterable[ContactOutcome],
    profile: Profile | None = None,
    *,
    contacts: Iterable[Contact] | Any,
    start: datetime | None = None,
    draft: Draft | None = None,
    accounts: Mapping[str, AccountState] | None = None,
    usage: Mapping[str, SenderUsage] | None = None,
    history: Mapping[str, Iterable[datetime]] | Callable[[str], Iterable[datetime]] | None = None,
    state: StateStore | None = None,
) -> list[ContactOutcome]:
    """Assert that every send of a broadcast plan keeps ``profile``'s rules.

    Each planned send is measured again, independently of the planner: on a channel
    the profile defines (W8), with broadcasts (B4, B16) and not retired (P15);
    decided again with :func:`omnimsg.decide` at its instant, with the contact's
    state after the plan's earlier sends to it (windows W1-W8 with WeChat's per-window cap W5,
    opt-outs X1, double opt-in B12, tags, templates, content), each account's
    chatbot-initiated messages within the free ones left unless it has paid terms
    (W6), inside the 7 days from the start (B10), inside the recipient's allowed
    hours in each of its possible time zones (X2, P12), each account within its daily
    recipient cap (B11), its tier (B13, P2-P4; an upgrade is granted once per
    ``upgrade_delay`` from the start, and once at the start when ``usage`` holds
    earlier sends, unless the quality or the verified tier forbids it: the most
    lenient reading), the channel's rate per second and the draft's rate (B10, P14),
    and each contact within the draft's frequency cap (X4). Region frequency caps
    (P12) are not checked.

    ``profile`` defaults to the plan's own; pass a stricter one to check that the plan
    would also keep it. A :class:`~omnimsg.broadcasts.Plan` is read here (a plan is
    read once): the outcomes are returned for further checks. Outcomes already read
    need ``profile`` and ``start`` (and ``draft`` for its rate, quiet hours and
    frequency cap).

    Args:
        plan: a :class:`~omnimsg.broadcasts.Plan` not read yet, or its outcomes.
        profile: the profile to check against (default: the plan's).
        contacts: the audience contacts the plan was made from (or a contact source).
        start: the plan's start (default: the plan's).
        draft: the draft planned (default: the plan's).
        accounts: each sender account's state, as given to the planner.
        usage: each sender account's earlier usage, as given to the planner.
        history: earlier marketing sends per contact id, as given to the planner.
        state: the state store the plan read conversations from, if any.

    Returns:
        The plan's outcomes.

    Raises:
        ConformanceError: a send breaks a rule; the message lists them with their
            rule ids (at most :data:`SHOWN_AT_MOST`, all counted).
        InputError: an argument is not of its type, or outcomes come without a
            profile or a start.
    """
    if profile is not None and not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {shown(profile)}")
    if draft is not None and not isinstance(draft, Draft):
        raise InputError(f"draft: expected a Draft, got {shown(draft)}")
    if state is not None and not isinstance(state, StateStore):
        raise InputError(f"state: expected a StateStore, got {shown(state)}")
    read = None if isinstance(plan, Plan) else _outcomes(plan)
    known = _contacts(contacts)
    checked_start = None if start is None else to_instant(start, "start")
    if isinstance(plan, Plan):
        profile = profile or plan.profile
        checked_start = checked_start or plan.start
        draft = draft or plan.draft
    if profile is None or checked_start is None:
        raise InputError("plan: outcomes already read need profile= and start=")
    ctx = PlanContext(
        profile=profile,
        start=checked_start,
        draft=draft,
        contacts=known,
        accounts=_typed_map(accounts, AccountState, "accounts"),
        usage=_typed_map(usage, SenderUsage, "usage"),
        history=_history(history, known),
        state=state,
    )
    outcomes = _outcomes(plan) if read is None else read
    found = breaches(outcomes, ctx)
    if found:
        by_rule = Counter(b.rule for b in found)
        tally = ", ".join(f"{rule}: {n}" for rule, n in sorted(by_rule.items()))
        lines = [_line(b) for b in found[:SHOWN_AT_MOST]]
        more = len(found) - len(lines)
        if more:
            lines.append(f"  ... and {more} more")
        raise ConformanceError(
            f"expected every planned send to respect profile {profile.name!r}, but "
            f"{len(found)} break its rules ({tally}):\n" + "\n".join(lines)
        )
    return outcomes


# --- send logs ------------------------------------------------------------------------------


_NOTHING = object()


def _entries(log: object, audit: Any) -> Iterator[Any]:
    """The log's entries: read from a path or lines, or given as entries."""
    if isinstance(log, str | bytes | os.PathLike):
        return iter(audit.read_log(log))
    if not isinstance(log, Iterable):
        raise InputError(f"log: expected a path, lines or log entries, got {shown(log)}")
    items = iter(log)
    first = next(items, _NOTHING)
    if first is _NOTHING:
        return iter(())
    rest = chain((first,), items)
    if isinstance(first, str):
        return iter(audit.read_log(rest))
    entry_type = getattr(audit, "LogEntry", None)
    if entry_type is not None and not isinstance(first, entry_type):
        raise InputError(f"log[0]: expected a log line or a LogEntry, got {shown(first)}")
    return rest


def _violation_line(violation: Any) -> str:
    entry = violation.entry
    where = f"line {entry.line}: " if entry.line is not None else ""
    reason = violation.reason
    code = f" {reason.value}" if reason is not None else ""
    return (
        f"  - [{violation.rule}]{code} {where}{entry.direction} {entry.channel} on "
        f"{entry.account} to {entry.contact} at {entry.at.isoformat()}: {violation.detail}"
    )


def assert_no_violations(
    log: str | os.PathLike[str] | Iterable[str] | Iterable[Any],
    profile: Profile,
    contacts: Iterable[Contact] | None = None,
    *,
    accounts: Mapping[str, AccountState] | None = None,
    frequency_cap: Any = None,
) -> None:
    """Assert that a log of sent and received messages breaks none of ``profile``'s rules.

    The log is replayed through the rules by the compliance auditor
    (:func:`omnimsg.audit.audit_log`), as of each message's date::

        assert_no_violations("sends.jsonl", load_profile("official"))

    Args:
        log: a path to a JSON Lines or CSV log, its lines, or
            :class:`~omnimsg.audit.LogEntry` values.
        profile: the rules to check against.
        contacts: contact data (time zones, opt-outs) the auditor reads, if any.
        accounts: the sending accounts' states, by account id, if any.
        frequency_cap: the business's own marketing cap per contact (X4), if any.

    Raises:
        ConformanceError: the auditor found violations; the message counts them by
            rule and lists the first :data:`SHOWN_AT_MOST` with their rule id,
            reason code, line and why.
        InputError: an argument is not of its type, or the log cannot be read.
    """
    audit: Any = importlib.import_module("omnimsg.audit")

    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {shown(profile)}")
    if contacts is not None:
        if isinstance(contacts, str | bytes) or not isinstance(contacts, Iterable):
            raise InputError(f"contacts: expected contacts, got {shown(contacts)}")
        contacts = list(contacts)
        for i, contact in enumerate(contacts):
            if not isinstance(contact, Contact):
                raise InputError(f"contacts[{i}]: expected a Contact, got {shown(contact)}")
    options: dict[str, Any] = {"contacts": contacts}
    if accounts is not None:
        options["accounts"] = _typed_map(accounts, AccountState, "accounts")
    if frequency_cap is not None:
        options["frequency_cap"] = frequency_cap
    violations = iter(audit.audit_log(_entries(log, audit), profile, **options))
    shown_ = list(islice(violations, SHOWN_AT_MOST))
    if not shown_:
        return
    by_rule = Counter(v.rule for v in shown_)
    for violation in violations:
        by_rule[violation.rule] += 1
    total = sum(by_rule.values())
    tally = ", ".join(f"{rule}: {n}" for rule, n in sorted(by_rule.items()))
    lines = [_violation_line(v) for v in shown_]
    if total > len(shown_):
        lines.append(f"  ... and {total - len(shown_)} more")
    raise ConformanceError(
        f"expected no violations of profile {profile.name!r}, but the log has {total} "
        f"({tally}):\n" + "\n".join(lines)
    )
