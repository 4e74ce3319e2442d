"""The plan's summary: what a person reads before pressing Send (B7, B17).

Messages and recipients differ (B7: two messages to each of ten recipients are
"20 messages to 10 recipients"); both are given in all, per channel and per
account, with the held and excluded contacts by reason, the paid messages (B17),
the first and last send and the days the send spans.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

from omnimsg.broadcasts.model import Draft
from omnimsg.broadcasts.outcomes import ContactOutcome, OutcomeKind, SendKind, reason_words
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.kinds import ChannelKind

__all__ = ["PlanSummary", "Tally"]

_MESSAGE = SendKind.MESSAGE


@attrs.frozen
class Tally:
    """Messages and recipients of one channel or one account."""

    messages: int = 0
    recipients: int = 0
    prompts: int = 0
    paid_messages: int = 0
    first_send: datetime | None = None
    last_send: datetime | None = None


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(sorted(mapping.items())))


@attrs.frozen
class PlanSummary:
    """What a plan sends, to whom, when, and who gets nothing and why.

    ``audience`` counts the entries planned over (every id of a pasted list, even a
    duplicate); ``planned + held + excluded == audience``. ``messages`` counts the
    broadcast's messages and ``recipients`` the contacts they go to (B7);
    ``prompts`` the double opt-in prompts and reminders (B12). ``paid_messages``
    are billed (B17). ``first_send`` and ``last_send`` bound every planned send;
    ``days_spanned`` counts the UTC calendar days from the first to the last.
    """

    broadcast_id: str
    name: str
    start: datetime
    ends_by: datetime
    audience: int
    planned: int
    held: int
    excluded: int
    messages: int
    recipients: int
    prompts: int
    paid_messages: int
    first_send: datetime | None
    last_send: datetime | None
    by_channel: Mapping[ChannelKind, Tally]
    by_account: Mapping[str, Tally]
    held_by_reason: Mapping[str, int]
    excluded_by_reason: Mapping[str, int]
    batches: int

    @property
    def days_spanned(self) -> int:
        """UTC calendar days from the first send to the last, both included (0: no send)."""
        if self.first_send is None or self.last_send is None:
            return 0
        return (self.last_send.date() - self.first_send.date()).days + 1

    def describe(self) -> str:
        """The breakdown in words: "a total of 20 messages to 10 recipients" (B7)."""
        return (
            f"a total of {self.messages:,} message{'s' * (self.messages != 1)} to "
            f"{self.recipients:,} recipient{'s' * (self.recipients != 1)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (instants as ISO 8601 in UTC), keys sorted."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        def tally(t: Tally) -> dict[str, Any]:
            return {
                "messages": t.messages,
                "recipients": t.recipients,
                "prompts": t.prompts,
                "paid_messages": t.paid_messages,
                "first_send": when(t.first_send),
                "last_send": when(t.last_send),
            }

        return {
            "broadcast_id": self.broadcast_id,
            "name": self.name,
            "start": when(self.start),
            "ends_by": when(self.ends_by),
            "audience": self.audience,
            "planned": self.planned,
            "held": self.held,
            "excluded": self.excluded,
            "messages": self.messages,
            "recipients": self.recipients,
            "prompts": self.prompts,
            "paid_messages": self.paid_messages,
            "first_send": when(self.first_send),
            "last_send": when(self.last_send),
            "days_spanned": self.days_spanned,
            "batches": self.batches,
            "by_channel": {str(k): tally(v) for k, v in self.by_channel.items()},
            "by_account": {k: tally(v) for k, v in self.by_account.items()},
            "held_by_reason": dict(self.held_by_reason),
            "excluded_by_reason": dict(self.excluded_by_reason),
            "text": self.describe(),
        }

    def reasons_in_words(self) -> dict[str, str]:
        """Each held or excluded reason code of this plan, in words."""
        codes = sorted({*self.held_by_reason, *self.excluded_by_reason})
        return {code: reason_words(code) for code in codes}


class _Counts:
    __slots__ = ("first", "last", "messages", "paid", "prompts", "recipients")

    def __init__(self) -> None:
        self.messages = self.recipients = self.prompts = self.paid = 0
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, other: _Counts) -> None:
        self.messages += other.messages
        self.recipients += other.recipients
        self.prompts += other.prompts
        self.paid += other.paid
        for at in (other.first, other.last):
            if at is None:
                continue
            if self.first is None or at < self.first:
                self.first = at
            if self.last is None or at > self.last:
                self.last = at

    def freeze(self) -> Tally:
        return Tally(self.messages, self.recipients, self.prompts, self.paid, self.first, self.last)


class SummaryBuilder:
    """Counts outcomes as they stream by; :meth:`build` gives the summary."""

    def __init__(
        self,
        *,
        draft: Draft,
        start: datetime,
        ends_by: datetime,
        caps: Mapping[ChannelKind, ChannelCapabilities],
    ) -> None:
        self.draft = draft
        self.start = start
        self.ends_by = ends_by
        self.counts = {OutcomeKind.PLANNED: 0, OutcomeKind.HELD: 0, OutcomeKind.EXCLUDED: 0}
        self.total = _Counts()
        self.accounts: dict[str, _Counts] = {}
        self.kinds: dict[str, ChannelKind] = {}
        self.held: dict[str, int] = {}
        self.excluded: dict[str, int] = {}
        self.batches: set[str] = set()

    def add(self, outcome: ContactOutcome) -> None:
        """Count one outcome."""
        kind = outcome.outcome
        self.counts[kind] += 1
        if kind is OutcomeKind.EXCLUDED:
            reason = outcome.reason or ""
            self.excluded[reason] = self.excluded.get(reason, 0) + 1
            return
        if kind is OutcomeKind.HELD:
            reason = outcome.reason or ""
            self.held[reason] = self.held.get(reason, 0) + 1
        sends = outcome.sends
        if not sends:
            return
        account = outcome.account_id
        counts = self.accounts.get(account)  # type: ignore[arg-type]
        if counts is None:
            assert account is not None
            assert outcome.channel is not None
            counts = self.accounts[account] = _Counts()
            self.kinds[account] = outcome.channel
        received = False
        for send in sends:
            if send.kind is _MESSAGE:
                counts.messages += 1
                received = True
                if send.paid:
                    counts.paid += 1
            else:
                counts.prompts += 1
            at = send.not_before
            first = counts.first
            if first is None or at < first:
                counts.first = at
            last = counts.last
            if last is None or at > last:
                counts.last = at
            self.batches.add(send.batch)
        if received:
            counts.recipients += 1

    def build(self) -> PlanSummary:
        """The summary of everything counted so far."""
        total = _Counts()
        channels: dict[ChannelKind, _Counts] = {}
        for account, counts in self.accounts.items():
            kind = self.kinds[account]
            per_channel = channels.get(kind)
            if per_channel is None:
                per_channel = channels[kind] = _Counts()
            for into in (total, per_channel):
                into.add(counts)
        return PlanSummary(
            broadcast_id=self.draft.id,
            name=self.draft.name,
            start=self.start,
            ends_by=self.ends_by,
            audience=sum(self.counts.values()),
            planned=self.counts[OutcomeKind.PLANNED],
            held=self.counts[OutcomeKind.HELD],
            excluded=self.counts[OutcomeKind.EXCLUDED],
            messages=total.messages,
            recipients=total.recipients,
            prompts=total.prompts,
            paid_messages=total.paid,
            first_send=total.first,
            last_send=total.last,
            by_channel=_frozen({k: v.freeze() for k, v in channels.items()}),
            by_account=_frozen({k: v.freeze() for k, v in self.accounts.items()}),
            held_by_reason=_frozen(self.held),
            excluded_by_reason=_frozen(self.excluded),
            batches=len(self.batches),
        )
