"""Builders, independent checks and hypothesis strategies for the planner's tests.

The checks here recompute what the planner promises (rates, caps, tiers, quiet
hours) from the planned sends alone, with :mod:`zoneinfo` and :mod:`phonenumbers`
directly, so a test never trusts the planner's own arithmetic.
"""

from __future__ import annotations

import bisect
import io
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import phonenumbers
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezone

from omnimsg.broadcasts import (
    Audience,
    BroadcastMessage,
    ContactOutcome,
    Draft,
    FrequencyCap,
    Plan,
    PlannedSend,
    PlanSummary,
    Rate,
    Schedule,
    Sender,
    Targeting,
    plan_broadcast,
    write_plan,
)
from omnimsg.channels.capabilities import ChannelCapabilities, QuietHours
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile, load_profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.state import AccountState, OptInState, SenderUsage, SubscriptionStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
"""A Tuesday, 12:00 UTC: the instant most plans are made at."""

K = ChannelKind
RESPONDIO = load_profile("respondio")
LIVETEX = load_profile("livetex")
EXPERTCONNECT = load_profile("expertconnect")

RESPONDIO_BROADCAST_KINDS = tuple(
    kind for kind in RESPONDIO.kinds if RESPONDIO.capabilities(kind, as_of=NOW).broadcasts
)
"""respond.io's channels with broadcasts: the default selection of a draft (B3)."""


def derived(base: str, name: str, channels: Mapping[str, Mapping[str, Any]]) -> Profile:
    """A built-in profile with per-channel overrides."""
    return load_profile(base).derive(name, {"channels": {k: dict(v) for k, v in channels.items()}})


def ident(
    account: str,
    kind: ChannelKind,
    external: str,
    last_inbound: datetime | None = None,
) -> ChannelIdentity:
    """A contact's identity on one account."""
    return ChannelIdentity(
        account_id=account, channel=kind, external_id=external, last_inbound_at=last_inbound
    )


def person(
    cid: str,
    *,
    phone: str | None = None,
    tz: str | None = None,
    last: ChannelKind | None = None,
    identities: Iterable[ChannelIdentity] = (),
    subs: Mapping[str, OptInState | SubscriptionStatus | str] | None = None,
    first_name: str | None = "Ann",
) -> Contact:
    """A contact with the fields the planner reads."""
    return Contact(
        id=cid,
        first_name=first_name,
        phone=phone,
        timezone=tz,
        last_interacted_channel=last,
        identities=tuple(identities),
        subscriptions=dict(subs or {}),
    )


def phone_of(n: int, prefix: str = "+1415555") -> str:
    """A distinct valid phone number per ``n`` (US by default)."""
    return f"{prefix}{n:04d}"


def subscribed(*accounts: str) -> dict[str, SubscriptionStatus]:
    """Consent records: subscribed with each account (B12)."""
    return dict.fromkeys(accounts, SubscriptionStatus.SUBSCRIBED)


def messages(*texts: str, **extra: Any) -> tuple[BroadcastMessage, ...]:
    """One message per text, all with ``extra`` (template, tag, ...)."""
    return tuple(BroadcastMessage(text=text, **extra) for text in texts)


def make_draft(
    content: Mapping[ChannelKind, tuple[BroadcastMessage, ...]],
    senders: Sequence[Sender],
    *,
    draft_id: str = "bc-1",
    name: str = "Winter promo",
    audience: Audience | None = None,
    **extra: Any,
) -> Draft:
    """A draft with an audience of every contact unless told."""
    return Draft(
        id=draft_id,
        name=name,
        audience=audience if audience is not None else Audience(),
        content=dict(content),
        senders=tuple(senders),
        **extra,
    )


def respondio_draft(channels: Iterable[ChannelKind] | None = None, **extra: Any) -> Draft:
    """A respond.io draft with content and one sender (``<kind>-1``) per selected channel.

    ``channels=None`` keeps the default selection (every channel with broadcasts).
    """
    kinds = RESPONDIO_BROADCAST_KINDS if channels is None else tuple(channels)
    content = {kind: messages(f"hello on {kind.value}") for kind in kinds}
    content.update(extra.pop("content", {}))
    senders = extra.pop("senders", tuple(Sender(f"{kind.value}-1", kind) for kind in kinds))
    return make_draft(
        content,
        senders,
        channels=None if channels is None else frozenset(kinds),
        **extra,
    )


def run(plan: Plan) -> tuple[list[ContactOutcome], PlanSummary]:
    """Every outcome of a plan, and its summary."""
    outcomes = list(plan)
    return outcomes, plan.summary


def jsonl(plan: Plan) -> bytes:
    """A plan as the JSON Lines bytes it writes."""
    out = io.StringIO()
    write_plan(plan, out)
    return out.getvalue().encode("utf-8")


def sends_of(outcomes: Iterable[ContactOutcome]) -> list[PlannedSend]:
    """Every planned send (messages, prompts and reminders)."""
    return [send for outcome in outcomes for send in outcome.sends]


def by_id(outcomes: Iterable[ContactOutcome]) -> dict[str, ContactOutcome]:
    """Outcomes by audience entry (each entry once)."""
    found: dict[str, ContactOutcome] = {}
    for outcome in outcomes:
        assert outcome.entry not in found, f"{outcome.entry} twice"
        found[outcome.entry] = outcome
    return found


def outcome_kinds(outcomes: Iterable[ContactOutcome]) -> dict[str, tuple[str, str | None]]:
    """Each entry's outcome and reason, for readable assertions."""
    return {o.entry: (o.outcome.value, o.reason) for o in outcomes}


# --- independent checks -------------------------------------------------------------


def most_in_window(times: Iterable[datetime], length: timedelta) -> int:
    """The most instants any half-open window ``[a, a + length)`` holds."""
    ordered = sorted(times)
    best = 0
    lo = 0
    for hi, at in enumerate(ordered):
        while ordered[lo] <= at - length:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def most_unique_in_rolling(
    sends: Iterable[tuple[datetime, str]],
    window: timedelta,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """The most distinct recipients any rolling window ``(t - window, t]`` holds, for ``t``
    each send instant in ``[since, until)`` (every instant when unbounded)."""
    ordered = sorted(sends)
    best = 0
    instants = [at for at, _ in ordered]
    for at, _ in ordered:
        if (since is not None and at < since) or (until is not None and at >= until):
            continue
        lo = bisect.bisect_right(instants, at - window)
        hi = bisect.bisect_right(instants, at)
        best = max(best, len({r for _, r in ordered[lo:hi]}))
    return best


def recipients_per_local_day(sends: Iterable[PlannedSend], zone: ZoneInfo | Any) -> dict[date, int]:
    """Distinct contacts sent to (messages, prompts, reminders) per local day of ``zone``."""
    days: dict[date, set[str]] = {}
    for send in sends:
        day = send.not_before.astimezone(zone).date()
        days.setdefault(day, set()).add(send.contact_id)
    return {day: len(ids) for day, ids in days.items()}


def zone(name: str) -> ZoneInfo | None:
    """An IANA zone, or ``None`` for a name that is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def recipient_zones(contact: Contact, account_zone: Any) -> list[Any]:
    """The zones a recipient may be in (X2): its own, else its phone's, else the account's."""
    if contact.timezone and zone(contact.timezone) is not None:
        return [ZoneInfo(contact.timezone)]
    if contact.phone:
        try:
            number = phonenumbers.parse(contact.phone, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None:
            names = [
                n
                for n in phone_timezone.time_zones_for_number(number)
                if n != "Etc/Unknown" and zone(n) is not None
            ]
            if names:
                return [ZoneInfo(n) for n in names]
    return [account_zone]


def allowed_at(local: time, rule: QuietHours) -> bool:
    """Whether a local clock time lies in the allowed hours ``[start, end)``."""
    if rule.start == rule.end:
        return True
    if rule.start < rule.end:
        return rule.start <= local < rule.end
    return local >= rule.start or local < rule.end


def local_clock(instant: datetime, where: Any) -> time:
    """The wall clock at ``instant`` in ``where``."""
    return instant.astimezone(where).time().replace(tzinfo=None)


# --- strategies ------------------------------------------------------------------------

ZONES = (
    "UTC",
    "Europe/Madrid",
    "Europe/Moscow",
    "America/New_York",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/St_Johns",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
)
"""Zones with odd offsets, both hemispheres and several DST rules."""

PHONES = (
    ("+1415555", 4),  # US, one zone
    ("+1212555", 4),  # US, another
    ("+3461234", 4),  # Spain: Madrid and the Canaries
    ("+7916123", 4),  # Russia: a mobile number spans eleven zones
    ("+6141234", 4),  # Australia: a mobile number spans the continent
    ("+6421123", 4),  # New Zealand: Auckland and the Chatham Islands (+12:45)
    ("+9198123", 5),  # India
    ("+4915112", 6),  # Germany
    ("+819012", 6),  # Japan
)
"""Prefixes of valid numbers and how many digits complete them."""

NOWS = (
    datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 7, 20, 0, tzinfo=UTC),  # the US springs forward the next night
    datetime(2026, 3, 28, 22, 30, tzinfo=UTC),  # Europe springs forward
    datetime(2026, 4, 4, 10, 0, tzinfo=UTC),  # Sydney and Auckland fall back
    datetime(2026, 10, 3, 9, 15, tzinfo=UTC),  # Sydney springs forward
    datetime(2026, 10, 24, 23, 59, tzinfo=UTC),  # Europe falls back
    datetime(2026, 10, 31, 12, 0, tzinfo=UTC),  # the US falls back
    datetime(2027, 12, 31, 23, 0, tzinfo=UTC),  # across a new year
)


def _valid(phone: str) -> bool:
    return bool(phonenumbers.is_valid_number(phonenumbers.parse(phone, None)))


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours:
    """Allowed hours of at least three hours, possibly across midnight."""
    start = draw(st.integers(0, 23))
    length = draw(st.integers(3, 20))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    return QuietHours(start=time(start, minute), end=time((start + length) % 24, minute))


@st.composite
def rates(draw: st.DrawFn) -> Rate:
    """A draft rate per second, minute or hour."""
    per = draw(st.sampled_from([timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)]))
    limit = 6 if per == timedelta(hours=1) else 60
    return Rate(messages=draw(st.integers(1, limit)), per=per)


def durations(*, most: timedelta) -> st.SearchStrategy[timedelta]:
    """A duration from zero to ``most``, in whole minutes."""
    return st.integers(0, most // timedelta(minutes=1)).map(lambda m: timedelta(minutes=m))


_MIX_SMS = {
    "daily_recipient_cap": 3,
    "rate_per_second": 0.01,
    "double_opt_in": {"yes_replies": ["S"], "no_replies": ["N"], "prompt": "Reply S or N"},
    "quiet_hours": {"start": "08:00", "end": "21:00"},
}
FAMILIES: tuple[tuple[Profile, tuple[ChannelKind, ...]], ...] = (
    (
        derived(
            "livetex",
            "mixed-small",
            {"sms": _MIX_SMS, "whatsapp": {"tiers": {"limits": [3, 6, 12]}}},
        ),
        (K.SMS, K.WHATSAPP, K.TELEGRAM, K.VIBER),
    ),
    (
        derived(
            "livetex",
            "mixed-paced",
            {
                "sms": {"daily_recipient_cap": 5},
                "whatsapp": {
                    "tiers": {"limits": [2, 4, 8], "upgrade_factor": 1.5},
                    "rate_per_second": 0.05,
                    "quiet_hours": {"start": "09:00", "end": "20:00"},
                },
            },
        ),
        (K.SMS, K.WHATSAPP, K.TELEGRAM),
    ),
    (RESPONDIO, (K.SMS, K.WHATSAPP, K.TELEGRAM, K.VIBER, K.WECHAT)),
    (
        derived("expertconnect", "expertconnect-small", {"sms": {"daily_recipient_cap": 4}}),
        (K.SMS,),
    ),
    (EXPERTCONNECT, (K.SMS,)),
)
"""Profiles the properties plan on, each with the channels a draft may select.

Small caps and tiers make the limits bite with audiences of a few dozen contacts."""

PHONE_KINDS = frozenset({K.SMS, K.WHATSAPP})


@attrs.frozen
class Scenario:
    """One planning problem: a draft, an audience and the senders' state."""

    profile: Profile
    draft: Draft
    contacts: tuple[Contact, ...]
    now: datetime
    accounts: Mapping[str, AccountState]
    usage: Mapping[str, SenderUsage]
    history: Mapping[str, tuple[datetime, ...]]
    batch_size: int = 500

    def plan(self) -> Plan:
        """Plan the scenario."""
        return plan_broadcast(
            self.draft,
            list(self.contacts),
            profile=self.profile,
            now=self.now,
            accounts=dict(self.accounts),
            usage=dict(self.usage),
            history=dict(self.history),
            batch_size=self.batch_size,
        )

    def account(self, account_id: str) -> AccountState:
        """The state the planner reads for an account (the default when none is given)."""
        return self.accounts.get(account_id) or AccountState()

    def caps(self, kind: ChannelKind, at: datetime) -> ChannelCapabilities:
        """The capabilities of a channel at an instant."""
        return self.profile.capabilities(kind, as_of=at)

    def expected_start(self) -> datetime:
        """When the plan must start (B9): the draft's start, or now if that is later."""
        start = self.draft.schedule.start
        return self.now if start is None or start < self.now else start

    def contact(self, contact_id: str) -> Contact:
        """The audience contact with this id."""
        return next(c for c in self.contacts if c.id == contact_id)


_STATUSES = (
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.NOT_ASKED,
    SubscriptionStatus.PROMPTED,
    SubscriptionStatus.DECLINED,
    SubscriptionStatus.UNSUBSCRIBED,
)


_PHONE_POOL = tuple(
    phone
    for prefix, digits in PHONES
    for phone in (prefix + str(n * 7919 % 10**digits).zfill(digits) for n in range(1, 40))
    if _valid(phone)
)


def _contact(
    cid: str,
    seed: int,
    senders: Sequence[Sender],
    kinds: Sequence[ChannelKind],
    now: datetime,
    focus: ChannelKind | None = None,
) -> tuple[Contact, tuple[datetime, ...]]:
    """A contact and its earlier marketing sends, built from one seed."""
    rnd = random.Random(seed)

    def minutes_ago(most: timedelta) -> datetime:
        return now - timedelta(minutes=rnd.randint(0, most // timedelta(minutes=1)))

    if seed == 0:
        return person(cid), ()
    phone = rnd.choice(_PHONE_POOL) if rnd.random() < 0.8 else None
    identities = []
    for sender in senders:
        if rnd.random() < 0.25:
            continue
        if sender.channel in PHONE_KINDS:
            if phone is None:
                continue
            external = phone
        else:
            external = f"{sender.channel.value}-{cid}"
        recent = timedelta(days=3 if focus else 10)
        inbound = minutes_ago(recent) if rnd.random() < 0.6 else None
        identities.append(ident(sender.account_id, sender.channel, external, inbound))
    subs: dict[str, OptInState] = {}
    for sender in senders:
        if rnd.random() < 0.4:
            continue
        status = rnd.choice(_STATUSES)
        if status is SubscriptionStatus.PROMPTED:
            at = minutes_ago(timedelta(hours=60))
            subs[sender.account_id] = OptInState(
                status=status,
                prompts_sent=rnd.randint(1, 2),
                first_prompt_at=at,
                last_prompt_at=at,
            )
        else:
            subs[sender.account_id] = OptInState.of(status)
    contact = person(
        cid,
        phone=phone,
        tz=rnd.choice([None, None, None, "Not/AZone", *ZONES]),
        last=focus if focus and rnd.random() < 0.7 else rnd.choice([None, *kinds]),
        identities=identities,
        subs=subs,
        first_name=rnd.choice([None, "Ann"]),
    )
    earlier = tuple(minutes_ago(timedelta(days=14)) for _ in range(rnd.randint(0, 3)))
    return contact, earlier


def _usage(seed: int, now: datetime, zone_: Any, today_count: int) -> SenderUsage:
    """What an account sent before, from one seed: recent sends and a day's count."""
    rnd = random.Random(seed)
    today = now.astimezone(zone_).date()
    recent = [
        (now - timedelta(minutes=rnd.randint(0, 7 * 24 * 60)), f"earlier-{rnd.randint(0, 14)}")
        for _ in range(rnd.randint(0, 15))
    ]
    day = rnd.choice([today, today - timedelta(days=1), today + timedelta(days=1)])
    return SenderUsage(day=day, recipients_today=today_count, recent=recent)


_NOW = st.tuples(st.sampled_from(NOWS), st.integers(0, 30 * 60))
_FAMILY = st.sampled_from(FAMILIES)
_ACCOUNT = st.none() | st.builds(
    AccountState,
    timezone=st.sampled_from(ZONES),
    tier=st.integers(0, 2),
    quality_low=st.booleans(),
    paid_chatbot_terms=st.booleans(),
)
_USAGE = st.none() | st.tuples(st.integers(0, 2**32), st.integers(0, 6))
_COUNT = st.integers(1, 2)
_TEMPLATE = st.booleans()
_TEXT = st.sampled_from(["Offer", 'Hi {{ first_name | "there" }}, 10% off'])
_TARGETING = st.sampled_from([Targeting.LAST_INTERACTED, Targeting.ACCOUNT])
_START = st.none() | st.integers(-48 * 60, 72 * 60)
_DRAFT_ID = st.sampled_from(["bc-1", "bc-2"])
_ONLY = st.sampled_from([False, False, False, True])
_RATE = st.none() | rates()
_QUIET = st.none() | quiet_hours()
_CAP = st.none() | st.builds(
    FrequencyCap,
    messages=st.integers(1, 3),
    period=st.integers(1, 10).map(lambda d: timedelta(days=d)),
)
_SEED = st.integers(0, 2**32)
_BATCH = st.sampled_from([1, 2, 3, 500])


@st.composite
def scenarios(
    draw: st.DrawFn, *, most_contacts: int = 60, focus: ChannelKind | None = None
) -> Scenario:
    """A random draft, audience, senders' state and history (at most 3 senders).

    With ``focus``, the draft sends on that channel (a template where it has them)
    and most contacts last interacted there, so its limits are pressed.

    Strategies are built once (module level) and the audience and each account's
    earlier sends come from seeds: a scenario costs a few dozen draws, whatever the
    audience's size.
    """
    if focus is None:
        profile, kinds = draw(_FAMILY)
        selected = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=2, unique=True))
    else:
        profile, kinds = draw(st.sampled_from([f for f in FAMILIES if focus in f[1]]))
        selected = [focus]
    base_now, minutes = draw(_NOW)
    now = base_now + timedelta(minutes=minutes)
    sender_kinds = list(selected) + draw(
        st.lists(st.sampled_from(selected), max_size=3 - len(selected))
    )
    senders = tuple(Sender(f"{kind.value}-{n}", kind) for n, kind in enumerate(sender_kinds))
    accounts: dict[str, AccountState] = {}
    usage: dict[str, SenderUsage] = {}
    for sender in senders:
        state = draw(_ACCOUNT)
        if state is not None:
            accounts[sender.account_id] = state
        used = draw(_USAGE)
        if used is not None:
            zone_ = (state or AccountState()).timezone
            usage[sender.account_id] = _usage(used[0], now, zone_, used[1])
    content: dict[ChannelKind, tuple[BroadcastMessage, ...]] = {}
    for kind in selected:
        count = draw(_COUNT)
        template = "offer" if kind is K.WHATSAPP and (kind is focus or draw(_TEMPLATE)) else None
        text = draw(_TEXT)
        content[kind] = tuple(
            BroadcastMessage(text=f"{text} ({n + 1})", template=template) for n in range(count)
        )
    targeting = draw(_TARGETING)
    account = draw(st.sampled_from(senders)).account_id
    if targeting is Targeting.ACCOUNT:
        kind = next(s.channel for s in senders if s.account_id == account)
        content = {kind: content[kind]}
    start_offset = draw(_START)
    draft = Draft(
        id=draw(_DRAFT_ID),
        name="property broadcast",
        audience=Audience(),
        content=content,
        senders=senders,
        targeting=targeting,
        account=account if targeting is Targeting.ACCOUNT else None,
        channels=frozenset(selected) if targeting is Targeting.LAST_INTERACTED else None,
        only_interacted=draw(_ONLY),
        schedule=Schedule(
            start=None if start_offset is None else now + timedelta(minutes=start_offset)
        ),
        rate=draw(_RATE),
        quiet_hours=draw(_QUIET),
        frequency_cap=draw(_CAP),
    )
    contacts: list[Contact] = []
    history: dict[str, tuple[datetime, ...]] = {}
    count = draw(st.integers(0, most_contacts))
    base = draw(_SEED)
    for n in range(count):
        contact, earlier = _contact(
            f"c{n:03d}", base * most_contacts + n, senders, kinds, now, focus
        )
        contacts.append(contact)
        if earlier:
            history[contact.id] = earlier
    return Scenario(
        profile=profile,
        draft=draft,
        contacts=tuple(contacts),
        now=now,
        accounts=accounts,
        usage=usage,
        history=history,
        batch_size=draw(_BATCH),
    )
