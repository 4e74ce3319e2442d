"""Builders for tests: a profile derived in one line, contacts with sensible defaults.

Nothing here reads the clock: a contact factory counts "how long ago" from the
instant it is given. The pytest fixtures ``make_profile`` and ``make_contact`` are
these builders bound to the test's profile and instant.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs

from omnimsg._convert import shown, to_instant, to_optional_text, to_text
from omnimsg.channels.kinds import ChannelKind, parse_channel_kind
from omnimsg.channels.registry import Profile, load_profile
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError
from omnimsg.state import SubscriptionStatus

__all__ = ["DEFAULT_ACCOUNTS", "ContactFactory", "derive_profile"]

DEFAULT_ACCOUNTS: Mapping[str, ChannelKind] = MappingProxyType(
    {"wa-1": ChannelKind.WHATSAPP, "sms-1": ChannelKind.SMS}
)
"""The accounts a built contact has an identity on unless told: one WhatsApp number
and one SMS number."""

_PHONE_KINDS = frozenset({ChannelKind.WHATSAPP, ChannelKind.SMS})
_AUTO: Any = object()
_Inbound = datetime | timedelta | None
_CONTACT_FIELDS = frozenset(a.name for a in attrs.fields(Contact) if a.init)


def _profile(base: object) -> Profile:
    if isinstance(base, Profile):
        return base
    if isinstance(base, str):
        return load_profile(base)
    raise InputError(f"base: expected a profile or a profile's name, got {shown(base)}")


_DEEPEST = 32
"""How deep override tables may nest (a profile's own are a few levels deep)."""


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: tables key by key, other values replaced."""
    if depth > _DEEPEST:
        raise InputError(f"overrides: tables nested more than {_DEEPEST} deep")
    merged = dict(base)
    for key, value in extra.items():
        before = merged.get(key)
        both = isinstance(before, Mapping) and isinstance(value, Mapping)
        merged[key] = _merged(before, value, depth + 1) if both else value  # type: ignore[arg-type]
    return merged


def derive_profile(
    base: str | Profile,
    *,
    name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    **channels: Mapping[str, Any],
) -> Profile:
    """A profile derived from ``base`` with overrides, in one line (SPEC W8).

    ``derive_profile("official", whatsapp={"window": "48h"}, sms={"quiet_hours":
    {"start": "09:00", "end": "20:00"}})``: each keyword names a channel kind and holds
    that channel's settings in the profile file format (docs/profiles.md); tables
    merge key by key, other values replace.

    Args:
        base: a built-in profile's name, a ``.toml`` path, or a :class:`Profile`.
        name: the new profile's name (default ``<base>-test``).
        overrides: top-level overrides (``{"channels": {...}}`` or any profile key),
            merged before the per-channel keywords.
        **channels: per-channel overrides, by channel kind.

    Returns:
        The derived, validated :class:`~omnimsg.channels.registry.Profile`.

    Raises:
        UnknownChannelError: a keyword is not a channel kind.
        ProfileError: the overrides break the profile format.
        InputError: an argument is not of its type.
    """
    profile = _profile(base)
    label = f"{profile.name}-test" if name is None else to_text(name, "name")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise InputError(f"overrides: expected a table (mapping), got {shown(overrides)}")
    merged: dict[str, Any] = dict(overrides or {})
    if channels:
        table = merged.get("channels")
        if table is not None and not isinstance(table, Mapping):
            raise InputError(f"overrides.channels: expected a table, got {shown(table)}")
        joined: dict[str, Any] = dict(table or {})
        for key, settings in channels.items():
            kind = parse_channel_kind(key).value
            if not isinstance(settings, Mapping):
                raise InputError(f"{key}: expected a table of settings, got {shown(settings)}")
            before = joined.get(kind)
            joined[kind] = _merged(before, settings) if isinstance(before, Mapping) else settings
        merged["channels"] = joined
    return profile.derive(label, merged)


def account_kinds(value: object) -> dict[str, ChannelKind]:
    """``accounts`` as account id to channel kind, each id non-empty text.

    Raises:
        InputError: not a mapping, an empty id, or an unknown channel kind.
    """
    if not isinstance(value, Mapping):
        raise InputError(
            f"accounts: expected a mapping of account id to channel, got {shown(value)}"
        )
    found: dict[str, ChannelKind] = {}
    for account, kind in value.items():
        key = to_text(account, "accounts")
        if not key:
            raise InputError("accounts: an account id must not be empty")
        found[key] = parse_channel_kind(kind)
    return found


def _accounts_named(value: object, accounts: Mapping[str, ChannelKind], name: str) -> set[str]:
    """``True`` (every account), ``False`` (none) or the account ids named."""
    if value is True:
        return set(accounts)
    if value is False or value is None:
        return set()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable):
        raise InputError(f"{name}: expected a bool or account ids, got {shown(value)}")
    named = {to_text(item, name) for item in value}
    unknown = sorted(named - set(accounts))
    if unknown:
        raise InputError(
            f"{name}: {shown(unknown[0])} is not one of the contact's accounts "
            f"{sorted(accounts)[:20]}"
        )
    return named


class ContactFactory:
    """Builds contacts with unique ids and an identity on each account (a test's
    ``make_contact``).

    ``factory(phone="+34612345678", last_inbound=timedelta(hours=2), opted_out=True)``
    returns a :class:`~omnimsg.contacts.Contact` named ``contact-<n>`` (``id=`` sets
    another), with a valid Spanish mobile number unless ``phone`` is given (``None``
    for none), and an identity on every account of ``accounts`` (default
    :data:`DEFAULT_ACCOUNTS`): the phone's digits on WhatsApp, the phone on SMS,
    ``<kind>-<id>`` elsewhere.

    Args:
        now: the instant relative ``last_inbound`` values count back from.
        ids: the numbers ids are made from (default 1, 2, 3, ...).
        accounts: the default accounts, account id to channel kind.

    Raises:
        InputError: an argument is not of its type (or ``now`` is naive).
    """

    def __init__(
        self,
        now: datetime,
        *,
        ids: Iterator[int] | None = None,
        accounts: Mapping[str, ChannelKind | str] | None = None,
    ) -> None:
        self._now = to_instant(now, "now")
        if ids is not None and not isinstance(ids, Iterator):
            raise InputError(f"ids: expected an iterator of numbers, got {shown(ids)}")
        self._ids = ids if ids is not None else itertools.count(1)
        self._accounts = dict(DEFAULT_ACCOUNTS) if accounts is None else account_kinds(accounts)

    def __call__(
        self,
        *,
        id: str | None = None,
        phone: str | None = _AUTO,
        accounts: Mapping[str, ChannelKind | str] | None = None,
        last_inbound: datetime
        | timedelta
        | Mapping[str, datetime | timedelta | None]
        | None = None,
        opted_out: bool | str | Iterable[str] = False,
        subscribed: bool | str | Iterable[str] = False,
        first_name: str | None = "Ana",
        **fields: Any,
    ) -> Contact:
        """A new contact.

        Args:
            id: the contact's id (default ``contact-<n>``, unique per factory).
            phone: its phone number (default: a valid, unique Spanish mobile).
            accounts: account id to channel kind: where it has identities.
            last_inbound: when it last wrote: an aware datetime, a timedelta (that
                long before the factory's instant), ``None`` (never), or a mapping of
                account id to one of those.
            opted_out: ``True`` for unsubscribed on every account (X1), or the
                account ids it unsubscribed from (each one of its accounts).
            subscribed: ``True`` for subscribed on every account (B12), or the
                account ids (each one of its accounts).
            first_name: its first name.
            **fields: any other :class:`~omnimsg.contacts.Contact` field (``email``,
                ``timezone``, ``tags``, ``custom``, ``language``, ...).

        Returns:
            The contact.

        Raises:
            InputError: a value is not of its type, an account is both opted out
                and subscribed, ``opted_out`` or ``subscribed`` names an account the
                contact is not on, or ``ids`` is used up.
        """
        number = next(self._ids, None)
        if number is None:
            raise InputError("ids: the iterator of numbers is used up")
        if isinstance(number, bool) or not isinstance(number, int):
            raise InputError(f"ids: expected whole numbers, got {shown(number)}")
        cid = f"contact-{number}" if id is None else to_text(id, "id")
        if phone is _AUTO:
            phone = f"+3461{number % 10_000_000:07d}"
        else:
            phone = to_optional_text(phone, "phone")
        chosen = self._accounts if accounts is None else account_kinds(accounts)
        out = _accounts_named(opted_out, chosen, "opted_out")
        yes = _accounts_named(subscribed, chosen, "subscribed")
        if out & yes:
            raise InputError(f"opted_out and subscribed both name {sorted(out & yes)}")
        subscriptions: dict[str, SubscriptionStatus] = dict.fromkeys(
            yes, SubscriptionStatus.SUBSCRIBED
        )
        subscriptions.update(dict.fromkeys(out, SubscriptionStatus.UNSUBSCRIBED))
        identities = tuple(
            ChannelIdentity(
                account_id=account,
                channel=kind,
                external_id=self._external(cid, kind, phone),
                last_inbound_at=self._inbound(last_inbound, account),
            )
            for account, kind in chosen.items()
            if kind not in _PHONE_KINDS or phone is not None
        )
        if "subscriptions" in fields:
            given = fields.pop("subscriptions")
            if not isinstance(given, Mapping):
                raise InputError(f"subscriptions: expected a mapping, got {shown(given)}")
            subscriptions = {**given, **subscriptions}
        unknown = sorted(set(fields) - _CONTACT_FIELDS)
        if unknown:
            raise InputError(f"{unknown[0]}: not a Contact field")
        return Contact(
            id=cid,
            phone=phone,
            first_name=first_name,
            identities=identities,
            subscriptions=subscriptions,
            **fields,
        )

    @staticmethod
    def _external(cid: str, kind: ChannelKind, phone: str | None) -> str:
        if kind in _PHONE_KINDS and phone is not None:
            return phone.lstrip("+") if kind is ChannelKind.WHATSAPP else phone
        return f"{kind.value}-{cid}"

    def _inbound(self, value: object, account: str) -> datetime | None:
        if isinstance(value, Mapping):
            value = value.get(account)
        if value is None:
            return None
        if isinstance(value, timedelta):
            try:
                return to_instant(self._now - value, "last_inbound")
            except OverflowError:
                raise InputError(f"last_inbound: {value} before {self._now} overflows") from None
        if isinstance(value, datetime):
            return to_instant(value, "last_inbound")
        raise InputError(
            f"last_inbound: expected an aware datetime, a timedelta or None, got {shown(value)}"
        )
