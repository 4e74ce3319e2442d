"""The checks behind ``assert_plan_respects``: a plan's sends, measured again.

Each check recomputes a promise of the planner from the planned sends alone, with
:mod:`zoneinfo`, the phone's zones and counting, and decides every message again
with :func:`omnimsg.decide`; it returns what it found broken as :class:`Breach`
values and raises nothing for a breach. Where the planner's rule depends on history
the plan does not carry (a WhatsApp tier's upgrades), the check takes the most
lenient reading, so a plan omnimsg made never fails it.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta, tzinfo
from fractions import Fraction
from typing import NamedTuple

from omnimsg.broadcasts.lanes import zone_of
from omnimsg.broadcasts.model import Draft
from omnimsg.broadcasts.outcomes import ContactOutcome, PlannedSend, SendKind
from omnimsg.broadcasts.plan import PHONE_CHANNELS, SEVEN_DAYS
from omnimsg.broadcasts.regions import matching_regions
from omnimsg.channels.capabilities import ChannelCapabilities, QuietHours, TierPolicy
from omnimsg.channels.kinds import Mode
from omnimsg.channels.registry import Profile
from omnimsg.contacts import Contact
from omnimsg.phones import prefix_time_zones
from omnimsg.policy.decision import Message, decide
from omnimsg.policy.reasons import REASONS
from omnimsg.protocols import StateStore
from omnimsg.state import AccountState, ConversationState, SenderUsage, conversation_state

__all__ = ["Breach", "PlanContext", "breaches"]


class Breach(NamedTuple):
    """One planned send that breaks a rule: the rule id, the send and what is wrong."""

    rule: str
    send: PlannedSend
    detail: str


class PlanContext(NamedTuple):
    """What the plan was made from, as far as the checks need it."""

    profile: Profile
    start: datetime
    draft: Draft | None
    contacts: Mapping[str, Contact]
    accounts: Mapping[str, AccountState]
    usage: Mapping[str, SenderUsage]
    history: Mapping[str, Iterable[datetime]]
    state: StateStore | None

    def caps(self, send: PlannedSend) -> ChannelCapabilities:
        """The channel's capabilities at the plan's start (what the planner used)."""
        return self.profile.capabilities(send.channel, as_of=self.start)

    def account(self, account_id: str) -> AccountState:
        """The account's state, or the default one."""
        return self.accounts.get(account_id) or AccountState()


def breaches(outcomes: Iterable[ContactOutcome], ctx: PlanContext) -> list[Breach]:
    """Every breach found in the sends of ``outcomes``, in check order."""
    sends = [send for outcome in outcomes for send in outcome.sends]
    found: list[Breach] = []
    found += _unknown_and_period(sends, ctx)
    found += _channels(sends, ctx)
    defined = [s for s in sends if s.channel in ctx.profile.kinds]
    known = [s for s in defined if s.contact_id in ctx.contacts]
    found += _decided_again(known, ctx)
    found += _quiet_hours(known, ctx)
    found += _daily_caps(defined, ctx)
    found += _tiers(known, ctx)
    found += _rates(defined, ctx)
    found += _frequency_cap(sends, ctx)
    return found


def _channels(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """W8, B4, B16, P15: each send on a channel the profile defines (its channels are
    its data), with broadcasts, and not retired at the plan's start."""
    found = []
    kinds = set(ctx.profile.kinds)
    name = ctx.profile.name
    for send in sends:
        kind = send.channel.value
        if send.channel not in kinds:
            found.append(Breach("W8", send, f"profile {name!r} does not define channel {kind!r}"))
            continue
        caps = ctx.caps(send)
        if caps.retired:
            found.append(Breach("P15", send, f"channel {kind!r} is retired in profile {name!r}"))
        elif not caps.broadcasts:
            rule = "B4" if "B4" in caps.sources else "B16"
            found.append(
                Breach(rule, send, f"channel {kind!r} has no broadcasts in profile {name!r}")
            )
    return found


def _unknown_and_period(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    found = []
    end = ctx.start + SEVEN_DAYS
    for send in sends:
        if send.contact_id not in ctx.contacts:
            found.append(Breach("A2", send, "the contact is not among the contacts given"))
        if not ctx.start <= send.not_before < end:
            found.append(
                Breach(
                    "B10",
                    send,
                    f"planned at {send.not_before.isoformat()}, outside the 7 days from "
                    f"{ctx.start.isoformat()}",
                )
            )
    return found


def _conversation(ctx: PlanContext, contact: Contact, account_id: str) -> ConversationState:
    if ctx.state is not None:
        stored = ctx.state.get_conversation(contact.id, account_id)
        if stored is not None:
            return stored
    return conversation_state(contact, account_id)


def _decided_again(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """Windows, modes, opt-outs, tags, templates and content (W1-W8, X1, B12, C1-C6):
    each message decided again at its instant, with the contact's state after the
    plan's earlier sends to it (W5 counts them) and the account's free
    chatbot-initiated messages used by the plan's earlier sends (W6)."""
    found = []
    states: dict[tuple[str, str], ConversationState] = {}
    chatbot_used: Counter[tuple[str, int, int]] = Counter()
    for send in sorted(sends, key=lambda s: s.not_before):
        contact = ctx.contacts[send.contact_id]
        key = (contact.id, send.account_id)
        conversation = states.get(key)
        if conversation is None:
            conversation = _conversation(ctx, contact, send.account_id)
        states[key] = conversation.after_outbound(send.not_before)
        if send.kind is not SendKind.MESSAGE:
            continue
        message = Message(
            text=send.text, template=send.template, tag=send.tag, marketing=True, broadcast=True
        )
        account = ctx.account(send.account_id)
        decision = decide(
            ctx.caps(send), conversation, message, now=send.not_before, account=account
        )
        if not decision.allowed and decision.retry_at is None:
            words = REASONS[decision.reason].words
            found.append(
                Breach(decision.rule, send, f"decided again: refused, {decision.reason}: {words}")
            )
        elif (
            decision.allowed
            and decision.mode is Mode.CHATBOT_INITIATED
            and decision.remaining_in_window is not None
        ):
            month = send.not_before.astimezone(account.timezone)
            used_key = (send.account_id, month.year, month.month)
            if chatbot_used[used_key] >= decision.remaining_in_window and not (
                account.paid_chatbot_terms
            ):
                found.append(
                    Breach(
                        "W6",
                        send,
                        f"chatbot-initiated message {chatbot_used[used_key] + 1} of the plan "
                        f"on {send.account_id} this month, over the "
                        f"{decision.remaining_in_window} free ones left, without paid terms",
                    )
                )
            chatbot_used[used_key] += 1
    return found


def zones_of(contact: Contact, account: AccountState) -> tuple[tzinfo, ...]:
    """The zones a recipient may be in (X2): its own, else its phone's, else the account's."""
    if contact.timezone and (own := zone_of(contact.timezone)) is not None:
        return (own,)
    if contact.phone:
        found = tuple(z for z in (zone_of(n) for n in prefix_time_zones(contact.phone)) if z)
        if found:
            return found
    return (account.timezone,)


def _allowed(local: time, rule: QuietHours) -> bool:
    if rule.start == rule.end:
        return True
    if rule.start < rule.end:
        return rule.start <= local < rule.end
    return local >= rule.start or local < rule.end


def _rules(send: PlannedSend, contact: Contact, ctx: PlanContext) -> list[QuietHours]:
    caps = ctx.caps(send)
    rules: list[QuietHours] = []
    number = send.address if send.channel in PHONE_CHANNELS else None
    number = number or contact.phone
    regions = matching_regions(caps.regions, number) if number and caps.regions else ()
    regional = [rule.quiet_hours for _, rule in regions if rule.quiet_hours is not None]
    if regional:
        rules += regional
    elif caps.quiet_hours is not None:
        rules.append(caps.quiet_hours)
    if ctx.draft is not None and ctx.draft.quiet_hours is not None:
        rules.append(ctx.draft.quiet_hours)
    return rules


def _quiet_hours(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """X2, P12: every send within the allowed hours, in every zone of the recipient."""
    found = []
    for send in sends:
        contact = ctx.contacts[send.contact_id]
        rules = _rules(send, contact, ctx)
        if not rules:
            continue
        for where in zones_of(contact, ctx.account(send.account_id)):
            local = send.not_before.astimezone(where).time().replace(tzinfo=None)
            broken = next((r for r in rules if not _allowed(local, r)), None)
            if broken is not None:
                found.append(
                    Breach(
                        "X2",
                        send,
                        f"{local.isoformat('minutes')} local time ({where}) is outside the "
                        f"allowed hours {broken.start.isoformat('minutes')}-"
                        f"{broken.end.isoformat('minutes')}",
                    )
                )
                break
    return found


def _by_account(sends: Iterable[PlannedSend]) -> dict[str, list[PlannedSend]]:
    found: dict[str, list[PlannedSend]] = {}
    for send in sends:
        found.setdefault(send.account_id, []).append(send)
    return found


def _daily_caps(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """B11: distinct recipients per local day of the account, with what it sent that
    day already, within the daily cap."""
    found = []
    for account_id, mine in _by_account(sends).items():
        cap = ctx.caps(mine[0]).daily_recipient_cap
        if cap is None:
            continue
        zone = ctx.account(account_id).timezone
        usage = ctx.usage.get(account_id)
        days: dict[object, set[str]] = {}
        for send in sorted(mine, key=lambda s: s.not_before):
            day = send.not_before.astimezone(zone).date()
            seen = days.setdefault(day, set())
            seen.add(send.contact_id)
            already = 0 if usage is None else usage.recipients_on(day)
            if already + len(seen) > cap:
                found.append(
                    Breach(
                        "B11",
                        send,
                        f"recipient {already + len(seen)} of {account_id} on {day}, over its "
                        f"daily cap of {cap}",
                    )
                )
    return found


def _tiers(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """B13, P2-P4: unique business-initiated recipients in any rolling window within the
    tier's limit, with the accounts' earlier sends (a portfolio's tier is shared by its
    numbers: the lowest tier of theirs, all their sends)."""
    found = []
    groups: dict[str, list[PlannedSend]] = {}
    for send in sends:
        tiers = ctx.caps(send).tiers
        if tiers is None:
            continue
        key = f"channel {send.channel.value}" if tiers.scope == "portfolio" else send.account_id
        groups.setdefault(key, []).append(send)
    for key, mine in groups.items():
        caps = ctx.caps(mine[0])
        tiers = caps.tiers
        assert tiers is not None
        window = caps.window or timedelta(0)
        members = sorted({s.account_id for s in mine})
        states = [ctx.account(a) for a in members]
        prior = [
            (at, r)
            for a in members
            if (usage := ctx.usage.get(a)) is not None
            for at, r in usage.recent
        ]
        counted = []
        for send in mine:
            identity = ctx.contacts[send.contact_id].identity_on(send.account_id)
            last = None if identity is None else identity.last_inbound_at
            if tiers.replies_in_window_count or last is None or send.not_before >= last + window:
                counted.append(send)
        events: list[tuple[datetime, str, PlannedSend | None]] = sorted(
            [(at, r, None) for at, r in prior] + [(s.not_before, s.contact_id, s) for s in counted],
            key=lambda e: e[0],
        )
        found += _over_tier(key, events, tiers, _Start(states, bool(prior), ctx.start))
    return found


class _Start(NamedTuple):
    """Where a tier starts: the accounts sharing it, whether they sent before, when."""

    states: list[AccountState]
    sent_before: bool
    at: datetime

    def level(self, tiers: TierPolicy, at: datetime) -> int:
        """The highest tier reachable at ``at``: the most lenient reading of B14/P2-P4.

        No upgrade with low quality (or not high where the policy asks for high), nor
        below the verified tier (P3). Otherwise one upgrade per ``upgrade_delay`` from
        the start, and one more at once when earlier sends may have reached the
        threshold before the start.
        """
        top = len(tiers.limits) - 1
        tier = min(min(s.tier for s in self.states), top)
        low = any(s.quality_low for s in self.states)
        if tiers.quality_required == "high":
            low = low or any(s.quality != "high" for s in self.states)
        if low or (tiers.verified_tier is not None and tier < tiers.verified_tier):
            return tier
        steps = max(at - self.at, timedelta(0)) // tiers.upgrade_delay
        return min(tier + int(self.sent_before) + steps, top)


def _over_tier(
    key: str,
    events: list[tuple[datetime, str, PlannedSend | None]],
    tiers: TierPolicy,
    start: _Start,
) -> list[Breach]:
    """The planned sends of ``events`` (sorted) over the tier's limit in their window."""
    found = []
    window: deque[tuple[datetime, str]] = deque()
    inside: Counter[str] = Counter()
    for at, recipient, send in events:
        window.append((at, recipient))
        inside[recipient] += 1
        while window[0][0] <= at - tiers.rolling_window:
            _, gone = window.popleft()
            inside[gone] -= 1
            if not inside[gone]:
                del inside[gone]
        if send is None:
            continue
        limit = tiers.limits[start.level(tiers, at)]
        if limit is not None and len(inside) > limit:
            found.append(
                Breach(
                    "B13",
                    send,
                    f"{len(inside)} unique recipients for {key} in the {tiers.rolling_window} "
                    f"up to it, over the tier limit {limit}",
                )
            )
    return found


def _most_in_window(times: list[datetime], length: timedelta) -> tuple[int, datetime | None]:
    ordered = sorted(times)
    best, at, lo = 0, None, 0
    for hi, instant in enumerate(ordered):
        while ordered[lo] <= instant - length:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, instant
    return best, at


def _rates(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """B10, P5, P14: each account within the draft's rate and the channel's rate per second."""
    found = []
    rate = None if ctx.draft is None else ctx.draft.rate
    for account_id, mine in _by_account(sends).items():
        times = [s.not_before for s in mine]
        checks: list[tuple[int, timedelta, str]] = []
        if rate is not None:
            checks.append((rate.messages, rate.per, "the broadcast's rate"))
        per_second = ctx.caps(mine[0]).rate_per_second
        if per_second is not None and per_second < 1:
            checks.append((1, timedelta(seconds=1 / per_second), "the channel's rate"))
        elif per_second is not None:
            # 1.5 a second is 3 every 2 seconds (and 2 in any second): whole counts in
            # whole windows, never stricter than the rate.
            ratio = Fraction(per_second).limit_denominator(1000)
            if ratio < per_second:
                ratio = Fraction(math.ceil(per_second * 1000), 1000)
            checks.append(
                (ratio.numerator, timedelta(seconds=ratio.denominator), "the channel's rate")
            )
            if ratio.denominator > 1:
                checks.append((math.ceil(ratio), timedelta(seconds=1), "the channel's rate"))
        for most, per, what in checks:
            count, at = _most_in_window(times, per)
            if count > most:
                send = next(s for s in mine if s.not_before == at)
                found.append(
                    Breach(
                        "B10",
                        send,
                        f"{count} sends of {account_id} within {per} up to it, over {what} "
                        f"of {most} per {per}",
                    )
                )
    return found


def _frequency_cap(sends: list[PlannedSend], ctx: PlanContext) -> list[Breach]:
    """X4: a contact's earlier marketing messages in the cap's period and this plan's
    messages together within the draft's frequency cap."""
    cap = None if ctx.draft is None else ctx.draft.frequency_cap
    if cap is None:
        return []
    since = ctx.start - cap.period
    found = []
    counts: dict[str, list[PlannedSend]] = {}
    for send in sends:
        if send.kind is SendKind.MESSAGE:
            counts.setdefault(send.contact_id, []).append(send)
    for contact_id, mine in counts.items():
        earlier = sum(1 for at in ctx.history.get(contact_id, ()) if at > since)
        if earlier + len(mine) > cap.messages:
            found.append(
                Breach(
                    "X4",
                    mine[-1],
                    f"{earlier} earlier and {len(mine)} planned marketing messages, over the "
                    f"frequency cap of {cap.messages} per {cap.period}",
                )
            )
    return found
