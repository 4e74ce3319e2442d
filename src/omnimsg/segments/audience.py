"""Audiences from pasted lists of visitor ids (SPEC A3, A4).

This module owns two steps and nothing else:

* :func:`parse_id_list` turns pasted text into the distinct ids it names (A3):
  ids are separated by any mix of whitespace (newlines, CRLF, tabs, spaces), commas
  and semicolons; empty pieces are ignored; a repeated id counts once.
* :func:`resolve_id_list` checks every id against the chosen channel account (A4):
  an id belongs to the account when a contact has a :class:`ChannelIdentity` with
  that ``account_id`` and ``external_id``. An id that does not belong is never
  dropped silently; it comes back as a :class:`RejectedId` with a stable reason code.

The caller supplies the lookup (a mapping, a callable, or a :class:`ContactIndex`);
this module does no I/O and keeps no state between calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

import attrs

from omnimsg.contacts import Contact
from omnimsg.errors import InputError

__all__ = [
    "MAX_ID_LENGTH",
    "AccountAwareLookup",
    "ContactIndex",
    "ContactLookup",
    "IdAudience",
    "IdList",
    "IdRejection",
    "RejectedId",
    "id_problem",
    "parse_id_list",
    "resolve_id_list",
]

MAX_ID_LENGTH = 256
"""The longest id accepted by default; longer pieces are reported as malformed (A4)."""

# Unicode whitespace (str.split() semantics) plus the two punctuation separators of A3.
_SEPARATORS = re.compile(r"[\s,;]+")
_BOM = "\ufeff"
_SHOWN_CHARS = 40


class IdRejection(StrEnum):
    """Why an id of a pasted list is not sent to (A4). Values are stable strings."""

    UNKNOWN_ID = "unknown_id"
    """No contact has this id on the chosen account (and none elsewhere, if known)."""
    OTHER_ACCOUNT = "other_account"
    """The id belongs to a contact on another channel account."""
    MALFORMED_ID = "malformed_id"
    """The piece cannot be an id: too long, or it holds control or invisible characters."""


def _show(value: str) -> str:
    """``repr`` of a value cut to a readable length, for messages."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + "…"


def id_problem(value: str, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Say why ``value`` cannot be an external id, or return ``None`` when it can.

    An id is at most ``max_length`` characters and holds no control, format
    (zero-width, BOM), surrogate or private-use character. Whitespace never reaches
    here from :func:`parse_id_list`, since it separates ids.
    """
    if len(value) > max_length:
        return f"id {_show(value)} is {len(value)} characters long; ids have at most {max_length}"
    if value.isprintable():
        return None
    # str.isprintable() is all(c.isprintable()), so some character is the culprit.
    position, char = next((p, c) for p, c in enumerate(value, start=1) if not c.isprintable())
    return (
        f"id {_show(value)} contains the control or invisible character "
        f"U+{ord(char):04X} at position {position}"
    )


@attrs.frozen
class IdList:
    """The distinct ids of a pasted list, in first-seen order (A3).

    ``read`` counts the non-empty pieces; ``duplicates`` how many of them repeated an
    earlier piece, so ``read == len(ids) + duplicates``.
    """

    ids: tuple[str, ...]
    read: int
    duplicates: int


def parse_id_list(text: str | Iterable[str]) -> IdList:
    """Split pasted text into distinct ids (A3).

    Args:
        text: the pasted text, or an iterable of chunks (lines of a file, items of a
            list); each chunk is read as if a newline followed it.

    Returns:
        An :class:`IdList`. Separators are whitespace of any kind (including CRLF and
        tabs), ``,`` and ``;``, in any mix and number; a byte order mark at the very
        start is dropped. Ids are compared exactly (case-sensitive).
    """
    chunks: Iterable[str] = (text,) if isinstance(text, str) else text
    seen: dict[str, None] = {}
    read = 0
    first = True
    for chunk in chunks:
        if first:
            first = False
            if chunk.startswith(_BOM):
                chunk = chunk[1:]
        for piece in _SEPARATORS.split(chunk):
            if piece:
                read += 1
                seen.setdefault(piece)
    return IdList(ids=tuple(seen), read=read, duplicates=read - len(seen))


class ContactLookup(Protocol):
    """Find the contact with an identity on a channel account, or ``None``."""

    def __call__(self, account_id: str, external_id: str, /) -> Contact | None: ...


@runtime_checkable
class AccountAwareLookup(Protocol):
    """A lookup that can also say which accounts an external id exists on.

    With it, :func:`resolve_id_list` reports :attr:`IdRejection.OTHER_ACCOUNT`
    instead of :attr:`IdRejection.UNKNOWN_ID` for ids of another account.
    """

    def __call__(self, account_id: str, external_id: str, /) -> Contact | None: ...

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        """The accounts on which some contact has ``external_id``."""
        ...


class ContactIndex:
    """An in-memory :class:`AccountAwareLookup` over an iterable of contacts.

    Indexes every :class:`ChannelIdentity` of every contact by
    ``(account_id, external_id)``.

    Raises:
        InputError: two different contacts claim the same identity on one account.
    """

    __slots__ = ("_accounts", "_by_identity")

    def __init__(self, contacts: Iterable[Contact]) -> None:
        by_identity: dict[tuple[str, str], Contact] = {}
        accounts: dict[str, set[str]] = {}
        for contact in contacts:
            for identity in contact.identities:
                key = (identity.account_id, identity.external_id)
                other = by_identity.setdefault(key, contact)
                if other.id != contact.id:
                    raise InputError(
                        f"contacts {other.id!r} and {contact.id!r} both claim id "
                        f"{identity.external_id!r} on account {identity.account_id!r}"
                    )
                accounts.setdefault(identity.external_id, set()).add(identity.account_id)
        self._by_identity = by_identity
        self._accounts = {external_id: frozenset(ids) for external_id, ids in accounts.items()}

    def __call__(self, account_id: str, external_id: str, /) -> Contact | None:
        """The contact with ``external_id`` on ``account_id``, or ``None``."""
        return self._by_identity.get((account_id, external_id))

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        """The accounts on which some contact has ``external_id``."""
        return self._accounts.get(external_id, frozenset())

    def __len__(self) -> int:
        return len(self._by_identity)


@attrs.frozen
class RejectedId:
    """An id of the list that is not sent to, with why (A4).

    ``accounts`` lists the other accounts the id belongs to, when the reason is
    :attr:`IdRejection.OTHER_ACCOUNT`.
    """

    id: str
    reason: IdRejection
    message: str
    accounts: tuple[str, ...] = ()


@attrs.frozen
class IdAudience:
    """The outcome of resolving a pasted id list against one channel account (A3, A4).

    ``contacts`` are the matched contacts in the order their ids first appeared;
    ``rejected`` every id that is not sent to, in the same order. ``read`` counts the
    non-empty pieces pasted, ``duplicate_ids`` the repeated ones, and
    ``duplicate_contacts`` the distinct ids that led to a contact already matched
    by an earlier id (each contact is in ``contacts`` once). Always::

        read == duplicate_ids + len(contacts) + duplicate_contacts + len(rejected)
    """

    account_id: str
    contacts: tuple[Contact, ...]
    rejected: tuple[RejectedId, ...]
    read: int
    duplicate_ids: int
    duplicate_contacts: int = 0

    @property
    def distinct_ids(self) -> int:
        """How many distinct ids the list named."""
        return self.read - self.duplicate_ids

    @property
    def ok(self) -> bool:
        """``True`` when every id of the list belongs to the account."""
        return not self.rejected


def _identity_matches(contact: Contact, account_id: str, external_id: str) -> bool:
    return any(
        i.account_id == account_id and i.external_id == external_id for i in contact.identities
    )


def resolve_id_list(
    ids: IdList | str | Iterable[str],
    *,
    account_id: str,
    lookup: ContactLookup | Mapping[tuple[str, str], Contact],
    max_id_length: int = MAX_ID_LENGTH,
) -> IdAudience:
    """Match every id of a list to a contact on the chosen channel account (A4).

    Args:
        ids: an :class:`IdList`, or text (or chunks) that :func:`parse_id_list` reads.
        account_id: the channel account the broadcast goes out on.
        lookup: a callable ``(account_id, external_id) -> Contact | None``, or a
            mapping keyed by ``(account_id, external_id)``. A lookup that also has
            ``accounts_for(external_id)`` (see :class:`AccountAwareLookup`, and
            :class:`ContactIndex`) lets ids of other accounts be reported as such.
        max_id_length: longer pieces are rejected as malformed without a lookup.

    Returns:
        An :class:`IdAudience`. A contact returned by the lookup counts only if it
        really has an identity with this account and id; otherwise the id is rejected.

    Raises:
        InputError: ``account_id`` is empty.
    """
    if not account_id:
        raise InputError("resolve_id_list: account_id must not be empty")
    id_list = ids if isinstance(ids, IdList) else parse_id_list(ids)
    find: ContactLookup
    if isinstance(lookup, Mapping):
        table = lookup

        def find(account: str, external_id: str, /) -> Contact | None:
            return table.get((account, external_id))

    else:
        find = lookup
    accounts_for = lookup.accounts_for if isinstance(lookup, AccountAwareLookup) else None

    contacts: list[Contact] = []
    rejected: list[RejectedId] = []
    matched_ids: set[str] = set()
    duplicate_contacts = 0
    for external_id in id_list.ids:
        problem = id_problem(external_id, max_id_length)
        if problem is not None:
            rejected.append(RejectedId(external_id, IdRejection.MALFORMED_ID, problem))
            continue
        contact = find(account_id, external_id)
        if contact is not None and _identity_matches(contact, account_id, external_id):
            if contact.id in matched_ids:
                duplicate_contacts += 1
            else:
                matched_ids.add(contact.id)
                contacts.append(contact)
            continue
        rejected.append(_rejection(external_id, account_id, contact, accounts_for))
    return IdAudience(
        account_id=account_id,
        contacts=tuple(contacts),
        rejected=tuple(rejected),
        read=id_list.read,
        duplicate_ids=id_list.duplicates,
        duplicate_contacts=duplicate_contacts,
    )


def _rejection(
    external_id: str,
    account_id: str,
    wrong_contact: Contact | None,
    accounts_for: Callable[[str], Collection[str]] | None,
) -> RejectedId:
    others: set[str] = set()
    if wrong_contact is not None:
        others.update(
            i.account_id for i in wrong_contact.identities if i.external_id == external_id
        )
    if accounts_for is not None:
        others.update(accounts_for(external_id))
    others.discard(account_id)
    shown = _show(external_id)
    if others:
        accounts = tuple(sorted(others))
        listed = ", ".join(repr(a) for a in accounts)
        return RejectedId(
            external_id,
            IdRejection.OTHER_ACCOUNT,
            f"id {shown} belongs to account {listed}, not to {account_id!r}",
            accounts,
        )
    if wrong_contact is not None:
        message = (
            f"id {shown}: the lookup returned contact {wrong_contact.id!r}, which has no "
            f"identity {shown} on account {account_id!r}"
        )
    else:
        message = f"id {shown} is not a contact of account {account_id!r}"
    return RejectedId(external_id, IdRejection.UNKNOWN_ID, message)
