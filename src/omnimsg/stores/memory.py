"""In-memory stores: contacts and state in dicts, for one process and for tests.

:class:`MemoryStore` is the in-memory :class:`~omnimsg.protocols.DeliveryStore`
(records, reservations, the ledger); the others implement :class:`~omnimsg.protocols.ContactSource`,
:class:`~omnimsg.protocols.ContactSink` and :class:`~omnimsg.protocols.StateStore`
exactly as a database-backed store must, and pass the same contract checks
(:mod:`omnimsg.testing`). Nothing here is thread-safe beyond what a dict is.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime

from omnimsg._convert import to_instant
from omnimsg.contacts import Contact, merge_contacts
from omnimsg.delivery.records import Reservation, check_reservations, from_micros, to_micros
from omnimsg.errors import InputError
from omnimsg.state import AccountState, ConversationState, SenderUsage
from omnimsg.stores._records import (
    RecordStateMixin,
    check_key,
    check_tenant,
    check_text,
    check_version,
    micros_of,
)

__all__ = ["MemoryBackend", "MemoryContactStore", "MemoryStateStore", "MemoryStore"]


def _key(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__}")
    return value


def _value(value: object, cls: type, name: str) -> None:
    if not isinstance(value, cls):
        raise InputError(f"{name}: expected {cls.__name__}, got {type(value).__name__}")


def _texts(values: object, name: str) -> tuple[str, ...]:
    """A collection of text (not text itself), as a tuple; else :class:`InputError`."""
    if isinstance(values, str | bytes) or not isinstance(values, Collection):
        raise InputError(f"{name}: expected a collection of text, got {type(values).__name__}")
    found = tuple(values)
    for value in found:
        if not isinstance(value, str):
            raise InputError(f"{name}: expected text, got {type(value).__name__} among them")
    return found


class MemoryContactStore:
    """Contacts in a dict, in insertion order, indexed by their channel identities and phones.

    A :class:`~omnimsg.protocols.ContactSource` and a
    :class:`~omnimsg.protocols.ContactSink`. ``add`` of an id it already holds
    merges (an upsert, :func:`~omnimsg.contacts.merge_contacts`), so it also serves
    imports run without de-duplication. :meth:`find_identities` and
    :meth:`find_by_phone` answer :func:`~omnimsg.audiences.ids.find_whatsapp_contact`
    (P16) from the indexes.

    Raises:
        InputError: two different contacts claim the same identity on one account.
    """

    __slots__ = ("_accounts", "_by_identity", "_by_phone", "_contacts")

    def __init__(self, contacts: Iterable[Contact] = ()) -> None:
        self._contacts: dict[str, Contact] = {}
        self._by_identity: dict[tuple[str, str], str] = {}
        self._by_phone: dict[str, list[str]] = {}
        self._accounts: dict[str, set[str]] = {}
        if isinstance(contacts, str | bytes) or not isinstance(contacts, Iterable):
            raise InputError(f"contacts: expected contacts, got {type(contacts).__name__}")
        for contact in contacts:
            self.add(contact)

    def _store(self, contact: Contact, previous: Contact | None) -> None:
        """Keep ``contact`` in place of ``previous`` (its earlier version), indexes too."""
        for identity in contact.identities:
            key = (identity.account_id, identity.external_id)
            owner = self._by_identity.get(key)
            if owner is not None and owner != contact.id:
                raise InputError(
                    f"contacts {owner!r} and {contact.id!r} both claim id "
                    f"{identity.external_id!r} on account {identity.account_id!r}"
                )
        if previous is not None:
            kept = {(i.account_id, i.external_id) for i in contact.identities}
            for identity in previous.identities:
                key = (identity.account_id, identity.external_id)
                if key not in kept:
                    # A WhatsApp id replaced by the same person's later one (P16).
                    del self._by_identity[key]
                    self._accounts[identity.external_id].discard(identity.account_id)
            if previous.phone is not None and previous.phone != contact.phone:
                self._by_phone[previous.phone].remove(contact.id)
        for identity in contact.identities:
            self._by_identity[(identity.account_id, identity.external_id)] = contact.id
            self._accounts.setdefault(identity.external_id, set()).add(identity.account_id)
        if contact.phone is not None and (previous is None or previous.phone != contact.phone):
            self._by_phone.setdefault(contact.phone, []).append(contact.id)
        self._contacts[contact.id] = contact

    def add(self, contact: Contact, /) -> None:
        """Keep a new contact (or merge it into the one with its id)."""
        _value(contact, Contact, "contact")
        existing = self._contacts.get(contact.id)
        self._store(contact if existing is None else merge_contacts(existing, contact), existing)

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        """Fold ``contact`` into the stored contact ``existing_id``.

        Raises:
            InputError: no contact ``existing_id`` was added.
        """
        _value(contact, Contact, "contact")
        existing = self._contacts.get(_key(existing_id, "existing_id"))
        if existing is None:
            raise InputError(f"merge: no contact {existing_id!r} was added to this store")
        self._store(merge_contacts(existing, contact), existing)

    def iter_contacts(self) -> Iterator[Contact]:
        """Every contact, in the order first added."""
        return iter(self._contacts.values())

    def get_contact(self, contact_id: str, /) -> Contact | None:
        """The contact ``contact_id``, or ``None``."""
        return self._contacts.get(_key(contact_id, "contact_id"))

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        """The contact with ``external_id`` on ``account_id``, or ``None``."""
        key = (_key(account_id, "account_id"), _key(external_id, "external_id"))
        owner = self._by_identity.get(key)
        return None if owner is None else self._contacts[owner]

    def find_identities(self, account_id: str, external_ids: Collection[str], /) -> Contact | None:
        """The contact with any of ``external_ids`` on ``account_id``, or ``None``.

        The earliest of ``external_ids`` that some contact has wins.
        """
        account = _key(account_id, "account_id")
        for external_id in _texts(external_ids, "external_ids"):
            owner = self._by_identity.get((account, external_id))
            if owner is not None:
                return self._contacts[owner]
        return None

    def find_by_phone(
        self, phones: Collection[str], /, *, not_on_account: str | None = None
    ) -> Contact | None:
        """A contact whose phone is one of ``phones``, or ``None``.

        The earliest of ``phones`` that some contact has wins, and among the contacts
        with it the first by id. With ``not_on_account``, contacts with an identity on
        that account are passed over.
        """
        account = None if not_on_account is None else _key(not_on_account, "not_on_account")
        for phone in _texts(phones, "phones"):
            owners = [
                self._contacts[cid]
                for cid in self._by_phone.get(phone, ())
                if account is None or self._contacts[cid].identity_on(account) is None
            ]
            if owners:
                return min(owners, key=lambda contact: contact.id)
        return None

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        """The accounts on which some contact has ``external_id``."""
        return frozenset(self._accounts.get(_key(external_id, "external_id"), ()))

    @property
    def contacts(self) -> tuple[Contact, ...]:
        """Every contact, in the order first added."""
        return tuple(self._contacts.values())

    def __len__(self) -> int:
        return len(self._contacts)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self._contacts.values())

    def __contains__(self, contact_id: object) -> bool:
        return contact_id in self._contacts


class MemoryStateStore:
    """A :class:`~omnimsg.protocols.StateStore` in three dicts."""

    __slots__ = ("_accounts", "_conversations", "_usage")

    def __init__(self) -> None:
        self._conversations: dict[tuple[str, str], ConversationState] = {}
        self._accounts: dict[str, AccountState] = {}
        self._usage: dict[str, SenderUsage] = {}

    def get_conversation(self, contact_id: str, account_id: str, /) -> ConversationState | None:
        """The stored conversation state of a contact on an account, or ``None``."""
        key = (_key(contact_id, "contact_id"), _key(account_id, "account_id"))
        return self._conversations.get(key)

    def put_conversation(
        self, contact_id: str, account_id: str, state: ConversationState, /
    ) -> None:
        """Replace the conversation state of a contact on an account."""
        _value(state, ConversationState, "state")
        key = (_key(contact_id, "contact_id"), _key(account_id, "account_id"))
        self._conversations[key] = state

    def get_account(self, account_id: str, /) -> AccountState | None:
        """The stored state of a sender account, or ``None``."""
        return self._accounts.get(_key(account_id, "account_id"))

    def put_account(self, account_id: str, state: AccountState, /) -> None:
        """Replace the state of a sender account."""
        _value(state, AccountState, "state")
        self._accounts[_key(account_id, "account_id")] = state

    def get_usage(self, account_id: str, /) -> SenderUsage | None:
        """The usage record of a sender account, or ``None``."""
        return self._usage.get(_key(account_id, "account_id"))

    def put_usage(self, account_id: str, usage: SenderUsage, /) -> None:
        """Replace the usage record of a sender account."""
        _value(usage, SenderUsage, "usage")
        self._usage[_key(account_id, "account_id")] = usage


class MemoryBackend:
    """What several :class:`MemoryStore` share: one dict of records, one of sets, a lock.

    Stores of different tenants over one backend see nothing of each other, like
    tenants of one database.
    """

    __slots__ = ("lock", "records", "sets")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[tuple[str, str, str], tuple[int, str, str]] = {}
        self.sets: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}


class MemoryStore(RecordStateMixin):
    """A :class:`~omnimsg.protocols.DeliveryStore` in memory: one process, tests, demos.

    Safe across threads of one process (one lock); gone when the process ends. Give
    several stores the same ``backend`` to keep tenants apart on shared data.
    """

    def __init__(self, *, tenant: str = "default", backend: MemoryBackend | None = None) -> None:
        if backend is not None and not isinstance(backend, MemoryBackend):
            raise InputError(f"backend: expected a MemoryBackend, got {type(backend).__name__}")
        self._tenant = check_tenant(tenant)
        self._backend = backend if backend is not None else MemoryBackend()

    @property
    def tenant(self) -> str:
        """The namespace this store reads and writes."""
        return self._tenant

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        """``(version, text)`` of a record, or ``None``."""
        found = self._backend.records.get(
            (self._tenant, check_key(kind, "kind"), check_key(key, "key"))
        )
        return None if found is None else (found[0], found[1])

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        """Write ``text`` if the stored version is ``expected`` (``None``: absent)."""
        name = (self._tenant, check_key(kind, "kind"), check_key(key, "key"))
        check_version(expected)
        check_text(text)
        if not isinstance(group, str):
            raise InputError(f"group: expected text, got {type(group).__name__}")
        backend = self._backend
        with backend.lock:
            found = backend.records.get(name)
            version = None if found is None else found[0]
            if version != expected:
                return False
            backend.records[name] = ((expected or 0) + 1, text, group)
            return True

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        """Every record of ``kind`` in ``group``, by key."""
        check_key(kind, "kind")
        if not isinstance(group, str):
            raise InputError(f"group: expected text, got {type(group).__name__}")
        backend = self._backend
        with backend.lock:
            rows = [
                (key, version, text)
                for (tenant, k, key), (version, text, g) in backend.records.items()
                if tenant == self._tenant and k == kind and g == group
            ]
        rows.sort()
        return iter(rows)

    def reserve(self, reservations: Sequence[Reservation], at: datetime, /) -> int:
        """Take every reservation at ``at`` or none; ``-1`` or the first refused index."""
        wanted = check_reservations(reservations)
        now = to_micros(to_instant(at, "at"))
        backend = self._backend
        with backend.lock:
            plans: list[tuple[dict[str, tuple[int, int]], str, int, int]] = []
            for i, (key, member, cap, window, keep) in enumerate(wanted):
                members = backend.sets.setdefault((self._tenant, key), {})
                for name in [m for m, (_, expires) in members.items() if expires <= now]:
                    del members[name]
                since = None if window is None else now - micros_of(window)
                live = [m for m, (t, _) in members.items() if since is None or t > since]
                if member not in live and cap is not None:
                    pending = sum(1 for p in plans if p[0] is members and p[1] not in live)
                    if len(live) + pending >= cap:
                        return i
                plans.append((members, member, now, now + micros_of(keep)))
            for members, member, when, expires in plans:
                old = members.get(member)
                if old is None or old[0] < when:
                    members[member] = (when, expires if old is None else max(expires, old[1]))
            return -1

    def members(self, key: str, since: datetime, /) -> list[tuple[str, datetime]]:
        """The members of set ``key`` taken after ``since``, oldest first."""
        check_key(key, "key")
        after = to_micros(to_instant(since, "since"))
        with self._backend.lock:
            items = list(self._backend.sets.get((self._tenant, key), {}).items())
        found = sorted((t, m) for m, (t, _) in items if t > after)
        return [(m, from_micros(t)) for t, m in found]

    def close(self) -> None:
        """Nothing to release."""
