"""Every extension point of omnimsg, in one place.

The pure core (decisions, segments, the planner) calls what a backend plugs in
through these small protocols, and a plug-in imports nothing from omnimsg to satisfy
one: any object with the right methods will do.

==================  ========================================  ===========================
protocol            what plugs in                             in-memory twin
==================  ========================================  ===========================
:class:`Clock`      the time, for stores and the dispatcher   ``testing.FixedClock``
:class:`ContactSource`  where contacts are read from          ``stores.memory.MemoryContactStore``
:class:`ContactSink`    where imported contacts are written   ``stores.memory.MemoryContactStore``
:class:`StateStore` conversation, consent and sender state    ``stores.memory.MemoryStateStore``
:class:`DeliveryStore`  records, reservations, the send ledger ``stores.memory.MemoryStore``
:class:`Transport`  sending one message (``send``)            ``testing.RecordingTransport``
:class:`AsyncTransport`  the same, awaited (``asend``)        ``testing.RecordingTransport``
==================  ========================================  ===========================

A protocol checks shape, not behaviour: :mod:`omnimsg.testing` ships the behaviour
checks (``check_contact_source``, ``check_state_store``, ``check_transport``) to run
on an implementation of one's own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from omnimsg.contacts import Contact
    from omnimsg.delivery.records import Reservation
    from omnimsg.state import AccountState, ConversationState, SenderUsage
    from omnimsg.transports import SendRequest, SendResult

__all__ = [
    "AsyncTransport",
    "Clock",
    "ContactSink",
    "ContactSource",
    "DeliveryStore",
    "StateStore",
    "Transport",
]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning a timezone-aware datetime."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@runtime_checkable
class ContactSource(Protocol):
    """Where contacts are read from: a CRM table, a file already imported, a list.

    ``iter_contacts`` streams every contact (a planner reads an audience through it,
    so it should not load everything at once where the backend can stream).
    ``find_identity`` finds the contact with an identity on a channel account (A4),
    and ``accounts_for`` says on which accounts some contact has an external id, so
    that an id of another account is reported as such.
    """

    def iter_contacts(self) -> Iterator[Contact]:
        """Every contact, once each."""
        ...

    def get_contact(self, contact_id: str, /) -> Contact | None:
        """The contact with ``contact_id``, or ``None``."""
        ...

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        """The contact whose identity on ``account_id`` is ``external_id``, or ``None``."""
        ...

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        """The accounts on which some contact has ``external_id``."""
        ...


@runtime_checkable
class ContactSink(Protocol):
    """Where imported contacts go, one at a time (a store, a queue, a list).

    ``add`` receives each new contact. ``merge`` receives a later row that is the
    same contact as one added before; its ``id`` is ``existing_id``. A sink combines
    the two, normally with :func:`omnimsg.contacts.merge_contacts` (the documented
    rule), or with an equivalent update in its own storage.
    """

    def add(self, contact: Contact, /) -> None:
        """Keep a new contact."""
        ...

    def merge(self, existing_id: str, contact: Contact, /) -> None:
        """Fold ``contact`` into the contact ``existing_id`` added before."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Where the state decisions read is kept between sends.

    One record per key, each a frozen value of :mod:`omnimsg.state`: a
    :class:`~omnimsg.state.ConversationState` per contact and channel account (its
    window and the contact's consent with that sender), an
    :class:`~omnimsg.state.AccountState` and a :class:`~omnimsg.state.SenderUsage`
    per account. ``get_*`` returns ``None`` for a key never written. A store
    translates its driver's errors to :class:`~omnimsg.errors.StoreError`.
    """

    def get_conversation(self, contact_id: str, account_id: str, /) -> ConversationState | None:
        """The stored conversation state of a contact on an account."""
        ...

    def put_conversation(
        self, contact_id: str, account_id: str, state: ConversationState, /
    ) -> None:
        """Replace the conversation state of a contact on an account."""
        ...

    def get_account(self, account_id: str, /) -> AccountState | None:
        """The stored state of a sender account."""
        ...

    def put_account(self, account_id: str, state: AccountState, /) -> None:
        """Replace the state of a sender account."""
        ...

    def get_usage(self, account_id: str, /) -> SenderUsage | None:
        """What a sender account has sent, as its caps count it."""
        ...

    def put_usage(self, account_id: str, usage: SenderUsage, /) -> None:
        """Replace the usage record of a sender account."""
        ...


@runtime_checkable
class DeliveryStore(StateStore, Protocol):
    """A :class:`StateStore` that many workers can share: what the dispatcher needs.

    Everything is namespaced by ``tenant``: two stores of different tenants on the
    same server or file never see each other's records or reservations. Two
    primitives carry everything, each atomic on its own:

    - **records**: JSON text per ``(kind, key)`` with a version. ``put_record``
      writes only if the stored version is ``expected`` (``None``: absent), so
      read-modify-write loops never lose an update. ``group`` (a broadcast id for
      ledger entries) lets ``scan_records`` list a kind's records of one group.
    - **reservations**: ``reserve`` takes places in capped sets, all or none, and
      never grants past a cap, however many workers ask at once.

    Errors are :class:`~omnimsg.errors.StoreError`:
    :class:`~omnimsg.errors.StoreUnavailableError` when the server or file cannot be
    reached. ``omnimsg.testing.check_delivery_store`` checks the behaviour.
    """

    @property
    def tenant(self) -> str:
        """The namespace this store reads and writes."""
        ...

    def get_record(self, kind: str, key: str, /) -> tuple[int, str] | None:
        """``(version, text)`` of the record, or ``None`` if there is none."""
        ...

    def put_record(
        self, kind: str, key: str, expected: int | None, text: str, /, group: str = ""
    ) -> bool:
        """Write ``text`` as version ``(expected or 0) + 1`` if the stored version is ``expected``.

        ``expected`` ``None`` writes only if there is no record. Returns whether it
        wrote.
        """
        ...

    def scan_records(self, kind: str, group: str, /) -> Iterator[tuple[str, int, str]]:
        """``(key, version, text)`` of every record of ``kind`` in ``group``, by key."""
        ...

    def reserve(self, reservations: Sequence[Reservation], at: datetime, /) -> int:
        """Take every reservation at ``at``, or none: ``-1``, or the index of the first refused."""
        ...

    def members(self, key: str, since: datetime, /) -> list[tuple[str, datetime]]:
        """The members of set ``key`` taken after ``since``, with their instants, oldest first."""
        ...

    def close(self) -> None:
        """Release connections and files (the store is not used after)."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Sends one message and says what became of it.

    A transport returns a :class:`~omnimsg.transports.SendResult` for every request
    the platform answered, refusals included, and raises
    :class:`~omnimsg.errors.TransportError` only when it could not get an answer.
    """

    def send(self, request: SendRequest, /) -> SendResult:
        """Send ``request``; the result carries the same idempotency key."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The awaitable twin of :class:`Transport`."""

    async def asend(self, request: SendRequest, /) -> SendResult:
        """Send ``request``; the result carries the same idempotency key."""
        ...
