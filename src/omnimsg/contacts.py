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
from typing import Any

import attrs
from dateutil.parser import isoparse

from omnimsg._time import require_aware
from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.errors import InputError
from omnimsg.phones import parse_phone, phone_region, phone_time_zones

__all__ = [
    "ChannelIdentity",
    "Contact",
    "ConversationStatus",
    "CustomValue",
    "SubscriptionStatus",
]

CustomValue = str | int | float | bool | datetime | None
"""A typed custom field value. Datetimes are always timezone-aware."""


class SubscriptionStatus(StrEnum):
    """Where a contact stands with one sender's marketing messages (B12, X1)."""

    NOT_ASKED = "not_asked"
    PROMPTED = "prompted"
    SUBSCRIBED = "subscribed"
    DECLINED = "declined"
    UNSUBSCRIBED = "unsubscribed"


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
        raise InputError(f"{name}: expected a datetime with a time zone, got a date {value!r}")
    if isinstance(value, str):
        try:
            parsed = isoparse(value)
        except ValueError:
            raise InputError(f"{name}: expected an ISO 8601 datetime, got {value!r}") from None
        return require_aware(parsed, name)
    raise InputError(f"{name}: expected a datetime, got {type(value).__name__}")


@attrs.frozen
class ChannelIdentity:
    """A contact's identity on one channel account (A4): the platform's id or phone."""

    account_id: str
    channel: ChannelKind
    external_id: str
    first_seen_at: datetime | None = None
    last_inbound_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "identity") -> ChannelIdentity:
        try:
            account_id = str(data["account_id"])
            channel = parse_channel_kind(data["channel"])
            external_id = str(data["external_id"])
        except KeyError as exc:
            raise InputError(f"{path}: missing key {exc.args[0]!r}") from None
        return cls(
            account_id=account_id,
            channel=channel,
            external_id=external_id,
            first_seen_at=_aware_or_none(data.get("first_seen_at"), f"{path}.first_seen_at"),
            last_inbound_at=_aware_or_none(data.get("last_inbound_at"), f"{path}.last_inbound_at"),
        )


def _tags(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


def _identities(value: Iterable[ChannelIdentity]) -> tuple[ChannelIdentity, ...]:
    return tuple(value)


def _mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Contact:
    """A contact of the business.

    ``phone`` is E.164; ``phone_region`` (ISO 3166 alpha-2) is derived from it when
    not given. ``custom`` holds typed custom fields. ``subscriptions`` maps a sender
    (channel account id) to the contact's opt-in status with it. ``channels`` is the
    set of channel kinds the contact has an identity on (derived).

    Build with :meth:`from_dict` for outside data (validates and normalises); the
    constructor itself trusts its arguments, for callers that already validated them.
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
    custom: Mapping[str, CustomValue] = attrs.field(factory=dict, converter=_mapping)
    identities: tuple[ChannelIdentity, ...] = attrs.field(default=(), converter=_identities)
    last_interacted_channel: ChannelKind | None = None
    conversation_status: ConversationStatus | None = None
    assignee: str | None = None
    subscriptions: Mapping[str, SubscriptionStatus] = attrs.field(factory=dict, converter=_mapping)
    created_at: datetime | None = None
    channels: frozenset[ChannelKind] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "channels", frozenset(i.channel for i in self.identities))
        if self.phone is not None and self.phone_region is None:
            object.__setattr__(self, "phone_region", phone_region(self.phone))

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
        become datetimes (naive ones are refused), enum strings become enums.
        Raises :class:`~omnimsg.errors.InputError` naming the field.
        """
        if "id" not in data or data["id"] in (None, ""):
            raise InputError("contact: missing 'id'")
        cid = str(data["id"])
        where = f"contact {cid!r}"
        phone = data.get("phone")
        e164 = region = None
        if phone not in (None, ""):
            try:
                e164, region = parse_phone(str(phone), default_region)
            except InputError as exc:
                raise type(exc)(f"{where}.phone: {exc}") from None
        custom: dict[str, CustomValue] = {}
        for key, value in (data.get("custom") or {}).items():
            if isinstance(value, datetime):
                require_aware(value, f"{where}.custom.{key}")
            elif value is not None and not isinstance(value, str | int | float | bool):
                raise InputError(
                    f"{where}.custom.{key}: unsupported type {type(value).__name__}; "
                    "expected str, int, float, bool or an aware datetime"
                )
            custom[str(key)] = value
        identities = tuple(
            item
            if isinstance(item, ChannelIdentity)
            else ChannelIdentity.from_dict(item, path=f"{where}.identities[{i}]")
            for i, item in enumerate(data.get("identities") or ())
        )
        status = data.get("conversation_status")
        lic = data.get("last_interacted_channel")
        subs_raw = data.get("subscriptions") or {}
        try:
            subscriptions = {str(k): SubscriptionStatus(v) for k, v in subs_raw.items()}
            conversation_status = ConversationStatus(status) if status else None
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        return cls(
            id=cid,
            first_name=data.get("first_name") or None,
            last_name=data.get("last_name") or None,
            email=(str(data["email"]).strip() or None) if data.get("email") else None,
            phone=e164,
            phone_region=region,
            timezone=data.get("timezone") or None,
            language=data.get("language") or None,
            lifecycle=data.get("lifecycle") or None,
            tags=_tags(data.get("tags") or ()),
            custom=custom,
            identities=identities,
            last_interacted_channel=parse_channel_kind(lic) if lic else None,
            conversation_status=conversation_status,
            assignee=data.get("assignee") or None,
            subscriptions=subscriptions,
            created_at=_aware_or_none(data.get("created_at"), f"{where}.created_at"),
        )
