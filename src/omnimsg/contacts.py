"""The contact: who a message goes to, as segments and the planner read it.

A :class:`Contact` is a frozen value, built once (from a dict, a CSV row or a
database row) and then read many times by predicates and decisions. Everything
that is costly to derive (phone region, the set of channel kinds) is derived at
build time, never per read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
from dateutil.parser import isoparse

from omnimsg._convert import shown, to_enum
from omnimsg._identities import merged_identities
from omnimsg._time import require_aware
from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.errors import InputError, UnknownChannelError
from omnimsg.phones import parse_phone, phone_region, phone_time_zones
from omnimsg.state import OptInState, SubscriptionStatus

__all__ = [
    "TEXT_FIELDS",
    "ChannelIdentity",
    "Contact",
    "ConversationStatus",
    "CustomValue",
    "SubscriptionStatus",
    "merge_contacts",
]

CustomValue = str | int | float | bool | datetime | None
"""A typed custom field value. Datetimes are always timezone-aware."""


E = TypeVar("E", bound=StrEnum)


class ConversationStatus(StrEnum):
    """State of a contact's conversation (A6). A snoozed one is neither open nor closed."""

    OPEN = "open"
    CLOSED = "closed"
    SNOOZED = "snoozed"


def _aware_or_none(value: object, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return require_aware(value, name)
    if isinstance(value, date):
        raise InputError(f"{name}: expected a datetime with a time zone, got a date {value}")
    if isinstance(value, str):
        try:
            parsed = isoparse(value)
        except ValueError:
            raise InputError(f"{name}: expected an ISO 8601 datetime, got {shown(value)}") from None
        return require_aware(parsed, name)
    raise InputError(f"{name}: expected a datetime, got {type(value).__name__}")


def _identity_text(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, str):
            raise InputError(f"ChannelIdentity.{name}: expected text, got {type(value).__name__}")

    return check


def _identity_channel(value: object) -> ChannelKind:
    return to_enum(ChannelKind, value, "ChannelIdentity.channel")


def _first_seen(value: object) -> datetime | None:
    return _aware_instant(value, "ChannelIdentity.first_seen_at")


def _identity_last_inbound(value: object) -> datetime | None:
    return _aware_instant(value, "ChannelIdentity.last_inbound_at")


def _aware_instant(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InputError(f"{name}: expected a datetime, got {type(value).__name__}")
    return require_aware(value, name)


@attrs.frozen
class ChannelIdentity:
    """A contact's identity on one channel account (A4): the platform's id or phone.

    Raises :class:`~omnimsg.errors.InputError` for fields of the wrong type.
    """

    account_id: str = attrs.field(validator=_identity_text("account_id"))
    channel: ChannelKind = attrs.field(converter=_identity_channel)
    external_id: str = attrs.field(validator=_identity_text("external_id"))
    first_seen_at: datetime | None = attrs.field(default=None, converter=_first_seen)
    last_inbound_at: datetime | None = attrs.field(default=None, converter=_identity_last_inbound)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "identity") -> ChannelIdentity:
        """Build an identity from outside data; errors name ``path`` and the key."""
        if not isinstance(path, str):
            raise InputError(f"path: expected text, got {type(path).__name__}")
        if not isinstance(data, Mapping):
            raise InputError(f"{path}: expected a mapping, got {type(data).__name__}")
        try:
            account_id = str(data["account_id"])
            external_id = str(data["external_id"])
            channel = parse_channel_kind(data["channel"])
        except KeyError as exc:
            raise InputError(f"{path}: missing key {exc.args[0]!r}") from None
        except UnknownChannelError as exc:
            raise UnknownChannelError(f"{path}.channel: {exc}") from None
        return cls(
            account_id=account_id,
            channel=channel,
            external_id=external_id,
            first_seen_at=_aware_or_none(data.get("first_seen_at"), f"{path}.first_seen_at"),
            last_inbound_at=_aware_or_none(data.get("last_inbound_at"), f"{path}.last_inbound_at"),
        )


# The converters below run for every contact built (a whole audience from a store):
# exact-type checks come first, and the slower checks of abstract types only when
# they fail.


def _tags(value: Iterable[str]) -> frozenset[str]:
    if type(value) is frozenset and all(type(tag) is str for tag in value):
        return value
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(
            f"Contact.tags: expected text or a set of text, got {type(value).__name__}"
        )
    tags = tuple(value)
    if not all(isinstance(tag, str) for tag in tags):
        raise InputError("Contact.tags: every tag must be text")
    return frozenset(tags)


def _identities(value: Iterable[ChannelIdentity]) -> tuple[ChannelIdentity, ...]:
    if type(value) is tuple and all(type(item) is ChannelIdentity for item in value):
        return value
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(
            "Contact.identities: expected a sequence of ChannelIdentity, "
            f"got {type(value).__name__}"
        )
    identities = tuple(value)
    if not all(isinstance(item, ChannelIdentity) for item in identities):
        raise InputError("Contact.identities: every item must be a ChannelIdentity")
    return identities


_NO_CUSTOM: Mapping[str, Any] = MappingProxyType({})
_NO_CONSENT: Mapping[str, OptInState] = MappingProxyType({})


def _custom(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if type(value) is dict:
        return MappingProxyType(value.copy()) if value else _NO_CUSTOM
    if not isinstance(value, Mapping):
        raise InputError(f"Contact.custom: expected a mapping, got {type(value).__name__}")
    return MappingProxyType(dict(value))


def _consent_records(
    value: Mapping[str, OptInState | SubscriptionStatus | str],
) -> Mapping[str, OptInState]:
    if not value and type(value) is dict:
        return _NO_CONSENT
    if not isinstance(value, Mapping):
        raise InputError(f"Contact.subscriptions: expected a mapping, got {type(value).__name__}")
    records: dict[str, OptInState] = {}
    for sender, record in value.items():
        if not isinstance(sender, str):
            raise InputError("Contact.subscriptions: senders must be text")
        if not isinstance(record, OptInState | str):
            raise InputError(
                f"Contact.subscriptions[{shown(sender)}]: expected an OptInState or a status, "
                f"got {type(record).__name__}"
            )
        records[sender] = OptInState.of(record)
    return MappingProxyType(records)


def _last_channel(value: object) -> ChannelKind | None:
    return None if value is None else to_enum(ChannelKind, value, "Contact.last_interacted_channel")


def _status(value: object) -> ConversationStatus | None:
    return (
        None if value is None else to_enum(ConversationStatus, value, "Contact.conversation_status")
    )


_NONE: frozenset[ChannelKind] = frozenset()
_new_contact = object.__new__
TEXT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_region",
    "timezone",
    "language",
    "lifecycle",
    "assignee",
)
"""The contact's plain text fields, in the order stores and checks read them."""


@attrs.frozen
class Contact:
    """A contact of the business.

    ``phone`` is E.164; ``phone_region`` (ISO 3166 alpha-2) is derived from it when
    not given. ``custom`` holds typed custom fields. ``subscriptions`` maps a sender
    (channel account id) to the contact's consent record with it
    (:class:`~omnimsg.state.OptInState`; statuses are accepted and wrapped), the one
    place consent is kept. ``channels`` is the set of channel kinds the contact has an
    identity on (derived).

    Build with :meth:`from_dict` for outside data (validates and normalises phones,
    parses strings); the constructor checks types only, and raises
    :class:`~omnimsg.errors.InputError` naming the field.
    """

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    phone_region: str | None = None
    timezone: str | None = None
    language: str | None = None
    lifecycle: str | None = None
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    custom: Mapping[str, CustomValue] = attrs.field(factory=dict, converter=_custom)
    identities: tuple[ChannelIdentity, ...] = attrs.field(default=(), converter=_identities)
    last_interacted_channel: ChannelKind | None = attrs.field(default=None, converter=_last_channel)
    conversation_status: ConversationStatus | None = attrs.field(default=None, converter=_status)
    assignee: str | None = None
    subscriptions: Mapping[str, OptInState] = attrs.field(factory=dict, converter=_consent_records)
    created_at: datetime | None = None
    channels: frozenset[ChannelKind] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # One pass of cheap type checks instead of a validator per field.
        if not isinstance(self.id, str):
            raise InputError(f"Contact.id: expected text, got {type(self.id).__name__}")
        texts = (
            self.first_name,
            self.last_name,
            self.email,
            self.phone,
            self.phone_region,
            self.timezone,
            self.language,
            self.lifecycle,
            self.assignee,
        )
        if not all(value is None or type(value) is str for value in texts):
            for name, value in zip(TEXT_FIELDS, texts, strict=True):
                if value is not None and not isinstance(value, str):
                    raise InputError(f"Contact.{name}: expected text, got {type(value).__name__}")
        if self.created_at is not None:
            _aware_instant(self.created_at, "Contact.created_at")
        identities = self.identities
        object.__setattr__(
            self, "channels", frozenset(i.channel for i in identities) if identities else _NONE
        )
        if self.phone is not None and self.phone_region is None:
            object.__setattr__(self, "phone_region", phone_region(self.phone))

    @classmethod
    def trusted(
        cls,
        id: str,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        phone_region: str | None = None,
        timezone: str | None = None,
        language: str | None = None,
        lifecycle: str | None = None,
        tags: frozenset[str] = frozenset(),
        custom: Mapping[str, CustomValue] = _NO_CUSTOM,
        identities: tuple[ChannelIdentity, ...] = (),
        last_interacted_channel: ChannelKind | None = None,
        conversation_status: ConversationStatus | None = None,
        assignee: str | None = None,
        subscriptions: Mapping[str, OptInState] = _NO_CONSENT,
        created_at: datetime | None = None,
    ) -> Contact:
        """Build a contact from values a store wrote itself, checking nothing.

        The fast path for stores reading their own rows back: every value must
        already be of its field's type (``tags`` a frozenset, ``identities`` a tuple
        of :class:`ChannelIdentity`, enums as enums, ``custom`` and
        ``subscriptions`` read-only mappings, ``phone_region`` derived), as
        :meth:`from_dict` or the constructor would have made it. Outside data goes
        through :meth:`from_dict`.
        """
        contact = _new_contact(cls)
        _s = _SLOT_SETTERS
        _s[0](contact, id)
        _s[1](contact, first_name)
        _s[2](contact, last_name)
        _s[3](contact, email)
        _s[4](contact, phone)
        _s[5](contact, phone_region)
        _s[6](contact, timezone)
        _s[7](contact, language)
        _s[8](contact, lifecycle)
        _s[9](contact, tags)
        _s[10](contact, custom)
        _s[11](contact, identities)
        _s[12](contact, last_interacted_channel)
        _s[13](contact, conversation_status)
        _s[14](contact, assignee)
        _s[15](contact, subscriptions)
        _s[16](contact, created_at)
        try:
            _s[17](contact, frozenset(i.channel for i in identities) if identities else _NONE)
        except (AttributeError, TypeError):
            raise InputError(
                "Contact.trusted: identities must be a tuple of ChannelIdentity"
            ) from None
        return contact

    @property
    def name(self) -> str:
        """First and last name joined, or ``""``."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def identity_on(self, account_id: str) -> ChannelIdentity | None:
        """The contact's identity on a channel account, or ``None``."""
        for identity in self.identities:
            if identity.account_id == account_id:
                return identity
        return None

    def consent_with(self, sender: str) -> OptInState:
        """The contact's consent record with ``sender`` (not asked when there is none)."""
        if not isinstance(sender, str):
            raise InputError(f"sender: expected text, got {type(sender).__name__}")
        return self.subscriptions.get(sender) or OptInState.of(None)

    def time_zones(self) -> tuple[str, ...]:
        """The contact's time zone if set, else those its phone number may be in (X2)."""
        if self.timezone:
            return (self.timezone,)
        if self.phone:
            return phone_time_zones(self.phone)
        return ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, default_region: str | None = None) -> Contact:
        """Build a contact from outside data, validating and normalising it.

        Phones become E.164 (``default_region`` for national numbers), ISO strings
        become datetimes (naive ones are refused), enum strings become enums. Text
        fields must be strings, tags strings, ``custom`` and ``subscriptions``
        mappings. Raises :class:`~omnimsg.errors.InputError` (or its
        :class:`~omnimsg.errors.PhoneNumberError` / ``NaiveDatetimeError``) naming
        the field; an unknown channel kind is an ``UnknownChannelError`` naming it.
        """
        if not isinstance(data, Mapping):
            raise InputError(f"contact: expected a mapping, got {type(data).__name__}")
        if default_region is not None and not isinstance(default_region, str):
            raise InputError(f"default_region: expected a region code, got {shown(default_region)}")
        raw_id = data.get("id")
        if raw_id is None or raw_id == "":
            raise InputError("contact: missing 'id'")
        if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
            raise InputError(f"contact.id: expected text or a whole number, got {shown(raw_id)}")
        cid = str(raw_id)
        where = f"contact {shown(cid)}"
        text = {name: _text_field(data, name, where) for name in _FREE_TEXT}
        phone = _text_field(data, "phone", where)
        e164 = region = None
        if phone is not None:
            try:
                e164, region = parse_phone(phone, default_region)
            except InputError as exc:
                raise type(exc)(f"{where}.phone: {exc}") from None
        return cls(
            id=cid,
            first_name=text["first_name"],
            last_name=text["last_name"],
            email=(text["email"].strip() or None) if text["email"] else None,
            phone=e164,
            phone_region=region,
            timezone=text["timezone"],
            language=text["language"],
            lifecycle=text["lifecycle"],
            tags=_tag_field(data.get("tags"), where),
            custom=_custom_field(data.get("custom"), where),
            identities=_identity_field(data.get("identities"), where),
            last_interacted_channel=_channel_field(data.get("last_interacted_channel"), where),
            conversation_status=_enum_field(
                ConversationStatus, data.get("conversation_status"), f"{where}.conversation_status"
            ),
            assignee=text["assignee"],
            subscriptions=_subscription_field(data.get("subscriptions"), where),
            created_at=_aware_or_none(data.get("created_at"), f"{where}.created_at"),
        )


# Slot setters in field order: Contact.trusted writes the slots directly (attrs'
# frozen __setattr__ refuses assignment; the slots' own descriptors do not).
_SLOT_SETTERS = tuple(Contact.__dict__[f.name].__set__ for f in attrs.fields(Contact))


# The text fields from_dict takes as they are (the phone is parsed, its region derived).
_FREE_TEXT = tuple(name for name in TEXT_FIELDS if name not in ("phone", "phone_region"))


def _text_field(data: Mapping[str, Any], name: str, where: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if name == "phone" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{where}.{name}: expected text, got {type(value).__name__}")
    return value


def _tag_field(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise InputError(f"{where}.tags: expected a list of text, got {type(value).__name__}")
    tags = tuple(value)
    for tag in tags:
        if not isinstance(tag, str):
            raise InputError(f"{where}.tags: every tag must be text, got {shown(tag)}")
    return frozenset(tags)


def _custom_field(value: object, where: str) -> dict[str, CustomValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where}.custom: expected a mapping, got {type(value).__name__}")
    custom: dict[str, CustomValue] = {}
    for key, item in value.items():
        if isinstance(item, datetime):
            require_aware(item, f"{where}.custom.{key}")
        elif item is not None and not isinstance(item, str | int | float | bool):
            raise InputError(
                f"{where}.custom.{key}: unsupported type {type(item).__name__}; "
                "expected str, int, float, bool or an aware datetime"
            )
        custom[str(key)] = item
    return custom


def _identity_field(value: object, where: str) -> tuple[ChannelIdentity, ...]:
    if value is None:
        return ()
    if isinstance(value, str | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"{where}.identities: expected a list, got {type(value).__name__}")
    identities = []
    for i, item in enumerate(value):
        path = f"{where}.identities[{i}]"
        if isinstance(item, ChannelIdentity):
            identities.append(item)
        elif isinstance(item, Mapping):
            identities.append(ChannelIdentity.from_dict(item, path=path))
        else:
            raise InputError(f"{path}: expected a mapping, got {type(item).__name__}")
    return tuple(identities)


def _channel_field(value: object, where: str) -> ChannelKind | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise UnknownChannelError(f"expected a channel kind name, got {shown(value)}")
        return parse_channel_kind(value)
    except UnknownChannelError as exc:
        raise UnknownChannelError(f"{where}.last_interacted_channel: {exc}") from None


def _enum_field(cls: type[E], value: object, path: str) -> E | None:
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise InputError(f"{path}: expected one of {allowed}; got {shown(value)}") from None


def _subscription_field(value: object, where: str) -> dict[str, OptInState]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where}.subscriptions: expected a mapping, got {type(value).__name__}")
    subscriptions: dict[str, OptInState] = {}
    for sender, record in value.items():
        if isinstance(record, OptInState):
            subscriptions[str(sender)] = record
            continue
        parsed = _enum_field(SubscriptionStatus, record, f"{where}.subscriptions.{sender}")
        if parsed is None:
            raise InputError(f"{where}.subscriptions.{sender}: missing status")
        subscriptions[str(sender)] = OptInState.of(parsed)
    return subscriptions


_MERGED_SCALARS = (
    "first_name",
    "last_name",
    "email",
    "timezone",
    "language",
    "lifecycle",
    "last_interacted_channel",
    "conversation_status",
    "assignee",
    "created_at",
)


def merge_contacts(existing: Contact, incoming: Contact) -> Contact:
    """Fold ``incoming`` into ``existing``: the earlier contact wins, the later one fills.

    Fields set on ``existing`` are kept; empty ones (``None``) take ``incoming``'s
    value (the phone together with its region). Tags are unioned; custom fields,
    identities and consent records ``existing`` lacks are added. The id stays
    ``existing.id``.

    A WhatsApp identity of ``incoming`` that is the same person (P16) as one of
    ``existing`` on the same account (``5215512345678`` and ``525512345678``) is
    not added beside it: it takes its place, keeping the earlier ``first_seen_at``
    and the later ``last_inbound_at``, because replies go to the id the platform
    sent last.
    """
    for name, given in (("existing", existing), ("incoming", incoming)):
        if not isinstance(given, Contact):
            raise InputError(f"{name}: expected a Contact, got {type(given).__name__}")
    changes: dict[str, Any] = {}
    for name in _MERGED_SCALARS:
        if getattr(existing, name) is None:
            value = getattr(incoming, name)
            if value is not None:
                changes[name] = value
    if existing.phone is None and incoming.phone is not None:
        changes["phone"] = incoming.phone
        changes["phone_region"] = incoming.phone_region
    if not incoming.tags <= existing.tags:
        changes["tags"] = existing.tags | incoming.tags
    custom = dict(existing.custom)
    for key, value in incoming.custom.items():
        if custom.get(key) is None and value is not None:
            custom[key] = value
    if custom != existing.custom:
        changes["custom"] = custom
    identities = merged_identities(existing.identities, incoming.identities)
    if identities is not None:
        changes["identities"] = identities
    subscriptions = {**incoming.subscriptions, **existing.subscriptions}
    if subscriptions != existing.subscriptions:
        changes["subscriptions"] = subscriptions
    return attrs.evolve(existing, **changes) if changes else existing
