"""Hypothesis strategies for omnimsg's values, to property-test your own code.

Every strategy draws valid values: aware datetimes, phone numbers that
:mod:`phonenumbers` accepts, IANA time zones (odd offsets included), contacts with
identities on channel accounts, segment JSON that :func:`omnimsg.parse_segment`
accepts, conversation and account states, profiles (built-in or derived with random
but valid overrides) and messages. omnimsg's own tests use the same ones::

    from hypothesis import given
    from omnimsg import decide
    from omnimsg.testing import strategies as oms

    @given(oms.decision_inputs())
    def test_decide_never_raises(inputs):
        caps, state, message, now = inputs
        decide(caps, state, message, now=now)

Needs hypothesis: install omnimsg with the ``testing`` extra
(``pip install "omnimsg[testing]"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from types import MappingProxyType
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without hypothesis
    raise ImportError(
        "omnimsg.testing.strategies needs hypothesis: install omnimsg with the "
        "'testing' extra (pip install \"omnimsg[testing]\")"
    ) from exc

import phonenumbers

from omnimsg._convert import shown, to_count, to_flag, to_instant, to_text
from omnimsg.channels.capabilities import ChannelCapabilities
from omnimsg.channels.kinds import ChannelKind
from omnimsg.channels.registry import Profile, builtin_profile_names, load_profile
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.errors import InputError
from omnimsg.policy.content import Media, MediaKind
from omnimsg.policy.decision import Message
from omnimsg.segments.fields import (
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    ValueKind,
    ValueShape,
    custom_field,
    shape_of,
)
from omnimsg.segments.model import Segment
from omnimsg.segments.parse import parse_custom_fields, parse_segment
from omnimsg.state import AccountState, ConversationState, OptInState, SubscriptionStatus
from omnimsg.testing._builders import account_kinds

__all__ = [
    "ACCOUNTS",
    "REGIONS",
    "TAGS",
    "TIME_ZONES",
    "account_states",
    "aware_datetimes",
    "capabilities",
    "contact_lists",
    "contacts",
    "conversation_states",
    "decision_inputs",
    "messages",
    "phone_numbers",
    "profiles",
    "segment_json",
    "segments",
    "time_zones",
]

TIME_ZONES = (
    "UTC",
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
)
"""IANA zones with odd offsets (+05:45, +12:45, -03:30), both hemispheres and several
daylight-saving rules."""

REGIONS = ("US", "ES", "MX", "BR", "AR", "GB", "DE", "IN", "JP", "AU", "RU")
"""The countries phone numbers are drawn from by default."""

ACCOUNTS: Mapping[str, ChannelKind] = MappingProxyType(
    {
        "wa-1": ChannelKind.WHATSAPP,
        "sms-1": ChannelKind.SMS,
        "tg-1": ChannelKind.TELEGRAM,
        "viber-1": ChannelKind.VIBER,
        "wechat-1": ChannelKind.WECHAT,
        "fb-1": ChannelKind.MESSENGER,
    }
)
"""The channel accounts contacts get identities on by default, account id to kind."""

TAGS = ("vip", "new", "wholesale", "lapsed")
"""The tags contacts are drawn with by default."""

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_END = datetime(2030, 12, 31, tzinfo=UTC)
_PHONE_KINDS = frozenset({ChannelKind.WHATSAPP, ChannelKind.SMS})
_MOST_CONTACTS = 10_000
_MOST_LEAVES = 100


def _now(value: object, name: str = "now") -> datetime:
    """``value`` checked (an aware instant), or the default instant."""
    return _NOW if value is None else to_instant(value, name)


def _words(value: object, name: str) -> tuple[str, ...]:
    """A sequence of texts (a lone string is refused: it is not a list of words)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(f"{name}: expected a sequence of texts, got {shown(value)}")
    found = tuple(to_text(item, name) for item in value)
    if any(not item for item in found):
        raise InputError(f"{name}: an item must not be empty")
    return found


def _profile(value: object) -> Profile | None:
    if value is not None and not isinstance(value, Profile):
        raise InputError(f"profile: expected a Profile or None, got {shown(value)}")
    return value


def time_zones() -> st.SearchStrategy[str]:
    """IANA zone names from :data:`TIME_ZONES`.

    Example: ``time_zones().example()`` → ``"Asia/Kathmandu"``.
    """
    return st.sampled_from(TIME_ZONES)


def aware_datetimes(
    min_value: datetime = _EPOCH, max_value: datetime = _END
) -> st.SearchStrategy[datetime]:
    """Aware datetimes between two aware bounds, in the zones of :data:`TIME_ZONES`
    (instants on both sides of daylight-saving changes, folds included).

    Example: ``aware_datetimes(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1,
    tzinfo=UTC))``.
    """
    from zoneinfo import ZoneInfo

    low = to_instant(min_value, "min_value")
    span = int((to_instant(max_value, "max_value") - low).total_seconds())
    if span < 0:
        raise InputError("aware_datetimes: min_value is after max_value")
    return st.builds(
        lambda seconds, zone: (low + timedelta(seconds=seconds)).astimezone(ZoneInfo(zone)),
        st.integers(0, span),
        time_zones(),
    )


@cache
def _phone_pool(region: str) -> tuple[str, ...]:
    """Valid numbers of ``region``: its example mobile and fixed numbers, last digits varied."""
    found: list[str] = []
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for n in range(0, 10_000, 137):
            candidate = e164[:-4] + f"{n:04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
                found.append(candidate)
    return tuple(found)


def phone_numbers(regions: Sequence[str] = REGIONS) -> st.SearchStrategy[str]:
    """Valid phone numbers in E.164 (``+34612345678``) from the countries ``regions``.

    Example: ``phone_numbers(["ES", "MX"])``.
    """
    if isinstance(regions, str) or not isinstance(regions, Sequence):
        raise InputError(f"regions: expected a sequence of country codes, got {shown(regions)}")
    codes = {to_text(region, "regions").upper() for region in regions}
    pools = [_phone_pool(code) for code in codes if code in phonenumbers.SUPPORTED_REGIONS]
    pool = tuple(sorted({n for p in pools for n in p}))
    if not pool:
        raise InputError(f"phone_numbers: no valid numbers for regions {list(regions)[:20]}")
    return st.sampled_from(pool)


def _external(cid: str, kind: ChannelKind, phone: str | None) -> str | None:
    if kind in _PHONE_KINDS:
        if phone is None:
            return None
        return phone.lstrip("+") if kind is ChannelKind.WHATSAPP else phone
    return f"{kind.value}-{cid}"


_STATUSES = st.sampled_from(
    [
        SubscriptionStatus.SUBSCRIBED,
        SubscriptionStatus.NOT_ASKED,
        SubscriptionStatus.UNSUBSCRIBED,
        SubscriptionStatus.DECLINED,
        SubscriptionStatus.PROMPTED,
    ]
)


def contacts(
    *,
    id: str | None = None,
    accounts: Mapping[str, ChannelKind | str] = ACCOUNTS,
    now: datetime | None = None,
    regions: Sequence[str] = REGIONS,
    tags: Sequence[str] = TAGS,
) -> st.SearchStrategy[Contact]:
    """A valid contact with identities on some of ``accounts``.

    Its phone (most have one) is valid for :mod:`phonenumbers`; identities on
    WhatsApp and SMS accounts use it, others get ``<kind>-<id>``. Each identity last
    wrote within the 10 days before ``now`` (default 2026-01-05 09:00 UTC) or never;
    consent records, a time zone, tags (from ``tags``) and a last interacted channel
    are drawn too.

    Example: ``contacts(accounts={"wa-1": ChannelKind.WHATSAPP}, now=NOW)``.

    Raises:
        InputError: an argument is not of its type (``now`` naive, ``tags`` a single
            string, an empty account id), checked when the strategy is built.
        UnknownChannelError: an account's kind is not a channel kind.
    """
    if id is not None and not to_text(id, "id"):
        raise InputError("id: must not be empty")
    return _contact(
        id, account_kinds(accounts), _now(now), phone_numbers(regions), _words(tags, "tags")
    )


@st.composite
def _contact(
    draw: st.DrawFn,
    id: str | None,
    accounts: Mapping[str, ChannelKind],
    at: datetime,
    phones: st.SearchStrategy[str],
    tags: tuple[str, ...],
) -> Contact:
    cid = id if id is not None else draw(st.from_regex(r"[a-z]{1,6}-[0-9]{1,6}", fullmatch=True))
    phone = draw(st.none() | phones)
    identities = []
    for account, kind in accounts.items():
        external = _external(cid, kind, phone)
        if external is None or not draw(st.booleans()):
            continue
        ago = draw(st.none() | st.integers(0, 10 * 24 * 60))
        identities.append(
            ChannelIdentity(
                account_id=account,
                channel=kind,
                external_id=external,
                last_inbound_at=None if ago is None else at - timedelta(minutes=ago),
            )
        )
    subscriptions = {
        account: OptInState.of(draw(_STATUSES))
        for account in accounts
        if draw(st.integers(0, 2)) == 0
    }
    channels = sorted({i.channel for i in identities})
    return Contact(
        id=cid,
        first_name=draw(st.none() | st.sampled_from(["Ana", "Bo", "Chloé", "Dmitri", "Emi"])),
        phone=phone,
        timezone=draw(st.none() | time_zones()),
        language=draw(st.none() | st.sampled_from(["en", "es", "pt-BR"])),
        tags=draw(st.frozensets(st.sampled_from(tags))) if tags else frozenset(),
        identities=tuple(identities),
        last_interacted_channel=draw(st.none() | st.sampled_from(channels)) if channels else None,
        conversation_status=draw(st.none() | st.sampled_from(ConversationStatus)),
        subscriptions=subscriptions,
    )


def contact_lists(
    *,
    min_size: int = 0,
    max_size: int = 20,
    accounts: Mapping[str, ChannelKind | str] = ACCOUNTS,
    now: datetime | None = None,
    regions: Sequence[str] = REGIONS,
    tags: Sequence[str] = TAGS,
) -> st.SearchStrategy[list[Contact]]:
    """Contacts with distinct ids (``c1``, ``c2``, ...), as an audience; the other
    arguments are those of :func:`contacts`.

    Example: ``contact_lists(max_size=5, tags=["promos"])``.

    Raises:
        InputError: as :func:`contacts`, or sizes that are not whole numbers with
            ``min_size <= max_size <= 10000``.
    """
    low, high = to_count(min_size, "min_size"), to_count(max_size, "max_size")
    if low > high or high > _MOST_CONTACTS:
        raise InputError(
            f"max_size: expected min_size <= max_size <= {_MOST_CONTACTS}, got {low} and {high}"
        )
    checked = (account_kinds(accounts), _now(now), phone_numbers(regions), _words(tags, "tags"))
    return _contact_list(low, high, checked)


@st.composite
def _contact_list(
    draw: st.DrawFn,
    low: int,
    high: int,
    checked: tuple[Mapping[str, ChannelKind], datetime, st.SearchStrategy[str], tuple[str, ...]],
) -> list[Contact]:
    size = draw(st.integers(low, high))
    return [draw(_contact(f"c{n}", *checked)) for n in range(1, size + 1)]


# --- segments -------------------------------------------------------------------------

_WORDS = st.sampled_from(["ana", "Ana", "straße", "vip", "madrid", "%_", "o'brien"])
_SCALARS: Mapping[ValueKind, st.SearchStrategy[Any]] = {
    ValueKind.TEXT: _WORDS,
    ValueKind.KEYWORD: _WORDS | st.sampled_from(["+34", "c1"]),
    ValueKind.NUMBER: st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False),
    ValueKind.BOOLEAN: st.booleans(),
    ValueKind.DATETIME: aware_datetimes().map(lambda d: d.isoformat()),
    ValueKind.TAGS: st.sampled_from(TAGS),
    ValueKind.CHANNELS: st.sampled_from([k.value for k in ChannelKind]),
    ValueKind.CHANNEL: st.sampled_from([k.value for k in ChannelKind]),
    ValueKind.CONVERSATION_STATUS: st.sampled_from([s.value for s in ConversationStatus]),
    ValueKind.COUNTRY: st.sampled_from(["US", "ES", "MX", "BR"]),
    ValueKind.SUBSCRIPTION: st.sampled_from([s.value for s in SubscriptionStatus]),
}
_PERIODS = st.builds(
    lambda amount, unit: {"amount": amount, "unit": unit},
    st.integers(1, 30),
    st.sampled_from(["hours", "days", "weeks", "months"]),
)


def _order(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@st.composite
def _condition(draw: st.DrawFn, specs: tuple[FieldSpec, ...], senders: Sequence[str]) -> Any:
    spec = draw(st.sampled_from(specs))
    op = draw(st.sampled_from(spec.operators))
    data: dict[str, Any] = {"field": spec.name, "op": op.value}
    if spec.kind is ValueKind.SUBSCRIPTION:
        data["sender"] = draw(st.sampled_from(list(senders)))
    shape = shape_of(op)
    scalar = _SCALARS[spec.kind]
    if shape is ValueShape.SCALAR:
        data["value"] = draw(scalar)
    elif shape is ValueShape.LIST:
        data["value"] = draw(st.lists(scalar, min_size=1, max_size=3))
    elif shape is ValueShape.SCALAR_OR_LIST:
        data["value"] = draw(scalar | st.lists(scalar, min_size=1, max_size=3))
    elif shape is ValueShape.RANGE:
        data["value"] = sorted(draw(st.lists(scalar, min_size=2, max_size=2)), key=_order)
    elif shape is ValueShape.PERIOD:
        data["value"] = draw(_PERIODS)
    return data


def segment_json(
    custom_fields: Mapping[str, FieldType | str] | None = None,
    senders: Sequence[str] = tuple(ACCOUNTS),
    max_leaves: int = 6,
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid segment JSON (dicts): conditions over every standard field and operator,
    and over ``custom_fields`` (name to type), nested in ``all``/``any``/``not`` groups.

    Example: ``segment_json({"orders": "number"})`` draws things like ``{"all":
    [{"field": "tags", "op": "has_any", "value": ["vip"]}, {"field": "custom.orders",
    "op": "gte", "value": 3}]}``.

    Raises:
        SegmentValidationError: a custom field's name or type is not valid.
        InputError: ``senders`` is not a non-empty sequence of account ids, or
            ``max_leaves`` not a whole number from 1 to 100.
    """
    declared = [
        custom_field(name, field_type)
        for name, field_type in parse_custom_fields(custom_fields).items()
    ]
    accounts = _words(senders, "senders")
    if not accounts:
        raise InputError("senders: expected at least one sender account id")
    leaves = to_count(max_leaves, "max_leaves")
    if not 1 <= leaves <= _MOST_LEAVES:
        raise InputError(f"max_leaves: expected 1 to {_MOST_LEAVES}, got {leaves}")
    specs = (*STANDARD_FIELDS.values(), *declared)
    leaf = _condition(specs, accounts)
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, children),
        ),
        max_leaves=leaves,
    )


def segments(
    custom_fields: Mapping[str, FieldType | str] | None = None,
    senders: Sequence[str] = tuple(ACCOUNTS),
) -> st.SearchStrategy[Segment]:
    """Parsed :class:`~omnimsg.segments.Segment` objects, from :func:`segment_json`.

    Example: ``compile_segment(data.draw(segments()), now=NOW)``.

    Raises:
        SegmentValidationError: a custom field's name or type is not valid.
        InputError: ``senders`` is not a non-empty sequence of account ids.
    """
    data = segment_json(custom_fields, senders)
    fields = dict(custom_fields or {})
    return data.map(lambda drawn: parse_segment(drawn, custom_fields=fields))


# --- conversation and account state -----------------------------------------------------


def conversation_states(*, now: datetime | None = None) -> st.SearchStrategy[ConversationState]:
    """A contact's state on one account as of ``now``: never wrote, a window open or long
    closed, messages sent since (W5), consent, a session start (P9), recent outbound
    times (P5, P10), a menu click (P8) and a group flag.

    Example: ``conversation_states(now=NOW)``; with ``decide(caps, state, message,
    now=NOW)``.

    Raises:
        InputError: ``now`` is not an aware datetime in omnimsg's range.
    """
    return _conversation_state(_now(now))


@st.composite
def _conversation_state(draw: st.DrawFn, at: datetime) -> ConversationState:
    minutes = st.integers(0, 30 * 24 * 60).map(lambda m: at - timedelta(minutes=m))
    last = draw(st.none() | minutes)
    session = None
    if last is not None and draw(st.booleans()):
        session = last - timedelta(minutes=draw(st.integers(0, 48 * 60)))
    times = draw(st.lists(st.integers(0, 3 * 60 * 60), max_size=5))
    status = draw(_STATUSES)
    consent = (
        OptInState(status=status, prompts_sent=1, first_prompt_at=at, last_prompt_at=at)
        if status is SubscriptionStatus.PROMPTED
        else OptInState.of(status)
    )
    return ConversationState(
        last_inbound_at=last,
        outbound_since_inbound=draw(st.integers(0, 25)),
        consent=consent,
        session_started_at=session,
        outbound_times=tuple(at - timedelta(seconds=s) for s in times),
        last_event_at=draw(st.none() | minutes),
        group=draw(st.booleans()),
    )


def account_states(*, now: datetime | None = None) -> st.SearchStrategy[AccountState]:
    """A sending account's state: time zone, tier and quality, the chatbot-initiated
    and quota counts of ``now``'s month in the account's time zone, paid terms,
    creation date (W6, B13, P9, P11).

    Example: ``account_states(now=NOW)``.

    Raises:
        InputError: ``now`` is not an aware datetime in omnimsg's range.
    """
    return _account_state(_now(now))


@st.composite
def _account_state(draw: st.DrawFn, at: datetime) -> AccountState:
    from zoneinfo import ZoneInfo

    zone = draw(time_zones())
    local = at.astimezone(ZoneInfo(zone))
    month = (local.year, local.month)
    return AccountState(
        timezone=zone,
        chatbot_month=month,
        chatbot_initiated_count=draw(st.integers(0, 12_000)),
        paid_chatbot_terms=draw(st.booleans()),
        tier=draw(st.integers(0, 3)),
        quality_low=draw(st.booleans()),
        quota_month=month,
        quota_count=draw(st.integers(0, 300)),
        paid_extra_messages=draw(st.booleans()),
        created_at=draw(st.none() | aware_datetimes(min(_EPOCH, at), at)),
    )


# --- profiles, capabilities, messages -------------------------------------------------

_DURATIONS = st.sampled_from(["1h", "12h", "24h", "48h", "3d", "7d"])
_HOURS = st.tuples(st.integers(0, 23), st.integers(1, 23)).map(
    lambda p: {"start": f"{p[0]:02d}:00", "end": f"{(p[0] + p[1]) % 24:02d}:00"}
)
_OVERRIDES: Mapping[str, st.SearchStrategy[Any]] = {
    "window": _DURATIONS,
    "window_outbound_cap": st.integers(1, 30),
    "daily_recipient_cap": st.integers(1, 5000),
    "rate_per_second": st.sampled_from([0.5, 1, 10, 80]),
    "broadcasts": st.booleans(),
    "quiet_hours": _HOURS,
}


@st.composite
def _derived(draw: st.DrawFn, base: str) -> Profile:
    profile = load_profile(base)
    channels: dict[str, dict[str, Any]] = {}
    for kind in draw(st.lists(st.sampled_from(profile.kinds), max_size=3, unique=True)):
        keys = draw(st.lists(st.sampled_from(sorted(_OVERRIDES)), min_size=1, unique=True))
        if kind is not ChannelKind.WECHAT:
            keys = [k for k in keys if k != "window_outbound_cap"]
        channels[kind.value] = {key: draw(_OVERRIDES[key]) for key in keys}
    return profile.derive(f"{base}-derived", {"channels": channels})


def profiles(*, derived: bool = True) -> st.SearchStrategy[Profile]:
    """Built-in profiles, and (``derived=True``) built-ins derived with random but
    valid overrides of a few channels' windows, caps, rates and quiet hours.

    Example: ``profiles(derived=False)`` draws one of ``respondio``, ``livetex``,
    ``expertconnect``, ``official``.
    """
    names = st.sampled_from(builtin_profile_names())
    builtin = names.map(load_profile)
    if not to_flag(derived, "derived"):
        return builtin
    return builtin | names.flatmap(_derived)


def capabilities(
    *, profile: Profile | None = None, as_of: datetime | None = None
) -> st.SearchStrategy[ChannelCapabilities]:
    """A channel's capabilities: a channel of a drawn profile (or of ``profile``), as of a
    drawn instant from 2020 to 2030 (or ``as_of``).

    Example: ``capabilities(profile=load_profile("official"))``.

    Raises:
        InputError: ``profile`` is not a Profile, or ``as_of`` not an aware datetime.
    """
    return _capabilities(_profile(profile), None if as_of is None else _now(as_of, "as_of"))


@st.composite
def _capabilities(
    draw: st.DrawFn, profile: Profile | None, as_of: datetime | None
) -> ChannelCapabilities:
    chosen = profile if profile is not None else draw(profiles())
    kind = draw(st.sampled_from(chosen.kinds))
    when = as_of if as_of is not None else draw(aware_datetimes())
    return chosen.capabilities(kind, as_of=when)


_TEXT = st.one_of(
    st.sampled_from(["Hi!", "Your order is ready 🍞", "Oferta: 2x1 en pan", "{[€]}~^|\\"]),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=300,
    ),
    st.integers(100, 5000).map(lambda n: "x" * n),
)
_SECONDS = st.integers(1, 600).map(lambda s: timedelta(seconds=s))
_MEDIA = st.one_of(
    st.builds(
        Media,
        kind=st.sampled_from([k for k in MediaKind if k is not MediaKind.VOICE]),
        url=st.sampled_from(["https://example.com/a.jpg", "https://example.com/menu.pdf"]),
        duration=st.none() | _SECONDS,
    ),
    st.builds(
        Media,
        kind=st.just(MediaKind.VOICE),
        url=st.just("https://example.com/v.ogg"),
        duration=_SECONDS,
    ),
)


def messages() -> st.SearchStrategy[Message]:
    """Messages: text (emoji, GSM-7 extension characters, long texts), sometimes media,
    a template, a message tag, marked marketing or broadcast.

    Example: ``messages()``; ``Message(text="Your order is ready 🍞", template=None,
    ...)``.
    """
    return st.builds(
        Message,
        text=_TEXT,
        media=st.lists(_MEDIA, max_size=2),
        template=st.none() | st.sampled_from(["order_update", "promo"]),
        tag=st.none() | st.sampled_from(["HUMAN_AGENT", "POST_PURCHASE_UPDATE", "OTHER"]),
        marketing=st.booleans(),
        broadcast=st.booleans(),
    )


def decision_inputs(
    *, profile: Profile | None = None
) -> st.SearchStrategy[tuple[ChannelCapabilities, ConversationState, Message, datetime]]:
    """``(caps, conversation, message, now)``: everything :func:`omnimsg.decide` takes,
    consistent in time (the state is as of ``now``).

    Example: ``caps, state, message, now = data.draw(decision_inputs())``.

    Raises:
        InputError: ``profile`` is not a Profile.
    """
    return _decision_inputs(_profile(profile))


@st.composite
def _decision_inputs(
    draw: st.DrawFn, profile: Profile | None
) -> tuple[ChannelCapabilities, ConversationState, Message, datetime]:
    now = draw(aware_datetimes())
    caps = draw(_capabilities(profile, now))
    return caps, draw(_conversation_state(now)), draw(messages()), now
