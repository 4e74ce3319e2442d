"""Any plan omnimsg made and dispatched is clean under the auditor (SPEC W2, W5, B11,
B12, B13, P4, P5, P9, P11, P12, X1, X2, X4, X5).

The property behind tests/audit/test_dispatched.py, over random scenarios: contacts on
WhatsApp, SMS (US numbers with Florida's 305 and Oklahoma's 918 among others, and
foreign ones), Telegram, Viber, WeChat, LINE and Messenger, some of whom wrote lately
(an open window), some opted in or out per account, some with a time zone; a draft
of one to three messages per channel, with or without a rate, a frequency cap and
the draft's own quiet hours, targeting the last interacted channel or one account;
the official profile, or one derived with small caps (daily recipients, tiers,
Viber's unanswered cap, LINE's quota, WeChat's window cap), with or without a double
opt-in; a ``now`` from 2021 to 2027, often a few days before a rule or a clock
changes; accounts with their own zone and tier; a store that does or does not hold
the conversations (the dispatcher decides again only on those it holds).

The plan is dispatched with a clock the injected ``sleep`` moves; the log is the
inbound messages that opened the windows, an SMS STOP from each contact whose consent
says unsubscribed, then every request as it went, a broadcast's messages marked
marketing (or, in a third of the scenarios, nothing marked: a sender that does not
mark its traffic), its prompts and reminders not (B7). Audited with the same profile,
contacts, accounts and frequency cap, it yields nothing; no message went twice (X5)
or unplanned, or before its planned instant.

Two counterexamples this property found are pinned where they were fixed:
tests/broadcasts/test_unanswered_cap_plan.py (the planner now spaces a recipient's
messages under Viber's unanswered cap, P9) and tests/delivery/test_recipient_spacing.py
(the dispatcher keeps a recipient's messages apart and in order when one is deferred
or retried, P5).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from broadcasts.plan_strategies import ZONES, quiet_hours, rates
from omnimsg import load_profile
from omnimsg.audit import Direction, LogEntry, Violation, audit_log, entry_from_request
from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    Draft,
    FrequencyCap,
    Plan,
    PlannedSend,
    Schedule,
    Sender,
    Targeting,
    plan_broadcast,
)
from omnimsg.broadcasts.outcomes import SendKind
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.state import AccountState, SubscriptionStatus, conversation_state
from omnimsg.stores.memory import MemoryStore
from omnimsg.transports import SendRequest

from .builders import dispatch_recorded

K = ChannelKind

OFFICIAL = load_profile("official")
SMALL = OFFICIAL.derive(
    "official-small",
    {
        "channels": {
            "telegram": {"daily_recipient_cap": 2},  # B11
            "viber": {"unanswered_cap": 2},  # P9
            "sms": {"daily_recipient_cap": 4},  # B11
            "line": {"monthly_quota": 6},  # P11
            "wechat": {"window_outbound_cap": 2},  # W5, P8
            "whatsapp": {"tiers": {"limits": [3, 10, "unlimited"]}},  # B13, P2-P4
        }
    },
)
OPT_IN = SMALL.derive(
    "official-small-opt-in",
    {
        "channels": {
            channel: {
                "double_opt_in": {
                    "yes_replies": ["S"],
                    "no_replies": ["N"],
                    "reminder_after": "24h",
                    "max_prompts": 2,
                    "prompt": "Reply S to subscribe or N to decline.",
                }
            }
            for channel in ("sms", "whatsapp", "viber")
        }
    },
)
"""Small caps, and a double opt-in (B12) where consent is missing: prompts and
reminders that are no marketing (B7)."""
KINDS = (K.WHATSAPP, K.SMS, K.TELEGRAM, K.VIBER, K.WECHAT, K.LINE, K.MESSENGER)
PHONE_KINDS = frozenset({K.WHATSAPP, K.SMS})
EARLIEST = datetime(2021, 1, 1, tzinfo=UTC)
LATEST = datetime(2027, 12, 31, 23, 59, tzinfo=UTC)
CHANGES = tuple(
    datetime(*day, tzinfo=UTC)
    for day in (
        (2021, 7, 1),  # Florida's hours and cap (P12)
        (2022, 11, 1),  # Oklahoma's (P12)
        (2023, 6, 1),  # LINE's free quota falls to 200 (P11)
        (2023, 6, 12),  # WeChat's window cap falls to 5 (P8)
        (2023, 11, 1),  # WhatsApp's v2 limits (P3)
        (2025, 4, 11),  # an SMS opt-out ends every message (P13)
        (2025, 10, 7),  # WhatsApp's portfolio limits (P4)
        (2026, 3, 8),  # the US springs forward
        (2026, 11, 1),  # the US falls back
    )
)
"""Dates a rule or a clock changes: a plan made a few days before runs across them."""
_MINUTES = (LATEST - EARLIEST) // timedelta(minutes=1)
_NOWS = st.builds(
    lambda minutes: EARLIEST + timedelta(minutes=minutes), st.integers(0, _MINUTES)
) | st.builds(
    lambda change, minutes: change - timedelta(minutes=minutes),
    st.sampled_from(CHANGES),
    st.integers(0, 4 * 24 * 60),
)
_ACCOUNTS = st.builds(
    AccountState,
    timezone=st.sampled_from(ZONES),
    tier=st.integers(0, 1),
    quality_low=st.booleans(),
)

PHONES = (
    "+1212555{:04d}",  # New York
    "+1305555{:04d}",  # Florida (P12 from 2021-07-01)
    "+1918555{:04d}",  # Oklahoma (P12 from 2022-11-01)
    "+1415555{:04d}",  # California
    "+1405555{:04d}",  # Oklahoma City
    "+1786555{:04d}",  # Miami
    "+34611{:06d}",  # Spain
    "+447700{:06d}",  # the United Kingdom
    "+8190{:08d}",  # Japan
)
_STATUSES = (
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.NOT_ASKED,
    SubscriptionStatus.DECLINED,
    SubscriptionStatus.UNSUBSCRIBED,
)
_TEXTS = (
    "Winter sale: 20% off",
    'Hi {{ first_name | "there" }}, new arrivals',
    "Ends Sunday. Reply STOP to opt out",
    "Última oportunidad: 30 % de descuento",
)


def _contact(cid: str, seed: int, senders: tuple[Sender, ...], now: datetime) -> Contact:
    """One contact from a seed: a phone, identities on some senders (some of them
    written from lately), consent per account, maybe a time zone."""
    rnd = random.Random(seed)
    phone = rnd.choice(PHONES).format(rnd.randrange(10_000)) if rnd.random() < 0.85 else None
    identities = []
    for sender in senders:
        if rnd.random() < 0.2:
            continue
        if sender.channel in PHONE_KINDS:
            if phone is None:
                continue
            external = phone
        else:
            external = f"{sender.channel.value}-{cid}"
        wrote = None
        if rnd.random() < 0.6:
            wrote = now - timedelta(minutes=rnd.randint(1, rnd.choice([90, 30 * 60, 10 * 24 * 60])))
        identities.append(
            ChannelIdentity(
                account_id=sender.account_id,
                channel=sender.channel,
                external_id=external,
                last_inbound_at=wrote,
            )
        )
    subscriptions = {
        sender.account_id: rnd.choice(_STATUSES) for sender in senders if rnd.random() < 0.7
    }
    kinds = sorted({s.channel for s in senders})
    return Contact(
        id=cid,
        first_name=rnd.choice([None, "Ann", "Zoë"]),
        phone=phone,
        timezone=rnd.choice([None, None, None, *ZONES]),
        last_interacted_channel=rnd.choice([None, *kinds, *kinds]),
        identities=tuple(identities),
        subscriptions=subscriptions,
    )


class Scenario:
    """One planning problem, with a short repr for a failing example."""

    def __init__(
        self,
        profile: Profile,
        draft: Draft,
        contacts: list[Contact],
        now: datetime,
        accounts: dict[str, AccountState],
        marketing: bool,
        fed: bool = False,
    ) -> None:
        self.profile = profile
        self.draft = draft
        self.contacts = contacts
        self.now = now
        self.accounts = accounts
        self.marketing = marketing
        self.fed = fed

    def __repr__(self) -> str:
        d = self.draft
        lines = [
            f"profile={self.profile.name} now={self.now.isoformat()} "
            f"marketing={self.marketing} fed={self.fed}",
            f"targeting={d.targeting.value} account={d.account} channels="
            f"{sorted(k.value for k in d.channels or ())} only_interacted={d.only_interacted}",
            f"senders={[(s.account_id, s.channel.value) for s in d.senders]}",
            *(
                f"  {name}: tz={a.timezone} tier={a.tier} quality_low={a.quality_low}"
                for name, a in self.accounts.items()
            ),
            f"start={d.schedule.start} rate={d.rate} quiet={d.quiet_hours} cap={d.frequency_cap}",
            *(
                f"  {kind.value}: {[(m.text, m.template, m.tag) for m in messages]}"
                for kind, messages in d.content.items()
            ),
        ]
        for c in self.contacts:
            ids = [
                (i.account_id, i.external_id, i.last_inbound_at and i.last_inbound_at.isoformat())
                for i in c.identities
            ]
            subs = {a: s.status.value for a, s in c.subscriptions.items()}
            last = c.last_interacted_channel and c.last_interacted_channel.value
            lines.append(f"  {c.id} {c.phone} tz={c.timezone} last={last} {ids} {subs}")
        return "\n".join(lines)

    def plan(self) -> Plan:
        """The scenario planned (a plan is read once: each call plans it again)."""
        return plan_broadcast(
            self.draft,
            self.contacts,
            profile=self.profile,
            now=self.now,
            accounts=self.accounts,
        )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A profile, a draft, its audience, the instant of planning, and whether the log
    marks the broadcast's messages as marketing."""
    profile = draw(st.sampled_from([OFFICIAL, OFFICIAL, SMALL, OPT_IN]))
    now = draw(_NOWS)
    selected = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    kinds = list(selected) + draw(
        st.lists(st.sampled_from([k for k in selected if k in PHONE_KINDS] or selected), max_size=1)
    )
    senders = tuple(Sender(f"{kind.value}-{n}", kind) for n, kind in enumerate(kinds))
    content: dict[ChannelKind, tuple[BroadcastMessage, ...]] = {}
    for kind in selected:
        count = draw(st.integers(1, 3))
        template = f"offer_{count}" if kind is K.WHATSAPP and draw(st.booleans()) else None
        tag = "ACCOUNT_UPDATE" if kind is K.MESSENGER and draw(st.booleans()) else None
        texts = draw(st.lists(st.sampled_from(_TEXTS), min_size=count, max_size=count))
        content[kind] = tuple(
            BroadcastMessage(text=f"{text} ({n + 1})", template=template, tag=tag)
            for n, text in enumerate(texts)
        )
    targeting = draw(st.sampled_from([Targeting.LAST_INTERACTED, Targeting.ACCOUNT]))
    account = draw(st.sampled_from(senders))
    if targeting is Targeting.ACCOUNT:
        content = {account.channel: content[account.channel]}
    start = draw(st.none() | st.integers(-60, 36 * 60))
    draft = Draft(
        id=draw(st.sampled_from(["bc-1", "bc-2"])),
        name="property broadcast",
        audience=Audience(),
        content=content,
        senders=senders,
        targeting=targeting,
        account=account.account_id if targeting is Targeting.ACCOUNT else None,
        channels=frozenset(selected) if targeting is Targeting.LAST_INTERACTED else None,
        only_interacted=draw(st.sampled_from([False, False, False, True])),
        schedule=Schedule(start=None if start is None else now + timedelta(minutes=start)),
        rate=draw(st.none() | rates()),
        quiet_hours=draw(st.none() | quiet_hours()),
        frequency_cap=draw(
            st.none()
            | st.builds(
                FrequencyCap,
                messages=st.integers(1, 3),
                period=st.sampled_from([timedelta(hours=12), timedelta(days=1), timedelta(days=7)]),
            )
        ),
    )
    seed = draw(st.integers(0, 2**32))
    contacts = [
        _contact(f"c{n:02d}", seed * 20 + n, senders, now) for n in range(draw(st.integers(4, 20)))
    ]
    accounts = {
        sender.account_id: state
        for sender in senders
        if (state := draw(st.none() | _ACCOUNTS)) is not None
    }
    marketing = draw(st.sampled_from([True, True, False]))
    fed = draw(st.booleans())
    return Scenario(profile, draft, contacts, now, accounts, marketing, fed)


def _dispatched(
    scenario: Scenario,
) -> tuple[dict[str, PlannedSend], list[tuple[datetime, SendRequest]]]:
    """The planned sends by key, and every request with the instant it went."""
    planned = {send.key: send for outcome in scenario.plan() for send in outcome.sends}
    store = MemoryStore()
    if scenario.fed:
        # The store knows each conversation, as webhooks would have fed it: the
        # dispatcher decides every send again on it.
        for contact in scenario.contacts:
            for sender in scenario.draft.senders:
                state = conversation_state(contact, sender.account_id)
                store.put_conversation(contact.id, sender.account_id, state)
    sent = dispatch_recorded(scenario.plan(), scenario.now, store=store, accounts=scenario.accounts)
    return planned, sent


def _log(
    scenario: Scenario,
    planned: dict[str, PlannedSend],
    sent: list[tuple[datetime, SendRequest]],
) -> list[LogEntry]:
    """The inbound messages that opened the windows, an SMS STOP from each contact
    whose consent there says unsubscribed (X1), then every request as it went (a
    broadcast's messages are marketing, its double opt-in prompts are not, B7)."""
    opened = [
        LogEntry(
            at=identity.last_inbound_at,
            direction=Direction.INBOUND,
            channel=identity.channel,
            account=identity.account_id,
            contact=contact.id,
            text="Hello",
        )
        for contact in scenario.contacts
        for identity in contact.identities
        if identity.last_inbound_at is not None
    ]
    stopped = [
        LogEntry(
            at=scenario.now - timedelta(days=2),
            direction=Direction.INBOUND,
            channel=K.SMS,
            account=sender.account_id,
            contact=contact.id,
            text="STOP",
        )
        for contact in scenario.contacts
        for sender in scenario.draft.senders
        if sender.channel is K.SMS
        and (consent := contact.subscriptions.get(sender.account_id)) is not None
        and consent.status is SubscriptionStatus.UNSUBSCRIBED
    ]
    went = [
        entry_from_request(
            request,
            at,
            marketing=scenario.marketing
            and planned[request.idempotency_key].kind is SendKind.MESSAGE,
        )
        for at, request in sent
    ]
    return sorted([*opened, *stopped, *went], key=lambda entry: entry.at)


def _shown(found: list[Violation]) -> str:
    return "\n".join(
        f"{v.rule} {v.entry.at.isoformat()} {v.entry.channel} {v.entry.account} "
        f"{v.entry.contact}: {v.detail}"
        for v in found
    )


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_a_dispatched_plan_is_clean_under_the_auditor(scenario: Scenario) -> None:
    planned, sent = _dispatched(scenario)
    keys = Counter(request.idempotency_key for _, request in sent)
    # Nobody is sent the same message twice (X5), and every message sent was planned.
    assert all(n == 1 for n in keys.values()), keys.most_common(3)
    assert set(keys) <= set(planned)
    for at, request in sent:
        send = planned[request.idempotency_key]
        assert (request.account_id, request.contact_id) == (send.account_id, send.contact_id)
        assert at >= send.not_before
    found = list(
        audit_log(
            _log(scenario, planned, sent),
            scenario.profile,
            contacts=scenario.contacts,
            accounts=scenario.accounts,
            frequency_cap=scenario.draft.frequency_cap,
        )
    )
    assert found == [], _shown(found)
