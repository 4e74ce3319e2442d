"""What happens to one planned send at its time: the steps both dispatchers share.

:class:`Steps` turns a :class:`~omnimsg.broadcasts.PlannedSend` into either a
settled answer or a :class:`Ready` send (claimed in the ledger, decided again, its
quota reserved, marked SENDING), and records the transport's answer. The sync and
asyncio dispatchers differ only in how they call the transport between the two.

At send time, the world may differ from the plan's (B10: a plan made hours ago):

- the conversation record in the store, when there is one, is decided again with
  :func:`omnimsg.decide` (an opt-out, a closed window, a reached WeChat cap skip the
  send with the decision's reason and rule);
- a double opt-in prompt or reminder goes only while the contact has not answered
  (B12), and a reminder only once it is due;
- the daily recipient cap in the account's zone (B11), the tier's unique recipients
  in the rolling window (B13), the contact's frequency cap (X4), the frequency cap of
  each region the recipient's number is in on the send's date (P12: the rule in
  force then, on phone channels, counting the messages sent under it) and the
  month's free chatbot-initiated messages (W6) are reserved atomically; a send that
  no longer fits moves to when it will (the next local day, the window's first free
  moment), inside the plan's 7 days, or fails with ``no_capacity`` after them.

Quiet hours (X2, P12) are the plan's: the planner placed each ``not_before`` in the
recipient's allowed hours, and a send carries no recipient time zone, so they are
not checked again here. A send that goes late (a run behind its plan) or that a cap
moves is not kept out of quiet hours by this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import attrs

from omnimsg._convert import shown
from omnimsg.broadcasts.outcomes import PlannedSend, SendKind
from omnimsg.broadcasts.plan import PHONE_CHANNELS
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.kinds import Mode
from omnimsg.channels.registry import Profile
from omnimsg.delivery._hours import region_caps, same_hours_later
from omnimsg.delivery.ledger import Claim, ClaimAction, claim, update_entry
from omnimsg.delivery.planfile import PlanHeader
from omnimsg.delivery.records import (
    LedgerEntry,
    LedgerStatus,
    Reservation,
    attempts,
    decode_account,
    decode_conversation,
    decode_entry,
    encode_conversation,
)
from omnimsg.errors import InputError, TransportError
from omnimsg.policy.decision import Message, decide
from omnimsg.policy.optin import OptInRules, next_prompt_at, request_broadcast, tick
from omnimsg.policy.rates import counts_against_quota, next_month
from omnimsg.protocols import DeliveryStore
from omnimsg.state import AccountState, ConversationState, OptInState, SubscriptionStatus
from omnimsg.stores._records import conversation_key
from omnimsg.transports import SendRequest, SendResult, SendStatus

__all__ = ["FREQUENCY_KEEP", "Ready", "Settled", "Steps"]

_DAY = timedelta(days=1)
_NEVER_WROTE = ConversationState()
FREQUENCY_KEEP = timedelta(days=31)
"""How long a marketing message is remembered for frequency caps (X4): a cap's
period up to this long sees every message of every broadcast before it."""
_EVENTS_KEPT = 32


class Settled(NamedTuple):
    """A send this worker is done with for now: its entry, or when to look again."""

    entry: LedgerEntry | None
    again_at: datetime | None = None


class Ready(NamedTuple):
    """A send claimed, decided, reserved and marked SENDING: hand ``request`` to the transport."""

    send: PlannedSend
    request: SendRequest
    entry: LedgerEntry
    version: int


@attrs.define
class Steps:
    """The per-send steps, bound to one store, profile, plan and worker."""

    store: DeliveryStore
    profile: Profile
    header: PlanHeader
    owner: str
    lease: timedelta
    idempotent: bool
    max_attempts: int
    backoff: timedelta
    max_backoff: timedelta
    rng: random.Random
    accounts: Mapping[str, AccountState] = attrs.field(factory=dict)
    caps_cache: dict[str, ChannelCapabilities] = attrs.field(factory=dict)
    account_cache: dict[str, AccountState | None] = attrs.field(factory=dict)

    # --- before the transport --------------------------------------------------------

    def caps(self, send: PlannedSend, now: datetime) -> ChannelCapabilities:
        """The channel's capabilities (read once per channel and run)."""
        found = self.caps_cache.get(send.channel.value)
        if found is None:
            found = self.caps_cache[send.channel.value] = self.profile.capabilities(
                send.channel, as_of=now
            )
        return found

    def template(self, send: PlannedSend, now: datetime) -> LedgerEntry:
        """The ledger entry a claim starts from."""
        return LedgerEntry(
            key=send.key,
            broadcast_id=self.header.broadcast_id,
            contact_id=send.contact_id,
            account_id=send.account_id,
            status=LedgerStatus.CLAIMED,
            updated_at=now,
            kind=send.kind.value,
        )

    def prepare(self, send: PlannedSend, now: datetime) -> Ready | Settled:
        """Claim, decide again, reserve and mark SENDING, or say why not (and until when)."""
        got: Claim = claim(
            self.store,
            self.template(send, now),
            owner=self.owner,
            now=now,
            lease=self.lease,
            idempotent=self.idempotent,
        )
        if got.action is ClaimAction.DONE:
            return Settled(got.entry)
        if got.action is ClaimAction.BUSY:
            return Settled(None, got.entry.lease_until)
        if got.action is ClaimAction.WAIT:
            return Settled(None, got.entry.retry_at)
        version, entry = got.version, got.entry
        if now >= self.header.ends_by:
            return self._settle(version, entry, now, LedgerStatus.FAILED, "expired", "B10")
        hours = send.hours
        if hours is not None and now >= hours[1]:
            # Late (a backlog, a retry, a wait): never into the recipient's quiet hours
            # (X2, P12); the same hours of a later day instead.
            later = same_hours_later(hours, now)
            if later is None or later >= self.header.ends_by:
                return self._settle(version, entry, now, LedgerStatus.FAILED, "quiet_hours", "X2")
            if later > now:  # else now is inside a later day's hours: it goes
                return self._defer(version, entry, now, later)
        caps = self.caps(send, now)
        conversation = self._conversation(send)
        account = self._account(send.account_id)
        message = Message(
            text=send.text,
            template=send.template,
            tag=send.tag,
            marketing=send.kind is SendKind.MESSAGE,
            broadcast=send.kind is SendKind.MESSAGE,
        )
        if send.kind is not SendKind.MESSAGE:
            wait = self._prompt_due(send, caps, conversation, now)
            if isinstance(wait, str):
                return self._settle(version, entry, now, LedgerStatus.SKIPPED, wait, "B12")
            if wait is not None:
                if wait >= self.header.ends_by:
                    return self._settle(version, entry, now, LedgerStatus.FAILED, "expired", "B10")
                return self._defer(version, entry, now, wait)
        if conversation is not None:
            decision = decide(caps, conversation, message, now=now, account=account)
            later = decision.retry_at
            if not decision.allowed and later is not None:
                # A rate refusal (P5, P9, P10, P11) says when it may go: wait for it.
                if later >= self.header.ends_by:
                    reason = str(decision.reason)
                    return self._settle(
                        version, entry, now, LedgerStatus.FAILED, reason, decision.rule
                    )
                return self._defer(version, entry, now, later)
            if not decision.allowed:
                return self._settle(
                    version, entry, now, LedgerStatus.SKIPPED, str(decision.reason), decision.rule
                )
            mode = decision.mode
        else:
            mode = send.mode
        refused = self._reserve(send, caps, account, mode, now, conversation)
        if refused is not None:
            rule, again = refused
            if again >= self.header.ends_by:
                return self._settle(version, entry, now, LedgerStatus.FAILED, "no_capacity", rule)
            return self._defer(version, entry, now, again)
        moved = update_entry(
            self.store,
            version,
            entry,
            status=LedgerStatus.SENDING,
            attempts=entry.attempts + 1,
            updated_at=now,
            lease_until=now + self.lease,
        )
        if moved is None:  # taken over meanwhile (our lease passed): look again
            return Settled(None, now)
        request = SendRequest(
            idempotency_key=send.key,
            account_id=send.account_id,
            channel=send.channel,
            recipient=send.address,
            content=message.render(caps.content),
            mode=mode,
            template=send.template,
            tag=send.tag,
            contact_id=send.contact_id,
            params=send.params,
        )
        return Ready(send, request, moved[1], moved[0])

    def _conversation(self, send: PlannedSend) -> ConversationState | None:
        key = conversation_key(send.contact_id, send.account_id)
        found = self.store.get_record("conversation", key)
        return None if found is None else decode_conversation(key, found[1])[0]

    def _account(self, account_id: str) -> AccountState | None:
        """The sender's state, read once per run (a run is minutes, a state changes rarely)."""
        if account_id in self.account_cache:
            return self.account_cache[account_id]
        state = self._read_account(account_id)
        self.account_cache[account_id] = state
        return state

    def _read_account(self, account_id: str) -> AccountState | None:
        found = self.store.get_record("account", account_id)
        if found is None:
            given = self.accounts.get(account_id)
            if given is not None and not isinstance(given, AccountState):
                raise InputError(f"accounts[{shown(account_id)}]: expected an AccountState")
            return given
        return decode_account(account_id, found[1])

    def _prompt_due(
        self,
        send: PlannedSend,
        caps: ChannelCapabilities,
        conversation: ConversationState | None,
        now: datetime,
    ) -> str | datetime | None:
        """``None`` to send the prompt now, a time to wait for, or why it is not sent."""
        consent = OptInState() if conversation is None else conversation.consent
        status = consent.status
        if send.kind is SendKind.PROMPT:
            if status is SubscriptionStatus.NOT_ASKED:
                return None
            return "opt_in_answered" if status is not SubscriptionStatus.PROMPTED else "prompted"
        if status is SubscriptionStatus.NOT_ASKED:
            return "prompt_not_sent"  # the first prompt failed: no reminder of it
        if status is not SubscriptionStatus.PROMPTED:
            return "opt_in_answered"
        due = next_prompt_at(consent, OptInRules.from_capabilities(caps))
        if due is None:
            return "prompted"
        return None if due <= now else due

    def _reserve(
        self,
        send: PlannedSend,
        caps: ChannelCapabilities,
        account: AccountState | None,
        mode: Mode,
        now: datetime,
        conversation: ConversationState | None = None,
    ) -> tuple[str, datetime] | None:
        """Take the send's places under every cap at once; ``(rule, retry at)`` if refused."""
        state = account or AccountState()
        wanted: list[tuple[Reservation, str, Callable[[], datetime]]] = []
        acct = send.account_id
        if caps.daily_recipient_cap is not None:
            day = state.local_day(now)
            wanted.append(
                (
                    Reservation(
                        f"daily/{acct}/{day.isoformat()}",
                        send.contact_id,
                        caps.daily_recipient_cap,
                        None,
                        2 * _DAY,
                    ),
                    "B11",
                    lambda: _next_midnight(now, state),
                )
            )
        tiers = caps.tiers
        if tiers is not None and mode is Mode.TEMPLATE:
            limit = tiers.limits[min(state.tier, len(tiers.limits) - 1)]
            # One count per portfolio (WhatsApp from 2025-10-07, P4): a store's tenant is
            # one business, so its numbers on the channel share it.
            key = f"tier/{send.channel.value}" if tiers.scope == "portfolio" else f"tier/{acct}"
            window = tiers.rolling_window
            keep = max(window, tiers.upgrade_lookback)
            wanted.append(
                (
                    Reservation(key, send.contact_id, limit, window, keep),
                    "B13",
                    lambda: self._first_free(key, window, now),
                )
            )
        if send.kind is SendKind.MESSAGE:
            # Every marketing message is counted, capped or not: a later broadcast's cap
            # sees the messages of earlier ones (X4, across broadcasts).
            cap = self.header.frequency_cap
            key_f = f"freq/{send.contact_id}"
            period = None if cap is None else cap.period
            keep = FREQUENCY_KEEP if period is None else max(period, FREQUENCY_KEEP)
            wanted.append(
                (
                    Reservation(
                        key_f, send.key, None if cap is None else cap.messages, period, keep
                    ),
                    "X4",
                    lambda: self._first_free(key_f, period or keep, now),
                )
            )
            if send.channel in PHONE_CHANNELS:
                regions = self.profile.capabilities(send.channel, as_of=now).regions
                wanted.extend(region_caps(regions, send, now, self._first_free))
        free = caps.chatbot_free_per_month
        if mode is Mode.CHATBOT_INITIATED and free is not None and not state.paid_chatbot_terms:
            local = now.astimezone(state.timezone)
            wanted.append(
                (
                    Reservation(
                        f"chatbot/{acct}/{local.year:04d}-{local.month:02d}",
                        send.key,
                        free,
                        None,
                        timedelta(days=32),
                    ),
                    "W6",
                    lambda: next_month(now, state),
                )
            )
        quota = caps.monthly_quota
        if (
            quota is not None
            and not state.paid_extra_messages
            and counts_against_quota(caps, conversation or _NEVER_WROTE, now=now)
        ):
            # LINE's monthly plan quota (P11), shared by every worker of the account;
            # the account's own count is of messages sent outside this store.
            left = quota - state.quota_count_at(now)
            if left <= 0:
                return "P11", next_month(now, state)
            local = now.astimezone(state.timezone)
            wanted.append(
                (
                    Reservation(
                        f"quota/{acct}/{local.year:04d}-{local.month:02d}",
                        send.key,
                        left,
                        None,
                        timedelta(days=32),
                    ),
                    "P11",
                    lambda: next_month(now, state),
                )
            )
        if not wanted:
            return None
        refused = self.store.reserve([w[0] for w in wanted], now)
        if refused < 0:
            return None
        _, rule, again = wanted[refused]
        return rule, again()

    def _first_free(self, key: str, window: timedelta, now: datetime) -> datetime:
        members = self.store.members(key, now - window)
        if not members:
            return now + timedelta(minutes=1)
        return members[0][1] + window + timedelta(microseconds=1)

    def _defer(self, version: int, entry: LedgerEntry, now: datetime, at: datetime) -> Settled:
        moved = update_entry(
            self.store,
            version,
            entry,
            status=LedgerStatus.DEFERRED,
            retry_at=at,
            updated_at=now,
            owner=None,
            lease_until=None,
        )
        return Settled(None, at if moved is not None else now)

    def _settle(
        self,
        version: int,
        entry: LedgerEntry,
        now: datetime,
        status: LedgerStatus,
        reason: str | None,
        rule: str | None,
        **more: object,
    ) -> Settled:
        moved = update_entry(
            self.store,
            version,
            entry,
            status=status,
            reason=reason,
            rule=rule,
            updated_at=now,
            owner=None,
            lease_until=None,
            retry_at=None,
            **more,
        )
        return Settled(moved[1] if moved is not None else None, None if moved else now)

    # --- after the transport ---------------------------------------------------------

    def record(self, ready: Ready, answer: object, now: datetime) -> Settled:
        """Record the transport's answer (or what it raised) for a :class:`Ready` send.

        A result for another key, or anything but a result, says nothing of whether
        the message went: the send is uncertain (or tried again, for an idempotent
        transport).
        """
        version, entry, send = ready.version, ready.entry, ready.send
        if isinstance(answer, SendResult) and answer.idempotency_key != send.key:
            answer = TransportError(
                f"the transport answered for key {shown(answer.idempotency_key)}, not this send"
            )
        elif not isinstance(answer, SendResult | BaseException):
            answer = TransportError(
                f"the transport returned {type(answer).__name__}, not a SendResult"
            )
        if isinstance(answer, SendResult):
            if answer.status is SendStatus.ACCEPTED:
                result = self._finish(
                    version,
                    entry,
                    now,
                    LedgerStatus.SENT,
                    None,
                    None,
                    provider_message_id=answer.provider_message_id,
                    error=None,
                )
                if result.entry is not None and result.entry.status is LedgerStatus.SENT:
                    self._after_sent(send, now)
                return result
            if answer.status is SendStatus.REJECTED:
                return self._finish(
                    version, entry, now, LedgerStatus.FAILED, "rejected", "B15", error=answer.error
                )
            return self._retry(version, entry, now, answer.error, answer.retry_after)
        if isinstance(answer, TransportError):
            if self.idempotent:
                return self._retry(version, entry, now, _words(answer), None, uncertain=True)
            return self._finish(
                version, entry, now, LedgerStatus.UNCERTAIN, "no_answer", "X5", error=_words(answer)
            )
        words = f"the transport raised {type(answer).__name__}: {_words(answer)}"
        return self._finish(
            version, entry, now, LedgerStatus.FAILED, "transport_crashed", "B15", error=words
        )

    def _retry(
        self,
        version: int,
        entry: LedgerEntry,
        now: datetime,
        error: str | None,
        after: timedelta | None,
        *,
        uncertain: bool = False,
    ) -> Settled:
        """Try again later with backoff and jitter; out of tries or time, give up.

        ``uncertain``: the failures left unknown whether the message went (an
        idempotent transport without an answer), so giving up leaves it uncertain.
        """
        if uncertain:
            status, reason, rule = LedgerStatus.UNCERTAIN, "no_answer", "X5"
        else:
            status, reason, rule = LedgerStatus.FAILED, "retries_exhausted", "B15"
        if entry.attempts >= self.max_attempts:
            return self._finish(version, entry, now, status, reason, rule, error=error)
        step = self.backoff * (2 ** min(max(entry.attempts - 1, 0), 30))
        wait = min(step, self.max_backoff) * (0.5 + self.rng.random() / 2)
        if after is not None and after > wait:
            wait = after
        left = self.header.ends_by - now
        if wait >= left:
            rule = "B10" if not uncertain else rule
            return self._finish(version, entry, now, status, reason, rule, error=error)
        at = now + wait
        return self._finish(
            version, entry, now, LedgerStatus.DEFERRED, None, None, error=error, retry_at=at
        )

    def _finish(
        self,
        version: int,
        entry: LedgerEntry,
        now: datetime,
        status: LedgerStatus,
        reason: str | None,
        rule: str | None,
        **more: object,
    ) -> Settled:
        """Write the answer; a send marked uncertain meanwhile is overwritten (we know)."""
        changes: dict[str, object] = {
            "status": status,
            "reason": reason,
            "rule": rule,
            "updated_at": now,
            "owner": None,
            "lease_until": None,
            "retry_at": None,
            **more,
        }
        for _ in attempts("recording a send's answer"):
            moved = update_entry(self.store, version, entry, **changes)
            if moved is not None:
                again = moved[1].retry_at if status is LedgerStatus.DEFERRED else None
                return Settled(None if again else moved[1], again)
            found = self.store.get_record("ledger", entry.key)
            if found is None:
                return Settled(None, None)
            current = decode_entry(entry.key, found[1])
            mine = current.status is LedgerStatus.SENDING and current.owner == self.owner
            if not (mine or current.status is LedgerStatus.UNCERTAIN):
                return Settled(current if current.final else None, None)
            version, entry = found[0], current
        raise AssertionError("attempts() raises when it runs out")  # pragma: no cover

    def _after_sent(self, send: PlannedSend, now: datetime) -> None:
        """Count the send in the conversation (W5) and move the opt-in state (B12)."""
        key = conversation_key(send.contact_id, send.account_id)
        store = self.store
        prompt = send.kind is not SendKind.MESSAGE
        for _ in attempts("counting a send in its conversation"):
            found = store.get_record("conversation", key)
            if found is None and not prompt:
                return  # the store knows nothing of this conversation: the plan's word stands
            state, events = (
                (ConversationState(), ()) if found is None else decode_conversation(key, found[1])
            )
            state = state.after_outbound(now)
            if prompt:
                rules = OptInRules.from_capabilities(self.caps(send, now))
                if send.kind is SendKind.PROMPT:
                    consent, _ = request_broadcast(
                        state.consent, self.header.broadcast_id, rules, now=now
                    )
                else:
                    consent, _ = tick(state.consent, rules, now=now)
                state = attrs.evolve(state, consent=consent)
            text = encode_conversation(state, events[-_EVENTS_KEPT:])
            if store.put_record("conversation", key, None if found is None else found[0], text):
                return


def _words(exc: BaseException) -> str:
    """What an exception says, at most 500 characters; its type when saying fails."""
    try:
        text = str(exc)
    except Exception:
        return type(exc).__name__
    return text[:500] if isinstance(text, str) else type(exc).__name__


def _next_midnight(now: datetime, account: AccountState) -> datetime:
    local = now.astimezone(account.timezone)
    day = local.date() + _DAY
    zone = account.timezone
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    if isinstance(zone, ZoneInfo):
        start = start.replace(fold=0)
    return start.astimezone(now.tzinfo)
