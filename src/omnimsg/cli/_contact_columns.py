"""The columns of a contacts CSV that the command line reads beyond the importer.

The audiences importer (A5) keeps columns it does not know as text; ``omnimsg plan``
and ``omnimsg audit`` read three of them as what a CSV cannot otherwise say:
``subscription`` (the contact's opt-in status with every sender),
``subscription:ACCOUNT`` (with one account) and ``last_channel`` (the channel the
contact last interacted on, B3). This module owns those names and reading them into
a :class:`~omnimsg.Contact`, and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from types import MappingProxyType
from typing import Any

import attrs

from omnimsg import ChannelKind, Contact, InputError, OptInState, SubscriptionStatus
from omnimsg._files import shown_path

__all__ = ["CHANNEL_COLUMN", "SUBSCRIPTION_COLUMN", "column_of", "with_columns"]

SUBSCRIPTION_COLUMN = "subscription"
"""The CSV column of a contact's opt-in status with every sender (``subscription:ACCOUNT``:
with one)."""
CHANNEL_COLUMN = "last_channel"
"""The CSV column of the channel a contact last interacted on (B3)."""
_NOT_NAME = re.compile(r"[\W_]+")
_STATUSES = ", ".join(s.value for s in SubscriptionStatus)
_KINDS = ", ".join(k.value for k in ChannelKind)


def _column_error(path: str, contact: Contact, column: str, message: str) -> InputError:
    return InputError(
        f"contacts file {shown_path(path)}: contact {contact.id!r}, column {column!r}: {message}"
    )


def _text_cell(path: str, contact: Contact, column: str, value: object) -> str:
    if not isinstance(value, str):
        raise _column_error(path, contact, column, f"expected text, got {type(value).__name__}")
    return value


def _status(path: str, contact: Contact, column: str, value: object) -> OptInState | None:
    value = _text_cell(path, contact, column, value)
    if not value.strip():
        return None
    try:
        return OptInState.of(SubscriptionStatus(value.strip().lower()))
    except ValueError:
        raise _column_error(
            path, contact, column, f"{value[:40]!r} is not a status; expected one of {_STATUSES}"
        ) from None


def column_of(name: str) -> tuple[str, str] | None:
    """What a column read here is: ``(SUBSCRIPTION_COLUMN, account or "")`` or
    ``(CHANNEL_COLUMN, "")``; ``None`` for any other column. Names compare as the
    importer's do, ignoring case, spaces and punctuation (``Last channel``)."""
    head, colon, account = name.partition(":")
    normal = _NOT_NAME.sub("_", head.casefold()).strip("_")
    if normal == SUBSCRIPTION_COLUMN:
        return (SUBSCRIPTION_COLUMN, account.strip() if colon else "")
    if normal == CHANNEL_COLUMN and not colon:
        return (CHANNEL_COLUMN, "")
    return None


def with_columns(path: str, contact: Contact, accounts: Collection[str]) -> Contact:
    """``contact`` with the subscription and last channel columns read into their fields.

    A bare ``subscription`` column applies to every one of ``accounts``.

    Raises:
        InputError: a cell that is no status or no channel, naming the contacts file
            (``path``), the contact and the column.
    """
    custom = contact.custom
    if not any(column_of(name) for name in custom):
        return contact
    kept: dict[str, Any] = {}
    every: OptInState | None = None
    one: dict[str, OptInState] = {}
    channel = contact.last_interacted_channel
    for name, value in custom.items():
        column = column_of(name)
        if column is None:
            kept[name] = value
        elif column == (SUBSCRIPTION_COLUMN, ""):
            every = _status(path, contact, name, value)
        elif column[0] == SUBSCRIPTION_COLUMN:
            state = _status(path, contact, name, value)
            if state is not None:
                one[column[1]] = state
        else:
            cell = _text_cell(path, contact, name, value).strip()
            if cell:
                try:
                    channel = ChannelKind(cell.lower())
                except ValueError:
                    raise _column_error(
                        path, contact, name, f"{cell[:40]!r} is not a channel; expected {_KINDS}"
                    ) from None
    subscriptions = dict(contact.subscriptions)
    if every is not None:
        subscriptions.update(dict.fromkeys(accounts, every))
    subscriptions.update(one)
    return attrs.evolve(
        contact,
        custom=MappingProxyType(kept),
        subscriptions=subscriptions,
        last_interacted_channel=channel,
    )
