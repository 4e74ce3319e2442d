"""The replay: a log of messages through omnimsg's rules, as of each message's date.

This module owns the walk through a log and the state it keeps while walking, and no
rule: each outbound message is decided by :func:`omnimsg.decide` on a
:class:`~omnimsg.state.ConversationState` kept up to date the way the webhooks of
:mod:`omnimsg.delivery.events` keep it (an inbound message restarts the window and
reaches the opt-in machine, so STOP is an opt-out from then on and START opts back
in; every outbound message is counted); the caps the planner places (B11, B13, X2,
X4, P12) are counted in :mod:`omnimsg.audit.counts` with the planner's own pieces.

Entries must come in time order (equal instants keep the log's order): an entry
earlier than the one before raises :class:`~omnimsg.errors.InputError` naming its
line, since a replay out of order would judge a message by a future it had not seen.
Memory: a :class:`~omnimsg.state.ConversationState` per conversation seen (at most
:data:`~omnimsg.state.OUTBOUND_TIMES_KEPT` instants each), an account state per
sender, a day's recipients per sender, the recipients of the rolling window per
tier, and marketing instants within the longest frequency-cap period per contact;
nothing else grows with the log (docs/audit.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo

import attrs

from omnimsg.audit.counts import (
    DailyRecipients,
    FrequencyCounts,
    QuietCheck,
    TierCount,
    hours_text,
    local_text,
    micros,
)
from omnimsg.audit.model import LogEntry, Violation
from omnimsg.broadcasts.lanes import zone_of
from omnimsg.broadcasts.model import FrequencyCap
from omnimsg.broadcasts.outcomes import PHONE_ADDRESS, UNCOUNTED_REASONS
from omnimsg.broadcasts.plan import PHONE_CHANNELS
from omnimsg.broadcasts.regions import matching_regions
from omnimsg.channels.capabilities import ChannelCapabilities, FrequencyLimit, TierPolicy
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.channels.registry import Profile
from omnimsg.contacts import Contact
from omnimsg.errors import InputError, UnknownChannelError
from omnimsg.phones import prefix_time_zones
from omnimsg.policy.decision import Decision, Message, decide
from omnimsg.policy.optin import OptInRules, SendOptOutConfirmation, receive_reply
from omnimsg.policy.rates import counts_against_quota
from omnimsg.policy.reasons import Reason
from omnimsg.state import AccountState, ConversationState, OptInState, conversation_state

__all__ = ["Auditor", "audit_log"]

_MINUTE = timedelta(minutes=1)  # the longest period of a group rate (P10)
_NOT_ASKED = OptInState()
_MESSAGES_KEPT = 4096  # distinct message contents kept with their renderings
_CACHED_TEXT = 2048  # the longest text kept so (the cache stays a few MiB)

# Refusals that say how the message stood with the window (the others are decided
# before the window is looked at, or after it: consent, content, pace).
_WINDOW_REASONS = frozenset(
    {
        Reason.TEMPLATE_REQUIRED,
        Reason.TAG_REQUIRED,
        Reason.TAG_NOT_ALLOWED,
        Reason.WINDOW_CLOSED,
        Reason.NO_PRIOR_INBOUND,
        Reason.WINDOW_CAP_REACHED,
    }
)


def _frequency(value: object) -> FrequencyLimit | None:
    if value is None or isinstance(value, FrequencyLimit):
        return value
    if isinstance(value, FrequencyCap):
        return FrequencyLimit(messages=value.messages, period=value.period)
    raise InputError(
        f"frequency_cap: expected a FrequencyCap, a FrequencyLimit or None, "
        f"got {type(value).__name__}"
    )


class _Contacts:
    """The contact data, found by contact id or by the contact's id on an account."""

    def __init__(self, contacts: Iterable[Contact] | None) -> None:
        self.by_id: dict[str, Contact] = {}
        self.by_identity: dict[tuple[str, str], Contact] = {}
        if contacts is None:
            return
        if isinstance(contacts, str | bytes | Mapping) or not isinstance(contacts, Iterable):
            raise InputError(
                f"contacts: expected an iterable of Contact, got {type(contacts).__name__}"
            )
        for i, contact in enumerate(contacts):
            if not isinstance(contact, Contact):
                raise InputError(f"contacts[{i}]: expected a Contact, got {type(contact).__name__}")
            self.by_id[contact.id] = contact
            for identity in contact.identities:
                self.by_identity[(identity.account_id, identity.external_id)] = contact

    def find(self, account: str, contact: str) -> Contact | None:
        found = self.by_id.get(contact)
        return found if found is not None else self.by_identity.get((account, contact))


class Auditor:
    """One replay of a log: the state it keeps and what it has counted so far.

    ``read``: entries read; ``outbound``: outbound messages checked; ``unchecked``:
    outbound messages on a channel the profile does not define (counted, not judged).
    ``conversations`` holds each conversation's state by ``(account, contact)``;
    ``confirming`` the conversations owed the one confirmation of an opt-out (X1,
    P13): their next message, if not marketing, is judged as sent with no opt-out.
    Use :func:`audit_log` unless those counts are wanted; an auditor replays one log.

    Args:
        profile: the rules, resolved as of each message's instant.
        contacts: contact data giving the starting state (last inbound instant per
            account, consent per sender) and the time zone and phone for quiet hours.
        accounts: sending accounts' states (time zone of the daily cap, starting
            tier, quality, creation date, chatbot terms), by account id.
        frequency_cap: the business's own cap on marketing per contact (X4), a
            :class:`~omnimsg.broadcasts.FrequencyCap` or a
            :class:`~omnimsg.channels.capabilities.FrequencyLimit`.

    Raises:
        InputError: an argument of the wrong type.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        contacts: Iterable[Contact] | None = None,
        accounts: Mapping[str, AccountState] | None = None,
        frequency_cap: FrequencyCap | FrequencyLimit | None = None,
    ) -> None:
        if not isinstance(profile, Profile):
            raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
        if accounts is not None and (
            not isinstance(accounts, Mapping)
            or not all(
                isinstance(k, str) and isinstance(v, AccountState) for k, v in accounts.items()
            )
        ):
            raise InputError("accounts: expected a mapping of account id to AccountState")
        self.profile = profile
        self.frequency_cap = _frequency(frequency_cap)
        self.contacts = _Contacts(contacts)
        self.accounts: dict[str, AccountState] = dict(accounts or {})
        self.conversations: dict[tuple[str, str], ConversationState] = {}
        self.daily: dict[str, DailyRecipients] = {}
        self.tiers: dict[tuple[ChannelKind, str], TierCount] = {}
        self.frequencies = FrequencyCounts()
        self.quiet = QuietCheck()
        self.read = 0
        self.outbound = 0
        self.unchecked = 0
        self._last: datetime | None = None
        self._used = False
        # The opt-in rules of each capabilities object met (a profile resolves a
        # channel's capabilities once per period of unchanged rules).
        self._rules: dict[int, tuple[ChannelCapabilities, OptInRules]] = {}
        self._lookbacks: dict[int, tuple[ChannelCapabilities, timedelta]] = {}
        self._messages: dict[tuple[str | None, str | None, str | None, bool], Message] = {}
        # Conversations owed the one confirmation of an opt-out (X1, P13).
        self.confirming: set[tuple[str, str]] = set()

    # --- the walk ---------------------------------------------------------------------

    def run(self, entries: Iterable[LogEntry]) -> Iterator[Violation]:
        """Replay ``entries`` (in time order) and yield each violation as it is found.

        Raises:
            InputError: ``entries`` is not an iterable of LogEntry, an entry is
                earlier than the one before it, or the auditor has replayed a log
                already.
        """
        if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Iterable):
            raise InputError(
                f"entries: expected an iterable of LogEntry, got {type(entries).__name__}"
            )
        if self._used:
            raise InputError("an Auditor replays one log; make another for the next")
        self._used = True
        return self._walk(entries)

    def _walk(self, entries: Iterable[LogEntry]) -> Iterator[Violation]:
        for entry in entries:
            if not isinstance(entry, LogEntry):
                raise InputError(
                    f"entries[{self.read}]: expected a LogEntry, got {type(entry).__name__}"
                )
            at = entry.at
            if self._last is not None and at < self._last:
                where = f"line {entry.line}" if entry.line is not None else f"entry {self.read + 1}"
                raise InputError(
                    f"log {where}: {at.isoformat()} is earlier than the entry before it "
                    f"({self._last.isoformat()}); sort the log by instant"
                )
            self._last = at
            self.read += 1
            try:
                caps = self.profile.capabilities(entry.channel, as_of=at)
            except UnknownChannelError:
                caps = None
            if not entry.outbound:
                self._inbound(entry, caps)
            elif caps is None:
                self.unchecked += 1
            else:
                self.outbound += 1
                yield from self._outbound(entry, caps)

    def _conversation(self, entry: LogEntry) -> ConversationState:
        key = (entry.account, entry.contact)
        state = self.conversations.get(key)
        if state is None:
            contact = self.contacts.find(entry.account, entry.contact)
            state = (
                ConversationState()
                if contact is None
                else conversation_state(contact, entry.account)
            )
            self.conversations[key] = state
        return state

    def _inbound(self, entry: LogEntry, caps: ChannelCapabilities | None) -> None:
        """The contact wrote: as :func:`omnimsg.delivery.on_inbound` applies it. An
        opt-out keyword owes the contact one confirmation (X1, P13)."""
        key = (entry.account, entry.contact)
        state = self._conversation(entry)
        session = None if caps is None or caps.window_extends else caps.window
        new = state.after_inbound(entry.at, now=entry.at, session=session)
        if caps is not None and entry.text is not None:
            kept = self._rules.get(id(caps))
            if kept is not None and kept[0] is caps:
                rules = kept[1]
            else:
                if len(self._rules) >= 256:
                    self._rules.clear()
                rules = OptInRules.from_capabilities(caps)
                self._rules[id(caps)] = (caps, rules)
            consent, events = receive_reply(new.consent, entry.text, rules, now=entry.at)
            if consent is not new.consent:
                new = attrs.evolve(new, consent=consent)
                self.confirming.discard(key)
            if any(isinstance(event, SendOptOutConfirmation) for event in events):
                self.confirming.add(key)
        self.conversations[key] = new

    def _outbound(self, entry: LogEntry, caps: ChannelCapabilities) -> Iterator[Violation]:
        at = entry.at
        state = self._conversation(entry)
        account = self.accounts.get(entry.account)
        if account is None:
            account = self.accounts[entry.account] = AccountState()
        message = self._message(entry)
        decision = decide(caps, state, message, now=at, account=account)
        if self.confirming and (entry.account, entry.contact) in self.confirming:
            # The first message after an opt-out may be its one confirmation (X1,
            # P13), even where the opt-out ends every business-initiated message.
            self.confirming.discard((entry.account, entry.contact))
            if decision.reason is Reason.OPTED_OUT and not entry.marketing:
                judged = attrs.evolve(state, consent=_NOT_ASKED)
                decision = decide(caps, judged, message, now=at, account=account)
        window = decision
        if not decision.allowed:
            yield Violation(decision.rule, decision.reason, entry, _why(decision, state, at))
            if decision.reason not in _WINDOW_REASONS:
                # Refused for its consent, content or pace: how it stood with the
                # window (B13 counts replies inside it apart) is asked of a bare message.
                probe = Message(template=entry.template, tag=entry.tag)
                bare = attrs.evolve(state, outbound_times=()) if state.outbound_times else state
                window = decide(caps, bare, probe, now=at, account=account)
            content = decision.content
            if content is None or content.problem is not decision.reason:
                # Refused before its content was looked at: the content's own limit.
                rendered = message.render(caps.content)
                if rendered.problem is not None:
                    rule = rendered.rule or "C3"
                    yield Violation(rule, rendered.problem, entry, rendered.detail or "too long")
        yield from self._caps(entry, caps, window, account)
        # Count the send: the conversation (W5, P5, P9, P10), the account (W6, P11).
        if window.mode is Mode.CHATBOT_INITIATED and caps.chatbot_free_per_month is not None:
            account = account.after_chatbot_initiated(at)
        if caps.monthly_quota is not None and counts_against_quota(caps, state, now=at):
            account = account.after_quota_message(at)
        self.accounts[entry.account] = account
        after = state.after_outbound(at)
        times = after.outbound_times
        cutoff = at - self._lookback(caps)
        if times[0] <= cutoff:
            # What no rule of this channel counts any more (P5, P8, P9, P10).
            after = ConversationState.trusted(
                after.last_inbound_at,
                after.outbound_since_inbound,
                after.consent,
                after.session_started_at,
                times[bisect.bisect_right(times, cutoff) :],
                after.last_event_at,
                after.group,
            )
        self.conversations[(entry.account, entry.contact)] = after

    def _message(self, entry: LogEntry) -> Message:
        """The message of ``entry``, one object per distinct content: a log repeats its
        texts (a broadcast, a template), and a message keeps its rendering."""
        key = (entry.text, entry.template, entry.tag, entry.marketing)
        found = self._messages.get(key)
        if found is None:
            found = Message(
                text=entry.text or "",
                template=entry.template,
                tag=entry.tag,
                marketing=entry.marketing,
            )
            if len(entry.text or "") <= _CACHED_TEXT:
                if len(self._messages) >= _MESSAGES_KEPT:
                    self._messages.clear()
                self._messages[key] = found
        return found

    def _lookback(self, caps: ChannelCapabilities) -> timedelta:
        """The longest period a rule of ``caps`` counts recent messages over."""
        kept = self._lookbacks.get(id(caps))
        if kept is not None and kept[0] is caps:
            return kept[1]
        periods = [timedelta(0)]
        if caps.unanswered_cap is not None:
            periods.append(caps.unanswered_period)
        if caps.recipient_interval is not None:
            periods.append(caps.recipient_interval)
        if caps.group_rate_per_minute is not None:
            periods.append(_MINUTE)
        if caps.event_window is not None:
            periods.append(caps.event_window)
        longest = max(periods)
        if len(self._lookbacks) >= 256:
            self._lookbacks.clear()
        self._lookbacks[id(caps)] = (caps, longest)
        return longest

    # --- what the planner places --------------------------------------------------------

    def _caps(
        self, entry: LogEntry, caps: ChannelCapabilities, window: Decision, account: AccountState
    ) -> Iterator[Violation]:
        at = entry.at
        t = micros(at)
        cap = caps.daily_recipient_cap
        if cap is not None:
            daily = self.daily.get(entry.account)
            if daily is None:
                daily = self.daily[entry.account] = DailyRecipients()
            words = daily.add(account, at, entry.contact, cap)
            if words is not None:
                yield Violation("B11", None, entry, words)
        tiers = caps.tiers
        if tiers is not None and (
            tiers.replies_in_window_count or window.reason not in UNCOUNTED_REASONS
        ):
            count = self._tier_count(caps.kind, tiers, entry.account, account, t)
            words = count.add(tiers, t, entry.contact)
            if words is not None:
                yield Violation(count.rule, None, entry, words)
        if not entry.marketing:
            return
        contact = self.contacts.find(entry.account, entry.contact)
        number = self._number(entry, contact)
        regions = (
            () if number is None or not caps.regions else matching_regions(caps.regions, number)
        )
        hours = tuple(rule.quiet_hours for _, rule in regions if rule.quiet_hours is not None)
        rule_id = "P12" if hours else "X2"
        if not hours and caps.quiet_hours is not None:
            hours = (caps.quiet_hours,)
        if hours:
            zones = self._zones(contact, number, account)
            if not self.quiet.allows(t, zones, hours):
                words = (
                    f"sent at {local_text(at, zones)}, outside the allowed hours "
                    f"{hours_text(hours)} in the recipient's time"
                )
                if rule_id == "P12":
                    words += f" ({', '.join(name for name, _ in regions)})"
                yield Violation(rule_id, None, entry, words)
        if self.frequency_cap is not None:
            person = contact.id if contact is not None else entry.contact
            words = self.frequencies.add("x4\x1f" + person, t, self.frequency_cap)
            if words is not None:
                yield Violation("X4", None, entry, f"marketing {words} per contact")
        for name, region in regions:
            if region.frequency_cap is not None and number is not None:
                digits = number.removeprefix("+")
                words = self.frequencies.add(f"p12\x1f{name}\x1f{digits}", t, region.frequency_cap)
                if words is not None:
                    yield Violation("P12", None, entry, f"marketing {words} to a number in {name}")

    def _tier_count(
        self,
        kind: ChannelKind,
        tiers: TierPolicy,
        account_id: str,
        account: AccountState,
        t: int,
    ) -> TierCount:
        """The count of the sender's messaging limit: its number's, or its channel's
        portfolio (v3, P4: the log does not say which numbers share one). A portfolio
        that takes over from numbers (2025-10-07) starts from their users still in the
        rolling window, at the highest tier any of them reached."""
        key = (kind, "" if tiers.scope == "portfolio" else account_id)
        count = self.tiers.get(key)
        if count is not None:
            return count
        recent: list[tuple[str, int]] = []
        tier: int | None = None
        if not key[1]:
            numbers = [k for k in self.tiers if k[0] is kind and k[1]]
            for number in numbers:
                superseded = self.tiers.pop(number)
                recent += superseded.recent(t)
                tier = superseded.tier if tier is None else max(tier, superseded.tier)
        count = self.tiers[key] = TierCount(tiers, account, t, tier=tier, recent=recent)
        return count

    def _number(self, entry: LogEntry, contact: Contact | None) -> str | None:
        """The recipient's number (P12): its id on a phone channel, else the contact's
        phone."""
        if entry.channel in PHONE_CHANNELS and PHONE_ADDRESS.fullmatch(entry.contact) is not None:
            return entry.contact
        return None if contact is None else contact.phone

    @staticmethod
    def _zones(
        contact: Contact | None, number: str | None, account: AccountState
    ) -> tuple[tzinfo, ...]:
        """The recipient's zones (X2): the contact's own, else its number's, else the
        sending account's."""
        names: tuple[str, ...] = ()
        if contact is not None and contact.timezone and zone_of(contact.timezone) is not None:
            names = (contact.timezone,)  # a name no zone has is passed over, as planning does
        elif number is not None:
            names = prefix_time_zones(number if number.startswith("+") else "+" + number)
        elif contact is not None and contact.phone:
            names = prefix_time_zones(contact.phone)
        zones = tuple(z for z in (zone_of(n) for n in names) if z is not None)
        return zones or (account.timezone,)


def _why(decision: Decision, state: ConversationState, at: datetime) -> str:
    """A refusal in words, with the window's numbers where it is about the window."""
    words = decision.explain()
    if decision.reason in _WINDOW_REASONS:
        last = state.last_inbound_at
        if last is None:
            words += "; the contact never wrote on this account"
        else:
            ago = at - last
            words += f"; the contact last wrote {last.astimezone(UTC).isoformat()} ({ago} before)"
        if decision.reason is Reason.WINDOW_CAP_REACHED:
            words += f"; {state.outbound_since_inbound} sent since"
    return words


def audit_log(
    entries: Iterable[LogEntry],
    profile: Profile,
    *,
    contacts: Iterable[Contact] | None = None,
    accounts: Mapping[str, AccountState] | None = None,
    frequency_cap: FrequencyCap | FrequencyLimit | None = None,
) -> Iterator[Violation]:
    """Replay a log through the rules and yield every violation, in log order.

    Args:
        entries: the log, in time order (``read_log(...)``, or LogEntry values).
        profile: an omnimsg profile; each message is judged by its capabilities as
            of the message's instant.
        contacts: optional contact data: the starting state (last inbound instant
            per account, consent per sender) and time zone and phone (X2, P12).
        accounts: optional sending accounts' states, by account id.
        frequency_cap: the business's own marketing cap per contact (X4).

    Returns:
        A generator of :class:`~omnimsg.audit.Violation`; a message may break more
        than one rule, each is one violation.

    Raises:
        InputError: an argument of the wrong type (at once); an entry that is not a
            LogEntry or earlier than the one before it (while replaying).
        ConfigurationError: the profile's rules cannot be applied.
    """
    auditor = Auditor(profile, contacts=contacts, accounts=accounts, frequency_cap=frequency_cap)
    return auditor.run(entries)
