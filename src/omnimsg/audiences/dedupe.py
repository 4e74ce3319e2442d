"""Which earlier contact a CSV row is: the dedupe rule of the import, in one place (SPEC A5).

A row with an id is the contact with that id. A row without one is the contact with
the id :func:`derive_contact_id` gives it, if an earlier row added that id; else the
contact an earlier row gave the same phone, or else the same e-mail (compared
case-insensitively). This module keeps the index those lookups use and nothing else.

Phones are compared as one person's numbers (SPEC P16,
:func:`~omnimsg.phones.whatsapp_key`): ``+54 11 2345 6789`` and ``+54 9 11 2345 6789``
are one contact. (Mexican numbers with the old mobile ``1`` and Brazilian mobiles
without the ninth digit already arrive in their current E.164 form from
:func:`~omnimsg.phones.parse_phone`.)
"""

from __future__ import annotations

from collections.abc import MutableMapping
from hashlib import blake2b

from omnimsg.audiences._text import type_name
from omnimsg.errors import InputError, PhoneNumberError
from omnimsg.phones import whatsapp_key

__all__ = ["Dedupe", "derive_contact_id"]


def derive_contact_id(phone: str | None, email: str | None) -> str:
    """The id given to a row without one: ``"c-"`` + 32 hex digits.

    Derived from the E.164 phone when there is one, else from the e-mail (case
    folded), so importing the same file again gives the same ids.

    Raises:
        InputError: both are empty, or either is neither text nor ``None``.
    """
    for name, value in (("phone", phone), ("email", email)):
        if value is not None and not isinstance(value, str):
            raise InputError(
                f"derive_contact_id: {name} must be text or None, got {type_name(value)}"
            )
    if not phone and not email:
        raise InputError("derive_contact_id: a phone or an e-mail is needed")
    return _derived_id(phone, email)


def _derived_id(phone: str | None, email: str | None) -> str:
    """:func:`derive_contact_id` without its checks, for rows that have a key."""
    # The phone as one person's forms share it (P16: Argentina's 9), so the second
    # import of another form derives the same id.
    key = "phone:" + _phone_key(phone)[2:] if phone else "email:" + (email or "").casefold()
    return "c-" + blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _phone_key(phone: str) -> str:
    """The dedupe key of an E.164 phone: ``"p:"`` and the number one person's forms share.

    ``+5491123456789`` and ``+541123456789`` both give ``"p:+5491123456789"``; a
    number of a country with one form gives ``"p:"`` and itself (P16).
    """
    try:
        return "p:+" + whatsapp_key(phone)
    except PhoneNumberError:
        return "p:" + phone


class Dedupe:
    """The dedupe index of one import run (or of several runs sharing ``index``).

    ``index`` maps ``"i:<id>"``, ``"p:<phone>"`` and ``"e:<email>"`` to a contact id
    (the phone as the number one person's forms share, P16: ``+541123456789`` is
    entered as ``"p:+5491123456789"``); ``None`` turns dedupe off (every row is a
    new contact). ``record_derived_ids``
    says whether derived ids are entered under ``i:`` too: needed only when a later
    row could name one (an id column, or an index another file shares).
    """

    __slots__ = ("index", "record_derived_ids")

    def __init__(self, index: MutableMapping[str, str] | None, record_derived_ids: bool) -> None:
        self.index = index
        self.record_derived_ids = record_derived_ids

    def identify(
        self, explicit_id: str | None, phone: str | None, email: str | None
    ) -> tuple[str | None, str]:
        """``(earlier contact's id or None, the row's contact id)``, recording its keys.

        Every contact added is recorded under ``i:<its id>`` (a derived id whenever an id
        column could name it later), so a later row naming that id merges instead of
        adding the id a second time.
        """
        index = self.index
        if index is None:
            return None, explicit_id or _derived_id(phone, email)
        email_key = None if email is None else "e:" + email.casefold()
        phone_key = None if phone is None else _phone_key(phone)
        existing: str | None
        if explicit_id is not None:
            target = explicit_id
            existing = index.get("i:" + target)
        else:
            derived = _derived_id(phone, email)
            existing = index.get("i:" + derived)
            if existing is None and phone_key is not None:
                existing = index.get(phone_key)
            if existing is None and email_key is not None:
                existing = index.get(email_key)
            target = existing or derived
        if existing is None and (explicit_id is not None or self.record_derived_ids):
            index["i:" + target] = target
        if phone_key is not None:
            index.setdefault(phone_key, target)
        if email_key is not None:
            index.setdefault(email_key, target)
        return existing, target
