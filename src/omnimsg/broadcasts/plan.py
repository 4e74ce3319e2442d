"""The plan: who gets what, on which account, in which batch, not before when (SPEC 4).

:func:`plan_broadcast` is a pure function of a draft, an audience, a profile, the
senders' state and ``now``. It streams one :class:`~omnimsg.broadcasts.outcomes.
ContactOutcome` per audience entry, in audience order, and keeps only what the
limits need (one lane per sender account, one quiet-hours calendar), so a plan of
any size runs in bounded memory. It reads and never writes: a broadcast changes no
contact's last interacted channel (B5) and no state.

For each contact, in order:

1. the channel and its candidate sender accounts: the draft's account (B2), or the
   contact's last interacted channel among the selected ones (B3, B4, B6), and on
   it the senders that can reach the contact (its identity, or its phone on
   phone-addressed channels; B11: a team's numbers share the load);
2. the decision of :func:`omnimsg.decide` for each candidate (windows W1–W8,
   consent X1 and B12, content C1–C6, X3): allowed, held for the double opt-in, or
   refused with its reason;
3. the frequency cap across broadcasts (X4);
4. a place in time on the chosen account: the earliest instant that keeps its rate
   (B10; its sender class's, P14), daily recipients (B11), tier (B13, B14, P2-P4),
   the recipient's quiet hours (X2; a region's, with its frequency cap, P12: see
   :mod:`omnimsg.broadcasts.regions`) and an open window where the decision needs
   one, within 7 days of the start (B10).

Every send carries an idempotency key made from the draft id, the start, the
contact and the message (X5), so the same inputs give the same plan, byte for byte.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from omnimsg._convert import shown
from omnimsg._time import require_aware
from omnimsg.broadcasts.checks import validate_draft
from omnimsg.broadcasts.lanes import (
    DAY,
    Intervals,
    Lane,
    QuietCalendar,
    Slot,
    TierTracker,
    from_micros,
    micros_of,
    to_micros,
    zone_of,
)
from omnimsg.broadcasts.model import BroadcastMessage, Draft, Sender, Targeting
from omnimsg.broadcasts.outcomes import (
    PHONE_ADDRESS,
    UNCOUNTED_REASONS,
    ContactOutcome,
    OutcomeKind,
    PlannedSend,
    PlanReason,
    SendKind,
    reason_rule,
)
from omnimsg.broadcasts.regions import RegionHours
from omnimsg.broadcasts.summary import PlanSummary, SummaryBuilder
from omnimsg.channels.capabilities import ChannelCapabilities, QuietHours
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.channels.registry import Profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, SnippetError, UnknownChannelError
from omnimsg.phones import prefix_time_zones
from omnimsg.policy.decision import Decision, Message, decide
from omnimsg.policy.optin import OptInRules, next_prompt_at
from omnimsg.policy.rates import counts_against_quota, next_month
from omnimsg.policy.reasons import Reason
from omnimsg.policy.snippets import contact_variables, parse_snippet
from omnimsg.protocols import ContactSource, StateStore
from omnimsg.segments.compiler import compile_segment
from omnimsg.state import AccountState, ConversationState, OptInState, SenderUsage

if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["PHONE_CHANNELS", "SEVEN_DAYS", "Plan", "plan_broadcast", "plan_test_send"]

SEVEN_DAYS = timedelta(days=7)
"""How long one broadcast may take, from its start to its last send (B10)."""

PHONE_CHANNELS = frozenset({ChannelKind.SMS, ChannelKind.WHATSAPP})
"""Channels that reach a contact by phone number: any sender of the kind can send."""

_NOT_ASKED = OptInState()
_Quota = tuple[list[bool], dict[datetime, int]]  # paid beyond the quota; counted by month
_HELD_REASONS = frozenset({Reason.OPT_IN_REQUIRED, Reason.OPT_IN_PENDING})
_SAID_NO = frozenset({Reason.OPTED_OUT, Reason.OPT_IN_DECLINED})
_PLANNED = OutcomeKind.PLANNED
_HELD = OutcomeKind.HELD
_EXCLUDED = OutcomeKind.EXCLUDED
_MESSAGE = SendKind.MESSAGE
_new = tuple.__new__
_trusted_state = ConversationState.trusted

History = Mapping[str, Sequence[datetime]] | Callable[[str], Iterable[datetime]]
"""Earlier marketing sends to each contact, by contact id, for the frequency cap (X4)."""


class _Sender:
    """One sending account while planning: its lane, capabilities and state."""

    __slots__ = (
        "account",
        "account_id",
        "batch_bucket",
        "batch_name",
        "batch_span",
        "caps",
        "chatbot_used",
        "kind",
        "lane",
        "quota_used",
        "rules",
    )

    def __init__(
        self,
        account_id: str,
        kind: ChannelKind,
        caps: ChannelCapabilities,
        lane: Lane,
        account: AccountState,
    ) -> None:
        self.account_id = account_id
        self.kind = kind
        self.caps = caps
        self.lane = lane
        self.account = account
        self.chatbot_used = 0
        self.quota_used: dict[datetime, int] = {}  # P11: counted sends by month (its end)
        self.rules = OptInRules.from_capabilities(caps) if caps.double_opt_in else None
        self.batch_span = 0
        self.batch_bucket = -1
        self.batch_name = ""


class _Candidate:
    __slots__ = ("address", "consent", "decisions", "identity", "sender")

    def __init__(
        self,
        sender: _Sender,
        address: str,
        identity: ChannelIdentity | None,
        consent: OptInState,
        decisions: list[Decision],
    ) -> None:
        self.sender = sender
        self.address = address
        self.identity = identity
        self.consent = consent
        self.decisions = decisions


class Plan:
    """A broadcast's plan, produced while it is read.

    Iterate it once for the outcomes, in audience order; :attr:`summary` is complete
    once they have all been read (reading it first runs the plan through).
    :meth:`write_jsonl` writes the plan as JSON Lines while it is produced.
    """

    def __init__(self, planner: _Planner) -> None:
        if not isinstance(planner, _Planner):
            raise InputError("a Plan is made by plan_broadcast(draft, contacts, ...)")
        self._planner = planner
        self._stream: Iterator[ContactOutcome] | None = None
        self._done = False

    @property
    def draft(self) -> Draft:
        """The draft planned."""
        return self._planner.draft

    @property
    def start(self) -> datetime:
        """When the broadcast starts: no send goes before it."""
        return self._planner.start

    @property
    def profile(self) -> Profile:
        """The profile the plan was made with."""
        return self._planner.profile

    @property
    def ends_by(self) -> datetime:
        """The end of the 7 days every send falls within (B10)."""
        return from_micros(self._planner.horizon)

    def __iter__(self) -> Iterator[ContactOutcome]:
        if self._stream is not None:
            raise InputError("a plan is read once: plan the broadcast again to read it again")
        self._stream = self._run()
        return self._stream

    def _run(self) -> Iterator[ContactOutcome]:
        add = self._planner.summary.add
        for outcome in self._planner.outcomes():
            add(outcome)
            yield outcome
        self._done = True

    @property
    def summary(self) -> PlanSummary:
        """The plan's summary (B7, B17); reading it first runs the plan through."""
        if not self._done:
            if self._stream is None:
                for _ in self:
                    pass
            else:
                raise InputError("the plan is being read: read it to the end first")
        return self._planner.summary.build()

    def run(self) -> PlanSummary:
        """Plan everything without keeping the outcomes; return the summary."""
        return self.summary

    def write_jsonl(self, stream: TextIO) -> PlanSummary:
        """Write the plan as JSON Lines to ``stream`` while it is produced.

        The first line describes the plan, then one line per outcome, then the
        summary. Same inputs, same bytes.
        """
        from omnimsg.broadcasts.jsonl import write_plan

        return write_plan(self, stream)


class _Planner:
    """The state of one planning run: lanes per sender, caches, the summary."""

    def __init__(
        self,
        draft: Draft,
        source: ContactSource | Iterable[Contact],
        *,
        profile: Profile,
        now: datetime,
        start: datetime,
        accounts: Mapping[str, AccountState],
        usage: Mapping[str, SenderUsage],
        state: StateStore | None,
        history: History | None,
        batch_size: int,
        audience_override: Iterable[Contact] | None = None,
    ) -> None:
        self.draft = draft
        self.source = source
        self.profile = profile
        self.now = now
        self.start = start
        self.state = state
        self.history = history
        self.batch_size = batch_size
        self.audience_override = audience_override
        self.origin = to_micros(start)
        self.horizon = self.origin + micros_of(SEVEN_DAYS)
        self.calendar = QuietCalendar(self.origin - DAY, self.horizon + DAY)
        self.key_base = f"{draft.id}\x1f{start.isoformat()}"
        self.caps: dict[ChannelKind, ChannelCapabilities] = {}
        kinds = set(profile.kinds) | set(draft.content) | {s.channel for s in draft.senders}
        for kind in sorted(kinds):
            try:
                self.caps[kind] = profile.capabilities(kind, as_of=start)
            except UnknownChannelError:
                continue
        self.selected = self._selected()
        self.senders: dict[str, _Sender] = {}
        self.by_kind: dict[ChannelKind, list[_Sender]] = {}
        chosen: list[tuple[Sender, AccountState, SenderUsage]] = []
        for sender in draft.active_senders():
            caps = self.caps.get(sender.channel)
            if caps is None or sender.account_id in {s.account_id for s, _, _ in chosen}:
                continue
            account = self._account_state(sender.account_id, accounts)
            chosen.append((sender, account, self._usage(sender.account_id, usage)))
        trackers = self._trackers(chosen, to_micros(now))
        for sender, account, used in chosen:
            caps = self.caps[sender.channel]
            lane = Lane(
                sender.account_id,
                origin=self.origin,
                horizon=self.horizon,
                spacing=self._spacing(caps, sender),
                daily_cap=caps.daily_recipient_cap,
                tier=trackers.get(sender.account_id),
                state=account,
                usage=used,
            )
            entry = _Sender(sender.account_id, sender.channel, caps, lane, account)
            entry.batch_span = lane.spacing * batch_size
            self.senders[sender.account_id] = entry
            self.by_kind.setdefault(sender.channel, []).append(entry)
        self.quiet: dict[ChannelKind, tuple[QuietHours, ...]] = {
            kind: tuple(q for q in (caps.quiet_hours, draft.quiet_hours) if q is not None)
            for kind, caps in self.caps.items()
        }
        self.regions: dict[ChannelKind, RegionHours] = {}
        for kind in self.by_kind:
            hours = RegionHours.of(
                profile,
                self.caps[kind],
                draft,
                calendar=self.calendar,
                origin=self.origin,
                horizon=self.horizon,
            )
            if hours is not None:
                self.regions[kind] = hours
        self.region_capped = False
        self._earlier_of: tuple[str, list[int]] | None = None
        self.messages: dict[ChannelKind, tuple[BroadcastMessage, ...]] = dict(draft.content)
        self.personalised = {
            kind: any(m.personalised for m in msgs) for kind, msgs in self.messages.items()
        }
        self.fixed = {
            kind: (
                [m.message for m in msgs],
                [tuple(m.template_params.items()) for m in msgs],
            )
            for kind, msgs in self.messages.items()
        }
        self.params = {
            kind: tuple(
                tuple((name, parse_snippet(value)) for name, value in m.template_params.items())
                for m in msgs
            )
            for kind, msgs in self.messages.items()
        }
        cap = draft.frequency_cap
        self.cap_since = None if cap is None else start - cap.period
        self.summary = SummaryBuilder(
            draft=draft, start=start, ends_by=from_micros(self.horizon), caps=self.caps
        )
        self.batch_counts: dict[tuple[str, int], int] = {}
        self.batch_names: dict[tuple[str, int, int], str] = {}
        self.turn = -1
        self._last_micros = self.origin
        self._last_instant = start
        self.hasher = _key_hasher(draft.id, start)
        self._allowed_cache: dict[
            tuple[ChannelKind, tuple[str, ...], tzinfo | None], Intervals
        ] = {}

    # --- setup ---------------------------------------------------------------------------

    def _selected(self) -> frozenset[ChannelKind]:
        draft = self.draft
        if draft.targeting is Targeting.ACCOUNT:
            kinds = {s.channel for s in draft.senders if s.account_id == draft.account}
            return frozenset(kinds)
        if draft.channels is not None:
            return draft.channels
        # By default every channel with broadcasts that the draft has content for (B3).
        return frozenset(
            kind for kind, caps in self.caps.items() if caps.broadcasts and kind in draft.content
        )

    def _account_state(self, account_id: str, accounts: Mapping[str, AccountState]) -> AccountState:
        found = accounts.get(account_id)
        if found is None and self.state is not None:
            found = self.state.get_account(account_id)
        return found if found is not None else AccountState()

    def _usage(self, account_id: str, usage: Mapping[str, SenderUsage]) -> SenderUsage:
        found = usage.get(account_id)
        if found is None and self.state is not None:
            found = self.state.get_usage(account_id)
        return found if found is not None else SenderUsage()

    def _trackers(
        self, chosen: list[tuple[Sender, AccountState, SenderUsage]], now: int
    ) -> dict[str, TierTracker]:
        """A tier tracker per sender with tiers; one shared by a channel's senders when
        the tier's scope is the portfolio (B13, B14, P4). A shared tier starts from the
        lowest tier of its senders, low quality if any sender's is (and high only if
        every sender's is), counting all their recent sends."""
        trackers: dict[str, TierTracker] = {}
        shared: dict[ChannelKind, list[tuple[Sender, AccountState, SenderUsage]]] = {}
        for entry in chosen:
            sender, account, used = entry
            tiers = self.caps[sender.channel].tiers
            if tiers is None:
                continue
            if tiers.scope == "portfolio":
                shared.setdefault(sender.channel, []).append(entry)
                continue
            trackers[sender.account_id] = TierTracker(
                tiers,
                tier=account.tier,
                quality_low=account.quality_low,
                recent=used.recent,
                now=now,
                quality=account.quality,
            )
        for kind, members in shared.items():
            tiers = self.caps[kind].tiers
            assert tiers is not None
            qualities = [account.quality for _, account, _ in members]
            tracker = TierTracker(
                tiers,
                tier=min(account.tier for _, account, _ in members),
                quality_low=any(account.quality_low for _, account, _ in members),
                recent=[sent for _, _, used in members for sent in used.recent],
                now=now,
                quality=next((q for q in qualities if q != "high"), "high"),
            )
            for sender, _, _ in members:
                trackers[sender.account_id] = tracker
        return trackers

    def _spacing(self, caps: ChannelCapabilities, sender: Sender) -> int:
        """Microseconds between two sends of an account: its rate (its sender class's,
        P14) and the draft's (B10)."""
        spacing = 0
        per_second = sender.send_rate(caps)
        if per_second is not None and per_second > 0:
            spacing = math.ceil(1_000_000 / per_second)
        rate = self.draft.rate
        if rate is not None:
            spacing = max(spacing, micros_of(rate.spacing))
        return spacing

    # --- the audience --------------------------------------------------------------------

    def outcomes(self) -> Iterator[ContactOutcome]:
        """One outcome per audience entry, in audience order."""
        audience = self.draft.audience
        if self.audience_override is not None:
            for given in self.audience_override:
                yield self.plan_contact(given, None)
            return
        source = self.source
        seen: set[str] = set()
        explicit = bool(audience.contact_ids or audience.id_list)
        explicit_ids: set[str] = set()
        if explicit and not isinstance(source, ContactSource):
            from omnimsg.stores.memory import MemoryContactStore

            source = MemoryContactStore(source)
        for contact_id in audience.contact_ids:
            if contact_id in seen:
                yield self.excluded(contact_id, contact_id, PlanReason.DUPLICATE)
                continue
            seen.add(contact_id)
            assert isinstance(source, ContactSource)
            named = source.get_contact(contact_id)
            if named is None:
                yield self.excluded(contact_id, None, PlanReason.UNKNOWN_CONTACT)
                continue
            yield self.plan_contact(named, None)
        if audience.id_list:
            account = audience.id_list_account
            assert account is not None
            assert isinstance(source, ContactSource)
            entries: set[str] = set()
            for external_id in audience.id_list:
                if external_id in entries:
                    yield self.excluded(external_id, None, PlanReason.DUPLICATE)
                    continue
                entries.add(external_id)
                holder = source.find_identity(account, external_id)
                if holder is None:
                    other = source.accounts_for(external_id)
                    reason = PlanReason.OTHER_ACCOUNT if other else PlanReason.UNKNOWN_ID
                    yield self.excluded(external_id, None, reason)
                    continue
                if holder.id in seen:
                    yield self.excluded(external_id, holder.id, PlanReason.DUPLICATE)
                    continue
                seen.add(holder.id)
                yield self.plan_contact(holder, account, entry=external_id)
        if explicit and audience.segment is None:
            return
        explicit_ids.update(seen)
        # A contact source gives each contact once (its protocol's promise); a plain
        # iterable is checked, which keeps its ids in memory.
        trusted = isinstance(source, ContactSource)
        for contact in self._stream(source):
            if type(contact) is not Contact and not isinstance(contact, Contact):
                raise InputError(f"contacts: expected Contact values, got {type(contact).__name__}")
            cid = contact.id
            if seen and cid in seen:
                if not trusted and cid not in explicit_ids:
                    yield self.excluded(cid, cid, PlanReason.DUPLICATE)
                continue
            if not trusted:
                seen.add(cid)
            yield self.plan_contact(contact, None)

    def _stream(self, source: ContactSource | Iterable[Contact]) -> Iterator[Contact]:
        segment = self.draft.audience.segment
        if segment is None:
            if isinstance(source, ContactSource):
                yield from source.iter_contacts()
            else:
                yield from source
            return
        matching = getattr(source, "iter_matching", None)
        if callable(matching):
            yield from matching(segment, now=self.now)
            return
        predicate = compile_segment(segment, now=self.now)
        contacts = source.iter_contacts() if isinstance(source, ContactSource) else source
        for contact in contacts:
            if predicate(contact):
                yield contact

    # --- one contact ---------------------------------------------------------------------

    def excluded(
        self,
        entry: str,
        contact_id: str | None,
        reason: str,
        channel: ChannelKind | None = None,
        account_id: str | None = None,
        rule: str | None = None,
    ) -> ContactOutcome:
        return _new(
            ContactOutcome,
            (
                entry,
                contact_id,
                _EXCLUDED,
                str(reason),
                rule or reason_rule(reason),
                channel,
                account_id,
                (),
            ),
        )

    def _channel(self, contact: Contact) -> ChannelKind | str:
        """The channel the contact is reached on, or the reason there is none."""
        selected = self.selected
        kind = contact.last_interacted_channel
        if kind is None:
            # No last interacted channel: the one the contact last wrote on, among
            # the selected; else a selected phone channel when the contact has a phone.
            best: ChannelIdentity | None = None
            best_at = self.start
            for identity in contact.identities:
                last = identity.last_inbound_at
                if (
                    identity.channel in selected
                    and last is not None
                    and (best is None or last > best_at)
                ):
                    best, best_at = identity, last
            if best is not None:
                return best.channel
            if contact.phone is not None:
                for phone_kind in sorted(selected & PHONE_CHANNELS):
                    return phone_kind
            return PlanReason.NO_CHANNEL
        if kind not in selected:
            caps = self.caps.get(kind)
            if caps is not None and not caps.broadcasts:
                return Reason.BROADCASTS_NOT_SUPPORTED
            return PlanReason.CHANNEL_NOT_SELECTED
        return kind

    def plan_contact(
        self, contact: Contact, account: str | None, *, entry: str | None = None
    ) -> ContactOutcome:
        cid = contact.id
        entry = cid if entry is None else entry
        draft = self.draft
        if account is None and draft.targeting is Targeting.ACCOUNT:
            account = draft.account
        if account is not None:
            sender = self.senders.get(account)
            if sender is None:
                return self.excluded(entry, cid, PlanReason.NO_SENDER, account_id=account)
            kind = sender.kind
            senders = [sender]
        else:
            found = self._channel(contact)
            if not isinstance(found, ChannelKind):
                return self.excluded(entry, cid, found)
            kind = found
            senders = self.by_kind.get(kind, [])
            if not senders:
                return self.excluded(entry, cid, PlanReason.NO_SENDER, kind)
        caps = senders[0].caps
        if not caps.broadcasts:
            return self.excluded(entry, cid, Reason.BROADCASTS_NOT_SUPPORTED, kind)
        if draft.only_interacted and not any(
            i.channel is kind and i.last_inbound_at is not None for i in contact.identities
        ):
            return self.excluded(entry, cid, PlanReason.NOT_INTERACTED, kind)

        content = self._messages(contact, kind)
        if isinstance(content, str):
            return self.excluded(entry, cid, content, kind)
        messages, params = content

        candidates: list[_Candidate] = []
        phone = kind in PHONE_CHANNELS
        state = self.state
        start = self.start
        single = len(messages) == 1
        subscriptions = contact.subscriptions
        invalid = False
        # Senders in turn (B11): the team's numbers take the first place in rotation.
        if len(senders) > 1:
            turn = self.turn = (self.turn + 1) % len(senders)
            senders = senders[turn:] + senders[:turn]
        shared: tuple[datetime | None, OptInState, list[Decision]] | None = None
        for sender in senders:
            identity = contact.identity_on(sender.account_id)
            if identity is not None:
                address = identity.external_id
            elif phone and contact.phone is not None:
                address = contact.phone
            else:
                continue
            if phone and PHONE_ADDRESS.fullmatch(address) is None:
                invalid = True  # another sender of the team may reach the contact
                continue
            if state is None:
                conversation = _trusted_state(
                    None if identity is None else identity.last_inbound_at,
                    0,
                    subscriptions.get(sender.account_id) or _NOT_ASKED,
                )
            else:
                conversation = self._conversation(contact, sender.account_id, identity)
            last_inbound = conversation.last_inbound_at
            consent = conversation.consent
            if (
                shared is not None
                and shared[0] == last_inbound
                and shared[1] is consent
                and caps.chatbot_free_per_month is None
            ):
                decisions = shared[2]  # the same state on a sender of the same channel
            elif single:
                decisions = [
                    decide(caps, conversation, messages[0], now=start, account=sender.account)
                ]
                shared = (last_inbound, consent, decisions)
            else:
                decisions = [
                    decide(caps, conversation, message, now=start, account=sender.account)
                    for message in messages
                ]
                shared = (last_inbound, consent, decisions)
            candidates.append(
                _Candidate(sender, address, identity, conversation.consent, decisions)
            )
        if not candidates:
            if invalid:
                return self.excluded(entry, cid, PlanReason.INVALID_PHONE, kind)
            rule = "B2" if draft.targeting is Targeting.ACCOUNT else "B3"
            return self.excluded(entry, cid, PlanReason.NO_IDENTITY, kind, rule=rule)

        # An opt-out or a declined prompt with one of the senders that share the load
        # holds for all of them: the contact said no to the business (X1, B12).
        for candidate in candidates:
            said_no = candidate.decisions[0]
            if said_no.reason in _SAID_NO:
                return self.excluded(entry, cid, said_no.reason, kind, candidate.sender.account_id)
        if single:
            allowed = [c for c in candidates if c.decisions[0].allowed]
        else:
            allowed = [c for c in candidates if all(c.decisions)]
        if allowed:
            if self.cap_since is not None and self._over_cap(cid, len(messages)):
                return self.excluded(entry, cid, PlanReason.FREQUENCY_CAP, kind)
            return self._place(entry, contact, kind, allowed, messages, params)
        held = [c for c in candidates if c.decisions[0].reason in _HELD_REASONS and c.sender.rules]
        if held:
            return self._hold(entry, contact, kind, held)
        first = candidates[0]
        refusal = next(d for d in first.decisions if not d)
        return self.excluded(
            entry, cid, refusal.reason, kind, first.sender.account_id, refusal.rule
        )

    def _messages(
        self, contact: Contact, kind: ChannelKind
    ) -> tuple[list[Message], list[tuple[tuple[str, str], ...]]] | str:
        drafts = self.messages.get(kind)
        if drafts is None:  # no content for the channel: it is not selected (B3)
            return PlanReason.CHANNEL_NOT_SELECTED
        if not self.personalised[kind]:
            return self.fixed[kind]
        values = contact_variables(contact)
        messages: list[Message] = []
        params: list[tuple[tuple[str, str], ...]] = []
        try:
            for m, snippets in zip(drafts, self.params[kind], strict=True):
                text = m.snippet.fill(values) if m.snippet.variables else m.text
                messages.append(
                    Message(
                        text=text,
                        media=m.media,
                        template=m.template,
                        tag=m.tag,
                        marketing=True,
                        broadcast=True,
                    )
                )
                params.append(tuple((name, s.fill(values)) for name, s in snippets))
        except SnippetError:
            return PlanReason.MISSING_VARIABLE
        return messages, params

    def _conversation(
        self, contact: Contact, account_id: str, identity: ChannelIdentity | None
    ) -> ConversationState:
        if self.state is not None:
            stored = self.state.get_conversation(contact.id, account_id)
            if stored is not None:
                return stored
        consent = contact.subscriptions.get(account_id) or _NOT_ASKED
        return ConversationState.trusted(
            None if identity is None else identity.last_inbound_at, 0, consent
        )

    def _over_cap(self, contact_id: str, count: int) -> bool:
        cap = self.draft.frequency_cap
        assert cap is not None
        assert self.cap_since is not None
        earlier = self._earlier(contact_id)
        recent = len(earlier) - bisect.bisect_right(earlier, to_micros(self.cap_since))
        return recent + count > cap.messages

    def _earlier(self, contact_id: str) -> list[int]:
        """The contact's earlier marketing sends (``history``), sorted, read once (X4, P12)."""
        found = self._earlier_of
        if found is not None and found[0] == contact_id:
            return found[1]
        history = self.history
        given: Iterable[datetime]
        if history is None:
            given = ()
        elif callable(history):
            given = history(contact_id)
        else:
            given = history.get(contact_id, ())
        try:
            earlier = sorted(to_micros(require_aware(at, "history")) for at in given)
        except (TypeError, AttributeError):
            raise InputError(
                f"history[{contact_id[:80]!r}]: expected a sequence of aware datetimes"
            ) from None
        self._earlier_of = (contact_id, earlier)
        return earlier

    # --- time ----------------------------------------------------------------------------

    def _allowed(
        self, contact: Contact, sender: _Sender, address: str | None = None, count: int = 0
    ) -> Intervals | None:
        """When the contact may get ``count`` marketing messages (a prompt: 0) on the
        sender's channel (X2), or ``None`` for any time. The zone is the contact's,
        else its phone's, else the sender's. A number in a region (P12: the address on
        a phone channel, else the contact's phone) has the region's quiet hours and
        frequency cap instead of the channel's."""
        regions = self.regions.get(sender.kind)
        if regions is not None:
            number = address if sender.kind in PHONE_CHANNELS else None
            number = number or contact.phone
            matched = None if number is None else regions.match(number)
            if matched is not None:
                earlier = self._earlier(contact.id) if count else ()
                zones = self._zones(_zone_names(contact), sender)
                hours, capped = regions.allowed(zones, matched, earlier, count)
                self.region_capped = self.region_capped or capped
                return hours
        rules = self.quiet.get(sender.kind)
        if not rules:
            return None
        names = _zone_names(contact)
        key = (sender.kind, names, None if names else sender.account.timezone)
        found = self._allowed_cache.get(key)
        if found is None:
            found = self.calendar.allowed(self._zones(names, sender), rules)
            if len(self._allowed_cache) < 100_000:
                self._allowed_cache[key] = found
        return found

    @staticmethod
    def _zones(names: tuple[str, ...], sender: _Sender) -> tuple[tzinfo, ...]:
        """The zones of ``names``, or the sender's when none is known (X2)."""
        zones = tuple(z for z in (zone_of(n) for n in names) if z is not None)
        return zones or (sender.account.timezone,)

    def _find(
        self,
        contact: Contact,
        candidate: _Candidate,
        decisions: list[Decision],
        earliest: int,
        messages: list[Message],
    ) -> tuple[Slot, list[Decision], Intervals | None] | Decision | None:
        """A place for ``count`` sends on the candidate's account, with the decisions
        that hold at it; a refusal when the window closes before any place; ``None``
        when nothing fits within 7 days."""
        sender = candidate.sender
        allowed = self._allowed(contact, sender, candidate.address, len(messages))
        interval = sender.caps.recipient_interval  # P5, P10: one user's messages apart
        gap = 0 if interval is None else micros_of(interval)
        cap = sender.caps.unanswered_cap
        if cap is not None and len(messages) > cap:
            # P9: at most `cap` unanswered messages to one user in a period, so any
            # `cap` + 1 of them span the period.
            gap = max(gap, -(-micros_of(sender.caps.unanswered_period) // cap))
        at = earliest
        for _ in range(4):
            closes = decisions[0].window_closes_at
            latest = None if closes is None else to_micros(closes)
            tiers = sender.caps.tiers
            counted = tiers is not None and (
                tiers.replies_in_window_count
                or not any(d.reason in UNCOUNTED_REASONS for d in decisions)
            )
            slot = sender.lane.find(
                at, len(messages), allowed, counted=counted, latest=latest, gap=gap
            )
            if slot is not None:
                return slot, decisions, allowed
            if latest is None or latest >= self.horizon:
                return None
            # The window closes first: decide again once it has closed.
            at = max(latest, at)
            when = from_micros(at)
            conversation = ConversationState.trusted(
                None if candidate.identity is None else candidate.identity.last_inbound_at,
                0,
                candidate.consent,
            )
            decisions = [
                decide(sender.caps, conversation, d_msg, now=when, account=sender.account)
                for d_msg in messages
            ]
            refused = next((d for d in decisions if not d), None)
            if refused is not None:
                return refused
        return None

    def _place(
        self,
        entry: str,
        contact: Contact,
        kind: ChannelKind,
        candidates: list[_Candidate],
        messages: list[Message],
        params: list[tuple[tuple[str, str], ...]],
    ) -> ContactOutcome:
        count = len(messages)
        best: tuple[Slot, list[Decision], _Candidate, Intervals | None, _Quota | None] | None
        best = None
        refusal: Decision | None = None
        quota_full: _Candidate | None = None
        self.region_capped = False
        for candidate in candidates:
            found = self._find(contact, candidate, candidate.decisions, self.origin, messages)
            if isinstance(found, Decision):
                refusal = refusal or found
                continue
            if found is None:
                continue
            slot, decisions, allowed = found
            quota = None
            if candidate.sender.caps.monthly_quota is not None:
                quota = self._quota(candidate.sender, candidate, slot.times)
                if quota is None:  # this account's quota is used up: another may send
                    quota_full = quota_full or candidate
                    continue
            if best is None or slot.times[0] < best[0].times[0]:
                best = (slot, decisions, candidate, allowed, quota)
                if slot.times[0] <= self.origin:
                    break  # nothing goes sooner: the sender in turn takes it
        cid = contact.id
        if best is None:
            if refusal is not None:
                return self.excluded(entry, cid, refusal.reason, kind, rule=refusal.rule)
            if quota_full is not None:  # P11, on every sender that could take the contact
                return self.excluded(
                    entry, cid, Reason.MONTHLY_QUOTA_REACHED, kind, quota_full.sender.account_id
                )
            if self.region_capped:  # a region's cap left no place (P12)
                return self.excluded(entry, cid, PlanReason.FREQUENCY_CAP, kind, rule="P12")
            return self.excluded(entry, cid, PlanReason.AFTER_SEVEN_DAYS, kind)
        slot, decisions, chosen, allowed, quota_taken = best
        sender = chosen.sender
        paid = [d.paid for d in decisions]
        if decisions[0].mode is Mode.CHATBOT_INITIATED:
            chatbot_paid = self._chatbot(sender, decisions[0], count)
            if chatbot_paid is None:
                return self.excluded(
                    entry, cid, Reason.CHATBOT_QUOTA_EXHAUSTED, kind, sender.account_id
                )
            paid = [paid_one or chatbot_paid for paid_one in paid]
        if quota_taken is not None:
            beyond = quota_taken[0]
            paid = [paid_one or extra for paid_one, extra in zip(paid, beyond, strict=True)]
        remaining = decisions[0].remaining_in_window
        if (
            sender.caps.window_outbound_cap is not None
            and remaining is not None
            and decisions[0].mode is not Mode.CHATBOT_INITIATED
            and remaining < count
        ):
            return self.excluded(entry, cid, Reason.WINDOW_CAP_REACHED, kind, sender.account_id)
        if quota_taken is not None:  # counted only for a contact who is planned (P11)
            for month, taken in quota_taken[1].items():
                sender.quota_used[month] = sender.quota_used.get(month, 0) + taken
        sender.lane.take(slot)
        sends = tuple(
            self._send(
                cid,
                sender,
                chosen.address,
                _MESSAGE,
                n + 1,
                slot.times[n],
                decisions[n],
                paid[n],
                params=params[n],
                message=messages[n],
                allowed=allowed,
            )
            for n in range(count)
        )
        return _new(
            ContactOutcome,
            (entry, cid, _PLANNED, None, None, kind, sender.account_id, sends),
        )

    def _chatbot(self, sender: _Sender, decision: Decision, count: int) -> bool | None:
        """Whether chatbot-initiated sends are paid; ``None`` when they may not go (W6)."""
        left = decision.remaining_in_window
        if left is None:
            return False
        if left - sender.chatbot_used >= count:
            sender.chatbot_used += count
            return False
        if sender.account.paid_chatbot_terms:
            sender.chatbot_used += count
            return True
        return None

    def _quota(self, sender: _Sender, candidate: _Candidate, times: list[int]) -> _Quota | None:
        """Which of the sends at ``times`` go beyond the account's monthly quota, paid
        (P11), and the counted sends by month; ``None`` when one of them may not go (no
        paid extra messages). Replies within the channel's free reply window do not
        count; the plan's own counted sends do, month by month in the account's time
        zone. Nothing is taken from the quota here: :meth:`_place` takes it when it
        plans the contact."""
        caps, account = sender.caps, sender.account
        quota = caps.monthly_quota
        assert quota is not None
        state = ConversationState.trusted(
            None if candidate.identity is None else candidate.identity.last_inbound_at,
            0,
            candidate.consent,
        )
        taken: dict[datetime, int] = {}
        beyond: list[bool] = []
        for micros in times:
            at = from_micros(micros)
            if not counts_against_quota(caps, state, now=at):
                beyond.append(False)
                continue
            month = next_month(at, account)
            used = account.quota_count_at(at) + sender.quota_used.get(month, 0)
            used += taken.get(month, 0)
            if used >= quota and not account.paid_extra_messages:
                return None
            beyond.append(used >= quota)
            taken[month] = taken.get(month, 0) + 1
        return beyond, taken

    def _send(
        self,
        contact_id: str,
        sender: _Sender,
        address: str,
        kind: SendKind,
        number: int,
        at: int,
        decision: Decision,
        paid: bool,
        *,
        params: tuple[tuple[str, str], ...] = (),
        message: Message | None = None,
        allowed: Intervals | None = None,
    ) -> PlannedSend:
        account_id = sender.account_id
        span = sender.batch_span
        if span:
            # One send per grid point: a batch spans batch_size points of the grid.
            bucket = (at - self.origin) // span
            if bucket == sender.batch_bucket:
                batch = sender.batch_name
            else:
                batch = f"{account_id}/{bucket:06d}.000"
                sender.batch_bucket, sender.batch_name = bucket, batch
        else:
            bucket = (at - self.origin) // 60_000_000
            counted = (account_id, bucket)
            seen = self.batch_counts.get(counted, 0)
            self.batch_counts[counted] = seen + 1
            batch_key = (account_id, bucket, seen // self.batch_size)
            found = self.batch_names.get(batch_key)
            if found is None:
                found = self.batch_names[batch_key] = (
                    f"{account_id}/{batch_key[1]:06d}.{batch_key[2]:03d}"
                )
            batch = found
        hasher = self.hasher.copy()
        hasher.update(f"{contact_id}\x1f{kind}\x1f{number}".encode("utf-8", "surrogatepass"))
        content = decision.content
        return _new(
            PlannedSend,
            (
                hasher.hexdigest(),
                contact_id,
                account_id,
                sender.kind,
                address,
                kind,
                number,
                self._instant(at),
                batch,
                decision.mode,
                paid,
                content.text if content is not None else "",
                params,
                None if message is None else message.template,
                None if message is None else message.tag,
                _hours_around(allowed, at),
            ),
        )

    def _first_free(self, contact: Contact, candidate: _Candidate) -> int:
        """When the candidate's sender could first send a prompt to the contact (the
        horizon when it cannot)."""
        sender = candidate.sender
        counted = sender.caps.tiers is not None
        allowed = self._allowed(contact, sender, candidate.address)
        slot = sender.lane.find(self.origin, 1, allowed, counted=counted)
        return self.horizon if slot is None else slot.times[0]

    def _instant(self, at: int) -> datetime:
        """``at`` as a datetime; sends at one instant share one value."""
        if at != self._last_micros:
            self._last_micros = at
            self._last_instant = from_micros(at)
        return self._last_instant

    def _hold(
        self, entry: str, contact: Contact, kind: ChannelKind, candidates: list[_Candidate]
    ) -> ContactOutcome:
        """Held for the double opt-in (B12): plan the prompt now and its reminder."""
        pending = [c for c in candidates if c.decisions[0].reason is Reason.OPT_IN_PENDING]
        if pending:
            chosen = pending[0]  # the sender that asked already asks again
        else:
            chosen = min(candidates, key=lambda c: self._first_free(contact, c))
        sender = chosen.sender
        rules = sender.rules
        assert rules is not None
        assert rules.double_opt_in is not None
        opt_in = rules.double_opt_in
        reason = chosen.decisions[0].reason
        prompt = Message(text=opt_in.prompt)
        conversation = ConversationState.trusted(
            None if chosen.identity is None else chosen.identity.last_inbound_at,
            0,
            chosen.consent,
        )
        allowed = self._allowed(contact, sender, chosen.address)
        counted = sender.caps.tiers is not None
        sends: list[PlannedSend] = []
        cid = contact.id
        if reason is Reason.OPT_IN_REQUIRED:
            first_at: int | None = self.origin
            prompts = [(SendKind.PROMPT, 1)]
            if opt_in.max_prompts >= 2:
                prompts.append((SendKind.REMINDER, 2))
        else:
            due = next_prompt_at(chosen.consent, rules)
            first_at = None if due is None else max(self.origin, to_micros(due))
            number = chosen.consent.prompts_sent + 1
            prompts = [(SendKind.REMINDER, number)]
        at = first_at
        for send_kind, number in prompts:
            if at is None:
                break
            slot = sender.lane.find(at, 1, allowed, counted=counted)
            if slot is None:
                break
            when = slot.times[0]
            decision = decide(sender.caps, conversation, prompt, now=from_micros(when))
            if not decision:
                break
            sender.lane.take(slot)
            sends.append(
                self._send(
                    cid,
                    sender,
                    chosen.address,
                    send_kind,
                    number,
                    when,
                    decision,
                    False,
                    allowed=allowed,
                )
            )
            at = when + micros_of(opt_in.reminder_after)
        return _new(
            ContactOutcome,
            (entry, cid, _HELD, str(reason), "B12", kind, sender.account_id, tuple(sends)),
        )


def _hours_around(allowed: Intervals | None, at: int) -> tuple[datetime, datetime] | None:
    """The allowed interval (X2, P12) that holds ``at``, for the dispatcher to keep a
    late send inside its recipient's hours; ``None`` when any time is allowed."""
    if allowed is None:
        return None
    starts, ends = allowed
    i = bisect.bisect_right(starts, at) - 1
    if i < 0 or ends[i] <= at:
        return None
    return (from_micros(starts[i]), from_micros(ends[i]))


def _zone_names(contact: Contact) -> tuple[str, ...]:
    """The zones the contact may be in: its own, else its phone's (X2)."""
    if contact.timezone and zone_of(contact.timezone) is not None:
        return (contact.timezone,)
    if contact.phone:
        return prefix_time_zones(contact.phone)
    return ()


def _key_hasher(draft_id: str, start: datetime) -> Any:
    return hashlib.blake2b(
        f"{draft_id}\x1f{start.isoformat()}\x1f".encode("utf-8", "surrogatepass"),
        digest_size=16,
    )


def send_key(draft_id: str, start: datetime, contact_id: str, kind: SendKind, number: int) -> str:
    """The idempotency key of a planned send (X5): the same inputs, the same key.

    ``start`` is the occurrence's start in UTC, as the plan holds it.
    """
    hasher = _key_hasher(draft_id, start.astimezone(UTC))
    hasher.update(f"{contact_id}\x1f{kind}\x1f{number}".encode("utf-8", "surrogatepass"))
    return str(hasher.hexdigest())


def _start(draft: Draft, now: datetime, start: datetime | None) -> datetime:
    when = start if start is not None else draft.schedule.start
    if when is None:
        return now.astimezone(UTC)
    when = require_aware(when, "start")
    return (when if when > now else now).astimezone(UTC)


def plan_broadcast(
    draft: Draft,
    contacts: ContactSource | Iterable[Contact],
    *,
    profile: Profile,
    now: datetime,
    accounts: Mapping[str, AccountState] | None = None,
    usage: Mapping[str, SenderUsage] | None = None,
    state: StateStore | None = None,
    history: History | None = None,
    start: datetime | None = None,
    batch_size: int = 500,
) -> Plan:
    """Plan ``draft`` for its audience in ``contacts``: a stream of outcomes and a summary.

    Args:
        draft: the broadcast (see :func:`omnimsg.broadcasts.load_draft`); it is
            checked against ``profile`` first (:func:`~omnimsg.broadcasts.validate_draft`).
        contacts: where the audience is read from: a contact source (one with an
            ``iter_matching(segment, now=)`` method, such as the SQL source, evaluates
            the segment itself) or any iterable of contacts.
        profile: the rules of the channels.
        now: the instant of planning; timezone-aware.
        accounts: each sender account's state (time zone, tier, W6 quota); else read
            from ``state``, else the defaults.
        usage: what each sender already sent (B11 daily count, B13 recent sends);
            else read from ``state``.
        state: a state store to read conversations, accounts and usage from; the plan
            never writes to it.
        history: earlier marketing sends per contact id, for the frequency caps of
            the draft (X4) and of the recipient's region (P12).
        start: the occurrence to plan (a recurring draft's); default the draft's start,
            or ``now``. A start in the past plans from ``now``.
        batch_size: the most sends in one batch.

    Returns:
        A :class:`Plan`: iterate it once for the outcomes, then read its summary.

    Raises:
        DraftError: the draft breaks a rule of the profile (content, rate, accounts).
        InputError: an argument is not of its type, or ``now`` is naive.
    """
    return Plan(
        _planner(
            draft,
            contacts,
            profile=profile,
            now=now,
            accounts=accounts,
            usage=usage,
            state=state,
            history=history,
            start=start,
            batch_size=batch_size,
        )
    )


def _planner(
    draft: Draft,
    contacts: ContactSource | Iterable[Contact],
    *,
    profile: Profile,
    now: datetime,
    accounts: Mapping[str, AccountState] | None,
    usage: Mapping[str, SenderUsage] | None,
    state: StateStore | None,
    history: History | None,
    start: datetime | None,
    batch_size: int,
    audience_override: Iterable[Contact] | None = None,
) -> _Planner:
    if not isinstance(draft, Draft):
        raise InputError(f"draft: expected a Draft, got {type(draft).__name__}")
    if not isinstance(profile, Profile):
        raise InputError(f"profile: expected a Profile, got {type(profile).__name__}")
    try:
        profile.kinds  # noqa: B018 - a Profile built around a broken spec fails here
    except (AttributeError, TypeError):
        raise InputError("profile: not a usable profile (load it with load_profile)") from None
    if not isinstance(contacts, ContactSource) and (
        isinstance(contacts, str | bytes | Mapping) or not isinstance(contacts, Iterable)
    ):
        raise InputError(
            f"contacts: expected a contact source or contacts, got {type(contacts).__name__}"
        )
    if not isinstance(now, datetime):
        raise InputError(f"now: expected an aware datetime, got {type(now).__name__}")
    require_aware(now, "now")
    if start is not None and not isinstance(start, datetime):
        raise InputError(f"start: expected an aware datetime, got {type(start).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(
            f"batch_size: expected a whole number of at least 1, got {shown(batch_size)}"
        )
    for name, value, cls in (
        ("accounts", accounts, AccountState),
        ("usage", usage, SenderUsage),
    ):
        if value is None:
            continue
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, cls) for k, v in value.items()
        ):
            raise InputError(f"{name}: expected a mapping of account id to {cls.__name__}")
    if state is not None and not isinstance(state, StateStore):
        raise InputError(f"state: expected a state store, got {type(state).__name__}")
    if history is not None and not (callable(history) or isinstance(history, Mapping)):
        raise InputError("history: expected a mapping or a function of a contact id")
    try:
        when = _start(draft, now, start)
    except OverflowError:
        raise InputError(
            f"start: {(start or draft.schedule.start or now).isoformat()} is too close "
            "to the ends of the date range"
        ) from None
    try:
        # Lanes and quiet hours look a day and a time zone beyond the 7 days each way.
        when + SEVEN_DAYS + timedelta(days=3)
        when - timedelta(days=3)
        if draft.frequency_cap is not None:
            when - draft.frequency_cap.period
    except OverflowError:
        raise InputError(
            f"start: {when.isoformat()} is too close to the ends of the date range"
        ) from None
    validate_draft(draft, profile, now=when)
    return _Planner(
        draft,
        contacts,
        profile=profile,
        now=now,
        start=when,
        accounts=accounts or {},
        usage=usage or {},
        state=state,
        history=history,
        batch_size=batch_size,
        audience_override=audience_override,
    )


def plan_test_send(
    draft: Draft,
    contact: Contact,
    *,
    profile: Profile,
    now: datetime,
    accounts: Mapping[str, AccountState] | None = None,
    usage: Mapping[str, SenderUsage] | None = None,
    state: StateStore | None = None,
) -> ContactOutcome:
    """The messages ``contact`` would get from ``draft``, for a test send before the real one (B8).

    The contact is planned as if it were the whole audience, on the channel and
    account the broadcast would use for it; the outcome's sends carry exactly the
    content the contact would receive. An excluded outcome says why the contact
    would get nothing.
    """
    if not isinstance(contact, Contact):
        raise InputError(f"contact: expected a Contact, got {type(contact).__name__}")
    planner = _planner(
        draft,
        (),
        profile=profile,
        now=now,
        accounts=accounts,
        usage=usage,
        state=state,
        history=None,
        start=None,
        batch_size=1,
        audience_override=(contact,),
    )
    return next(planner.outcomes())
