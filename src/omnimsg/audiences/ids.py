"""Which contact an external id names: pasted lists of visitor ids (SPEC A3, A4), and
the id of a WhatsApp inbound (SPEC P16).

This module owns three steps and nothing else:

* :func:`parse_id_list` turns pasted text into the distinct ids it names (A3):
  ids are separated by any mix of whitespace (newlines, CRLF, tabs, spaces), commas
  and semicolons; empty pieces are ignored; a repeated id counts once.
* :func:`resolve_id_list` checks every id against the chosen channel account (A4):
  an id belongs to the account when a contact has a :class:`ChannelIdentity` with
  that ``account_id`` and ``external_id``. An id that does not belong is never
  dropped silently; it comes back as a :class:`RejectedId` with a stable reason code.
* :func:`find_whatsapp_contact` finds the contact a WhatsApp id names on an account
  (P16): by the id, by another id of the same person (``5215512345678`` and
  ``525512345678``), or by the person's phone number, and keeps the id the platform
  sent for replies (:class:`WhatsAppMatch`).

The caller supplies the contacts as a :class:`~omnimsg.protocols.ContactSource`;
this module does no I/O and keeps no state between calls.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import Any

import attrs

from omnimsg.audiences._checks import count, optional_text, text, to_enum, to_tuple
from omnimsg.audiences._text import BOM, show, show_value, type_name
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError
from omnimsg.phones import whatsapp_equivalents
from omnimsg.protocols import ContactSource

__all__ = [
    "MAX_ID_LENGTH",
    "IdAudience",
    "IdList",
    "IdRejection",
    "RejectedId",
    "WhatsAppMatch",
    "WhatsAppMatchKind",
    "find_whatsapp_contact",
    "id_problem",
    "parse_id_list",
    "resolve_id_list",
]

MAX_ID_LENGTH = 256
"""The longest id accepted by default; longer pieces are reported as malformed (A4)."""

# Unicode whitespace (str.split() semantics) plus the two punctuation separators of A3.
_SEPARATORS = re.compile(r"[\s,;]+")


class IdRejection(StrEnum):
    """Why an id of a pasted list is not sent to (A4). Values are stable strings."""

    UNKNOWN_ID = "unknown_id"
    """No contact has this id on the chosen account, nor on any other."""
    OTHER_ACCOUNT = "other_account"
    """The id belongs to a contact on another channel account."""
    MALFORMED_ID = "malformed_id"
    """The piece cannot be an id: too long, or it holds control or invisible characters."""


def _length_limit(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{name}: expected a whole number of at least 1, got {show_value(value)}")
    return value


def id_problem(value: str, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Say why ``value`` cannot be an external id, or return ``None`` when it can.

    An id is at most ``max_length`` characters and holds no control, format
    (zero-width, BOM), surrogate or private-use character. Whitespace never reaches
    here from :func:`parse_id_list`, since it separates ids.

    Raises:
        InputError: ``value`` is not text, or ``max_length`` not a whole number >= 1.
    """
    if not isinstance(value, str):
        raise InputError(f"id_problem: expected the id as text, got {type_name(value)}")
    limit = _length_limit(max_length, "max_length")
    if len(value) > limit:
        return f"id {show(value)} is {len(value)} characters long; ids have at most {limit}"
    if value.isprintable():
        return None
    # str.isprintable() is all(c.isprintable()), so some character is the culprit.
    position, char = next((p, c) for p, c in enumerate(value, start=1) if not c.isprintable())
    return (
        f"id {show(value)} contains the control or invisible character "
        f"U+{ord(char):04X} at position {position}"
    )


def _ids(value: object) -> tuple[str, ...]:
    return to_tuple(value, str, "IdList.ids")


@attrs.frozen
class IdList:
    """The distinct ids of a pasted list, in first-seen order (A3).

    ``read`` counts the non-empty pieces; ``duplicates`` how many of them repeated an
    earlier piece, so ``read == len(ids) + duplicates``.
    """

    ids: tuple[str, ...] = attrs.field(converter=_ids)
    read: int = attrs.field(validator=count)
    duplicates: int = attrs.field(validator=count)


def parse_id_list(text: str | Iterable[str]) -> IdList:
    """Split pasted text into distinct ids (A3).

    Args:
        text: the pasted text, or an iterable of chunks (lines of a file, items of a
            list); each chunk is read as if a newline followed it.

    Returns:
        An :class:`IdList`. Separators are whitespace of any kind (including CRLF and
        tabs), ``,`` and ``;``, in any mix and number; a byte order mark at the very
        start is dropped. Ids are compared exactly (case-sensitive).

    Raises:
        InputError: ``text`` is neither text nor an iterable of text (bytes included:
            decode them first).
    """
    chunks: Iterable[object]
    if isinstance(text, str):
        chunks = (text,)
    elif isinstance(text, bytes | bytearray | memoryview) or not isinstance(text, Iterable):
        raise InputError(
            f"parse_id_list: expected text or an iterable of text, got {type_name(text)}"
        )
    else:
        chunks = text
    seen: dict[str, None] = {}
    read = 0
    for number, chunk in enumerate(chunks):
        if not isinstance(chunk, str):
            raise InputError(f"parse_id_list: chunk {number} is {type_name(chunk)}, expected text")
        if number == 0:
            chunk = chunk.removeprefix(BOM)
        for piece in _SEPARATORS.split(chunk):
            if piece:
                read += 1
                seen.setdefault(piece)
    return IdList(ids=tuple(seen), read=read, duplicates=read - len(seen))


def _reason(value: object) -> IdRejection:
    return to_enum(value, IdRejection, "RejectedId.reason")


def _accounts(value: object) -> tuple[str, ...]:
    return to_tuple(value, str, "RejectedId.accounts")


@attrs.frozen
class RejectedId:
    """An id of the list that is not sent to, with why (A4).

    ``accounts`` lists the other accounts the id belongs to, when the reason is
    :attr:`IdRejection.OTHER_ACCOUNT`.
    """

    id: str = attrs.field(validator=text)
    reason: IdRejection = attrs.field(converter=_reason)
    message: str = attrs.field(validator=text)
    accounts: tuple[str, ...] = attrs.field(default=(), converter=_accounts)


def _contacts(value: object) -> tuple[Contact, ...]:
    return to_tuple(value, Contact, "IdAudience.contacts")


def _rejected_ids(value: object) -> tuple[RejectedId, ...]:
    return to_tuple(value, RejectedId, "IdAudience.rejected")


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

    account_id: str = attrs.field(validator=text)
    contacts: tuple[Contact, ...] = attrs.field(converter=_contacts)
    rejected: tuple[RejectedId, ...] = attrs.field(converter=_rejected_ids)
    read: int = attrs.field(validator=count)
    duplicate_ids: int = attrs.field(validator=count)
    duplicate_contacts: int = attrs.field(default=0, validator=count)

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


def _check_source(source: object) -> None:
    for method in ("find_identity", "accounts_for"):
        if not callable(getattr(source, method, None)):
            raise InputError(
                f"resolve_id_list: source must be a ContactSource (with find_identity and "
                f"accounts_for), got {type_name(source)} without {method}"
            )


def resolve_id_list(
    ids: IdList | str | Iterable[str],
    *,
    account_id: str,
    source: ContactSource,
    max_id_length: int = MAX_ID_LENGTH,
) -> IdAudience:
    """Match every id of a list to a contact on the chosen channel account (A4).

    Args:
        ids: an :class:`IdList`, or text (or chunks) that :func:`parse_id_list` reads.
        account_id: the channel account the broadcast goes out on.
        source: where contacts are found (:class:`~omnimsg.protocols.ContactSource`,
            e.g. :class:`~omnimsg.stores.memory.MemoryContactStore`): its
            ``find_identity`` matches each id, and its ``accounts_for`` names the
            other accounts of an id that is not on this one.
        max_id_length: longer pieces are rejected as malformed without a lookup.

    Returns:
        An :class:`IdAudience`. A contact the source returns counts only if it
        really has an identity with this account and id; otherwise the id is rejected.

    Raises:
        InputError: ``account_id`` is empty or not text, ``source`` is not a
            contact source or answers with something other than contacts and account
            ids, ``max_id_length`` is not a whole number >= 1, or ``ids`` is not text.
    """
    if not isinstance(account_id, str) or not account_id:
        got = show(account_id) if isinstance(account_id, str) else type_name(account_id)
        raise InputError(f"resolve_id_list: account_id must be non-empty text, got {got}")
    _check_source(source)
    limit = _length_limit(max_id_length, "max_id_length")
    id_list = ids if isinstance(ids, IdList) else parse_id_list(ids)

    contacts: list[Contact] = []
    rejected: list[RejectedId] = []
    matched_ids: set[str] = set()
    duplicate_contacts = 0
    for external_id in id_list.ids:
        problem = id_problem(external_id, limit)
        if problem is not None:
            rejected.append(RejectedId(external_id, IdRejection.MALFORMED_ID, problem))
            continue
        contact = source.find_identity(account_id, external_id)
        if contact is not None and not isinstance(contact, Contact):
            raise InputError(
                f"resolve_id_list: source.find_identity returned {type_name(contact)}, "
                "expected a Contact or None"
            )
        if contact is not None and _identity_matches(contact, account_id, external_id):
            if contact.id in matched_ids:
                duplicate_contacts += 1
            else:
                matched_ids.add(contact.id)
                contacts.append(contact)
            continue
        others = _accounts_for(source, external_id)
        rejected.append(_rejection(external_id, account_id, contact, others))
    return IdAudience(
        account_id=account_id,
        contacts=tuple(contacts),
        rejected=tuple(rejected),
        read=id_list.read,
        duplicate_ids=id_list.duplicates,
        duplicate_contacts=duplicate_contacts,
    )


def _accounts_for(source: ContactSource, external_id: str) -> set[str]:
    accounts: object = source.accounts_for(external_id)
    if isinstance(accounts, str) or not isinstance(accounts, Collection):
        raise InputError(
            f"resolve_id_list: source.accounts_for returned {type_name(accounts)}, "
            "expected a collection of account ids"
        )
    found: set[str] = set()
    for account in accounts:
        if not isinstance(account, str):
            raise InputError(
                f"resolve_id_list: source.accounts_for returned {type_name(account)} "
                "among the account ids, expected text"
            )
        found.add(account)
    return found


def _rejection(
    external_id: str,
    account_id: str,
    wrong_contact: Contact | None,
    others: set[str],
) -> RejectedId:
    if wrong_contact is not None:
        others.update(
            i.account_id for i in wrong_contact.identities if i.external_id == external_id
        )
    others.discard(account_id)
    shown = show(external_id)
    account = show(account_id)
    if others:
        accounts = tuple(sorted(others))
        listed = ", ".join(show(a) for a in accounts)
        return RejectedId(
            external_id,
            IdRejection.OTHER_ACCOUNT,
            f"id {shown} belongs to account {listed}, not to {account}",
            accounts,
        )
    if wrong_contact is not None:
        message = (
            f"id {shown}: the source returned contact {show(wrong_contact.id)}, which has "
            f"no identity {shown} on account {account}"
        )
    else:
        message = f"id {shown} is not a contact of account {account}"
    return RejectedId(external_id, IdRejection.UNKNOWN_ID, message)


# --- one WhatsApp id (P16) ---------------------------------------------------------------


class WhatsAppMatchKind(StrEnum):
    """How :func:`find_whatsapp_contact` found a contact (P16). Values are stable strings."""

    IDENTITY = "identity"
    """The contact has the very id the platform sent on the account."""
    EQUIVALENT_ID = "equivalent_id"
    """The contact has another id of the same person on the account (``525512345678``
    for ``5215512345678``)."""
    PHONE = "phone"
    """No contact has an id of the person on the account; this one, without an identity
    there, has the person's phone number."""


def _match_kind(value: object) -> WhatsAppMatchKind:
    return to_enum(value, WhatsAppMatchKind, "WhatsAppMatch.matched_by")


def _of_type(kind: type) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise InputError(
                f"WhatsAppMatch.{attribute.name}: expected a {kind.__name__}, "
                f"got {type_name(value)}"
            )

    return check


@attrs.frozen
class WhatsAppMatch:
    """The contact a WhatsApp id names on an account, and the identity to reply on (P16).

    ``contact`` is the contact as the source holds it. ``identity`` is its identity
    on the account with ``external_id`` the id the platform sent (replies go to that
    id), with the stored identity's ``first_seen_at`` and ``last_inbound_at`` when one
    matched. ``stored_id`` is the id the contact had on the account (``None`` when it
    was found by phone).
    """

    contact: Contact = attrs.field(validator=_of_type(Contact))
    identity: ChannelIdentity = attrs.field(validator=_of_type(ChannelIdentity))
    matched_by: WhatsAppMatchKind = attrs.field(converter=_match_kind)
    stored_id: str | None = attrs.field(default=None, validator=optional_text)

    @property
    def update(self) -> Contact | None:
        """What to hand to :meth:`ContactSink.merge <omnimsg.protocols.ContactSink.merge>`
        so that the contact keeps the id the platform sent, or ``None`` when it has it.

        A contact with only that identity; :func:`~omnimsg.contacts.merge_contacts`
        puts it in the place of the stored id of the same person, or adds it.
        """
        if self.stored_id == self.identity.external_id:
            return None
        return Contact(id=self.contact.id, identities=(self.identity,))


def find_whatsapp_contact(
    source: ContactSource, account_id: str, wa_id: str
) -> WhatsAppMatch | None:
    """The contact the WhatsApp id ``wa_id`` names on the WhatsApp account ``account_id`` (P16).

    In this order:

    1. a contact whose identity on the account is ``wa_id`` or another id of the same
       person (:func:`~omnimsg.phones.whatsapp_equivalents`, each also with a ``+``);
       the id the platform sent first, then the others in that order;
    2. else a contact without an identity on the account whose phone is the person's
       number in any of its forms (``+525512345678`` for ``5215512345678``: the
       numbers :func:`~omnimsg.phones.same_whatsapp_person` accepts).

    A source with ``find_identities(account_id, external_ids)`` and
    ``find_by_phone(phones, not_on_account=...)``
    (:class:`~omnimsg.stores.memory.MemoryContactStore`,
    :class:`~omnimsg.stores.sql.SqlContactSource`) answers each step with one lookup;
    any other source is asked ``find_identity`` once per candidate id, and read
    whole (``iter_contacts``) for the phone. A contact the source returns counts
    only if it really has the identity or the phone.

    Returns a :class:`WhatsAppMatch` whose ``identity`` carries ``wa_id`` as sent
    (stripped of surrounding spaces), or ``None``.

    Raises:
        PhoneNumberError: ``wa_id`` is not a WhatsApp id (7 to 15 ASCII digits,
            optionally after ``+``).
        InputError: ``account_id`` is empty or not text, or ``source`` is not a
            contact source or answers with something other than contacts.
    """
    if not isinstance(account_id, str) or not account_id:
        got = show(account_id) if isinstance(account_id, str) else type_name(account_id)
        raise InputError(f"find_whatsapp_contact: account_id must be non-empty text, got {got}")
    for method in ("find_identity", "iter_contacts"):
        if not callable(getattr(source, method, None)):
            raise InputError(
                "find_whatsapp_contact: source must be a ContactSource, "
                f"got {type_name(source)} without {method}"
            )
    forms = whatsapp_equivalents(wa_id)
    sent = wa_id.strip()
    candidates = tuple(dict.fromkeys((sent, *forms, *("+" + form for form in forms))))
    contact = _by_identity(source, account_id, candidates)
    if contact is not None:
        stored = min(
            (i for i in contact.identities if _has_id(i, account_id, candidates)),
            key=lambda i: candidates.index(i.external_id),
        )
        kind = (
            WhatsAppMatchKind.IDENTITY
            if stored.external_id == sent
            else WhatsAppMatchKind.EQUIVALENT_ID
        )
        identity = attrs.evolve(stored, external_id=sent)
        return WhatsAppMatch(contact, identity, kind, stored.external_id)
    phones = tuple("+" + form for form in forms)
    contact = _by_phone(source, account_id, phones)
    if contact is None:
        return None
    identity = ChannelIdentity(account_id, ChannelKind.WHATSAPP, sent)
    return WhatsAppMatch(contact, identity, WhatsAppMatchKind.PHONE)


def _answer(found: object, method: str) -> Contact | None:
    if found is not None and not isinstance(found, Contact):
        raise InputError(
            f"find_whatsapp_contact: source.{method} returned {type_name(found)}, "
            "expected a Contact or None"
        )
    return found


def _has_id(identity: ChannelIdentity, account_id: str, ids: tuple[str, ...]) -> bool:
    return identity.account_id == account_id and identity.external_id in ids


def _holds(contact: Contact | None, account_id: str, ids: tuple[str, ...]) -> bool:
    return contact is not None and any(_has_id(i, account_id, ids) for i in contact.identities)


def _by_identity(source: ContactSource, account_id: str, ids: tuple[str, ...]) -> Contact | None:
    """The contact with one of ``ids`` on the account, the earliest of ``ids`` first."""
    lookup = getattr(source, "find_identities", None)
    if callable(lookup):
        found = _answer(lookup(account_id, ids), "find_identities")
        return found if _holds(found, account_id, ids) else None
    for external_id in ids:
        found = _answer(source.find_identity(account_id, external_id), "find_identity")
        if _holds(found, account_id, (external_id,)):
            return found
    return None


def _by_phone(source: ContactSource, account_id: str, phones: tuple[str, ...]) -> Contact | None:
    """A contact with one of ``phones`` and no identity on the account (earliest phone,
    then smallest id)."""
    lookup = getattr(source, "find_by_phone", None)
    if callable(lookup):
        found = _answer(lookup(phones, not_on_account=account_id), "find_by_phone")
        fits = found is not None and found.phone in phones and found.identity_on(account_id) is None
        return found if fits else None
    best: tuple[int, str, Contact] | None = None
    for contact in source.iter_contacts():
        _answer(contact, "iter_contacts")
        if contact.phone in phones and contact.identity_on(account_id) is None:
            rank = (phones.index(contact.phone), contact.id, contact)
            if best is None or rank[:2] < best[:2]:
                best = rank
    return None if best is None else best[2]
