"""Hypothesis strategies for contacts and segments.

Values are drawn from small pools on purpose: case variants (``É``/``é``, ``ẞ``/``ß``,
``Σ``/``ς``, the Kelvin sign), characters SQL treats specially (``%``, ``_``, ``'``,
``\\``), numbers at the edges of exactness (2**53 + 1, 64-bit limits, -0.0, infinities,
NaN), and instants around daylight-saving changes, so that a segment's values often
meet the contacts' values exactly, where backends are most likely to disagree.

Contacts are built directly or through ``Contact.from_dict`` (strings for enums and
instants, dicts for identities), may hold several identities on one channel account,
and hold custom values under any declared name, not only the fixed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.segments.fields import (
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    PeriodUnit,
    ValueKind,
    ValueShape,
    custom_field,
    shape_of,
)
from omnimsg.state import SubscriptionStatus

CUSTOM_FIELDS: dict[str, FieldType] = {
    "score": FieldType.NUMBER,
    "note": FieldType.STRING,
    "active": FieldType.BOOLEAN,
    "renewal": FieldType.DATETIME,
    "mixed": FieldType.NUMBER,
}
"""Declared custom fields; contacts also hold values of the wrong type under them."""

LETTERS = "aAeÉéßẞσΣςİiıKk\u212aſsǅǆΩω\u2126"
ODD = "%_\\' -.@1"
TEXT_ALPHABET = LETTERS + ODD

short_text = st.text(alphabet=TEXT_ALPHABET, min_size=1, max_size=5)
any_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=6,
)
WORDS = (
    "ana",
    "ANA",
    "Ána",
    "ǅemal",
    "ǆemal",
    "ΣΟΦΙΑΣ",
    "σοφιας",
    "straße",
    "STRAẞE",
    "K%_",
    "\u212a%_",
    "k%_",
    "İz",
    "iz",
)
values_text = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), short_text, any_text)

TAGS = ("vip", "VIP", "gold", "Gold", "a%", "a_", "ñandú", "ÑANDÚ")
SENDERS = ("wa-main", "sms-1", "tg-bot")
ACCOUNTS = (
    ("wa-main", ChannelKind.WHATSAPP),
    ("wa-2", ChannelKind.WHATSAPP),
    ("sms-1", ChannelKind.SMS),
    ("tg-bot", ChannelKind.TELEGRAM),
    ("ig", ChannelKind.INSTAGRAM),
)
CHANNELS = (
    ChannelKind.WHATSAPP,
    ChannelKind.SMS,
    ChannelKind.TELEGRAM,
    ChannelKind.INSTAGRAM,
    ChannelKind.EMAIL,
)
PHONES = ("+14155550123", "+5511987654321", "+447911123456", "+33612345678")
COUNTRIES = ("US", "BR", "GB", "FR", "us")
AGENTS = ("ana", "Ana", "bo")

EXACT_NUMBERS: tuple[int | float, ...] = (
    0,
    -0.0,
    1,
    1.0,
    0.5,
    0.1,
    -1,
    500,
    500.5,
    2**53,
    2**53 + 1,
    float(2**53),
    2**63 - 1,
    -(2**63),
    1e300,
    -1e300,
)
numbers = st.one_of(
    st.sampled_from(EXACT_NUMBERS),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
contact_numbers = st.one_of(numbers, st.sampled_from((float("inf"), float("-inf"), float("nan"))))

ZONES = (
    UTC,
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Sao_Paulo"),
    timezone(timedelta(hours=5, minutes=30)),
)
BASE = datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
"""Europe's spring-forward instant; New York falls back on 2024-11-03."""

_POOL = tuple(BASE + timedelta(hours=6 * k) for k in range(-12, 13))
pooled_instants = st.builds(
    lambda instant, zone: instant.astimezone(zone),
    st.sampled_from(_POOL),
    st.sampled_from(ZONES),
)
wall_clock_instants = st.one_of(
    st.datetimes(
        min_value=datetime(2024, 3, 28),
        max_value=datetime(2024, 4, 3),
        timezones=st.sampled_from(ZONES),
    ),
    st.datetimes(
        min_value=datetime(2024, 11, 1),
        max_value=datetime(2024, 11, 5),
        timezones=st.sampled_from(ZONES),
    ),
)
instants = st.one_of(pooled_instants, pooled_instants, wall_clock_instants)
"""Aware datetimes, many on a 6-hour grid, some on DST gaps and folds."""


def _unique_identities(items: list[tuple[tuple[str, ChannelKind], str, Any, Any]]) -> tuple:
    # The same account may appear twice (two numbers on one WhatsApp account); only an
    # identical (account, external id) pair is dropped, which the SQL schema refuses.
    seen: set[tuple[str, str]] = set()
    result = []
    for (account, channel), external, first_seen, last_inbound in items:
        if (account, external) in seen:
            continue
        seen.add((account, external))
        result.append(
            ChannelIdentity(
                account_id=account,
                channel=channel,
                external_id=external,
                first_seen_at=first_seen,
                last_inbound_at=last_inbound,
            )
        )
    return tuple(result)


_EXTERNAL_IDS = ("1", "2", "3")
_identity_parts = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(_EXTERNAL_IDS),
    st.none() | instants,
    st.none() | instants,
)


@st.composite
def _identity_items(draw: st.DrawFn) -> list[tuple[tuple[str, ChannelKind], str, Any, Any]]:
    items = draw(st.lists(_identity_parts, max_size=3))
    if items and draw(st.booleans()):
        # A second identity on the first one's account, with timestamps of its own.
        account = items[0][0]
        external = draw(st.sampled_from(_EXTERNAL_IDS))
        items.append((account, external, draw(st.none() | instants), draw(st.none() | instants)))
    return items


identities = _identity_items().map(_unique_identities)

custom_names = st.one_of(
    st.sampled_from(("Score", "score ", "a.b", "custom.x", "名前", "%_", "x'y")),
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
        min_size=1,
        max_size=8,
    ),
)
"""Any valid custom field name: non-empty, without NUL or lone surrogates."""

custom_schemas = st.builds(
    lambda extra: {**extra, **CUSTOM_FIELDS},
    st.dictionaries(custom_names, st.sampled_from(FieldType), max_size=3),
)
"""Custom field declarations: the fixed five and up to three more, any name and type."""

_custom_value = st.one_of(
    st.none(),
    contact_numbers,
    st.booleans(),
    values_text,
    instants,
    st.builds(lambda d: d.replace(tzinfo=None), instants),
)


def custom_values(names: Mapping[str, FieldType] = CUSTOM_FIELDS) -> st.SearchStrategy[Any]:
    """Custom values of every type (wrong ones too) under the declared names."""
    return st.dictionaries(st.sampled_from(sorted(names)), _custom_value, max_size=5)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _outside(value: Any, draw: st.DrawFn) -> Any:
    """``value`` as outside data may carry it: an instant sometimes as ISO text."""
    if isinstance(value, datetime) and value.tzinfo is not None and draw(st.booleans()):
        return value.isoformat()
    return value


def _as_dict(fields: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The fields of a contact as the mapping ``Contact.from_dict`` reads."""
    data: dict[str, Any] = {k: v for k, v in fields.items() if k != "phone_region"}
    data["tags"] = sorted(fields["tags"])
    data["created_at"] = _outside(fields["created_at"], draw)
    data["custom"] = {
        name: value
        for name, value in fields["custom"].items()
        if not (isinstance(value, datetime) and value.tzinfo is None)
    }
    data["identities"] = [
        {
            "account_id": identity.account_id,
            "channel": draw(st.sampled_from((identity.channel.value, identity.channel.upper()))),
            "external_id": identity.external_id,
            "first_seen_at": _outside(identity.first_seen_at, draw),
            "last_inbound_at": _outside(identity.last_inbound_at, draw),
        }
        for identity in fields["identities"]
    ]
    for name in ("last_interacted_channel", "conversation_status"):
        if fields[name] is not None:
            data[name] = str(fields[name])
    data["subscriptions"] = {k: str(v) for k, v in fields["subscriptions"].items()}
    return data


@st.composite
def contacts(
    draw: st.DrawFn, cid: str | None = None, custom_fields: Mapping[str, FieldType] = CUSTOM_FIELDS
) -> Contact:
    """One contact; ``cid`` fixes its id. About half are built by ``Contact.from_dict``."""
    phone = draw(_maybe(st.sampled_from(PHONES)))
    explicit_region = draw(_maybe(st.sampled_from(("US", "BR"))))
    fields: dict[str, Any] = {
        "id": cid if cid is not None else draw(values_text),
        "first_name": draw(_maybe(values_text | st.just(""))),
        "last_name": draw(_maybe(values_text)),
        "email": draw(_maybe(values_text | st.sampled_from(("", " a@x.io ", " ")))),
        "phone": phone,
        "phone_region": explicit_region if phone is None else None,
        "language": draw(_maybe(st.sampled_from(("en", "EN", "pt-BR", "pt-br")) | values_text)),
        "lifecycle": draw(_maybe(values_text)),
        "tags": draw(st.frozensets(st.sampled_from(TAGS), max_size=3)),
        "custom": draw(custom_values(custom_fields)),
        "identities": draw(identities),
        "last_interacted_channel": draw(_maybe(st.sampled_from(CHANNELS))),
        "conversation_status": draw(_maybe(st.sampled_from(ConversationStatus))),
        "assignee": draw(_maybe(st.sampled_from(AGENTS))),
        "subscriptions": draw(
            st.dictionaries(st.sampled_from(SENDERS), st.sampled_from(SubscriptionStatus))
        ),
        "created_at": draw(_maybe(instants)),
    }
    if draw(st.booleans()):
        return Contact.from_dict(_as_dict(fields, draw))
    return Contact(**fields)


@st.composite
def contact_sets(
    draw: st.DrawFn, max_size: int = 30, custom_fields: Mapping[str, FieldType] = CUSTOM_FIELDS
) -> list[Contact]:
    """Contacts with distinct ids (a few ids differ only by case)."""
    size = draw(st.integers(min_value=0, max_value=max_size))
    ids = draw(
        st.lists(
            st.sampled_from(("c1", "C1", "c2", "é", "É", "x%", "x_")) | values_text,
            unique=True,
            min_size=size,
            max_size=size,
        )
    )
    return [draw(contacts(cid, custom_fields)) for cid in ids]


def _specs(custom_fields: Mapping[str, FieldType]) -> tuple[FieldSpec, ...]:
    return (
        *STANDARD_FIELDS.values(),
        *(custom_field(name, kind) for name, kind in custom_fields.items()),
    )


_ALL_SPECS = _specs(CUSTOM_FIELDS)

_SCALARS: dict[ValueKind, st.SearchStrategy[Any]] = {
    ValueKind.TEXT: values_text,
    ValueKind.KEYWORD: st.one_of(
        values_text, st.sampled_from(PHONES + AGENTS + ("c1", "C1", "+1", "+55"))
    ),
    ValueKind.NUMBER: numbers,
    ValueKind.BOOLEAN: st.booleans(),
    ValueKind.DATETIME: instants.map(lambda d: d.isoformat()),
    ValueKind.TAGS: st.sampled_from(TAGS) | values_text,
    ValueKind.CHANNELS: st.sampled_from([c.value for c in CHANNELS] + ["WhatsApp"]),
    ValueKind.CHANNEL: st.sampled_from([c.value for c in CHANNELS] + ["SMS"]),
    ValueKind.CONVERSATION_STATUS: st.sampled_from([s.value for s in ConversationStatus]),
    ValueKind.COUNTRY: st.sampled_from(COUNTRIES),
    ValueKind.SUBSCRIPTION: st.sampled_from([s.value for s in SubscriptionStatus]),
}

periods = st.one_of(
    st.builds(
        lambda amount: {"amount": amount, "unit": "hours"}, st.integers(min_value=1, max_value=96)
    ),
    st.builds(
        lambda amount: {"amount": amount, "unit": "days"}, st.integers(min_value=1, max_value=10)
    ),
    st.builds(
        lambda amount, unit: {"amount": amount, "unit": unit},
        st.integers(min_value=1, max_value=3),
        st.sampled_from([PeriodUnit.WEEKS.value, PeriodUnit.MONTHS.value]),
    ),
)


def _sort_key(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@st.composite
def _value(draw: st.DrawFn, spec: FieldSpec, op: Operator) -> Any:
    scalar = _SCALARS[spec.kind]
    shape = shape_of(op)
    if shape is ValueShape.SCALAR:
        return draw(scalar)
    if shape is ValueShape.LIST:
        return draw(st.lists(scalar, min_size=1, max_size=3))
    if shape is ValueShape.SCALAR_OR_LIST:
        return draw(scalar | st.lists(scalar, min_size=1, max_size=3))
    if shape is ValueShape.RANGE:
        pair = draw(st.lists(scalar, min_size=2, max_size=2))
        return sorted(pair, key=_sort_key)
    return draw(periods)


@st.composite
def condition_json(
    draw: st.DrawFn, custom_fields: Mapping[str, FieldType] = CUSTOM_FIELDS
) -> dict[str, Any]:
    """One valid condition as segment JSON, over every field and operator."""
    if custom_fields is CUSTOM_FIELDS:
        spec = draw(st.sampled_from(_ALL_SPECS))
    else:
        # Other declarations are drawn for their custom fields: favour them.
        specs = _specs(custom_fields)
        spec = draw(st.sampled_from(specs) | st.sampled_from(specs[len(STANDARD_FIELDS) :]))
    op = draw(st.sampled_from(spec.operators))
    data: dict[str, Any] = {"field": spec.name, "op": op.value}
    if spec.kind is ValueKind.SUBSCRIPTION:
        data["sender"] = draw(st.sampled_from(SENDERS))
    if shape_of(op) is not ValueShape.NONE:
        data["value"] = draw(_value(spec, op))
    elif draw(st.booleans()):
        data["value"] = None
    return data


def _groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, children),
    )


def segments_for(custom_fields: Mapping[str, FieldType]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid segment JSON (dicts) over the standard fields and ``custom_fields``."""
    return st.recursive(condition_json(custom_fields), _groups, max_leaves=8)


segment_json = segments_for(CUSTOM_FIELDS)
"""Valid segment JSON (dicts), nested up to a few levels."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(
        [op.value for op in Operator] + list(STANDARD_FIELDS) + ["custom.score", "days"]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["all", "any", "not", "field", "op", "value", "sender", "amount", "unit"]
            )
            | st.text(max_size=4),
            children,
            max_size=4,
        )
    ),
    max_leaves=25,
)
"""Arbitrary JSON values, biased towards the words of the segment language."""
