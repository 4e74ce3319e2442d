"""The send ledger: one entry per idempotency key, moved only by compare-and-set (X5).

Every change of an entry reads it with its version and writes the next state only
if nobody wrote in between, so two workers never both own a send. The states and
who moves them (docs/delivery.md has the whole story)::

    (none) --claim--> CLAIMED --transport called--> SENDING --answer--> SENT
                         |                              |                FAILED
                         |                              |                DEFERRED --due--> CLAIMED
                         +--no room / not allowed--> DEFERRED, SKIPPED, FAILED
    SENDING whose worker is gone ---------------------> UNCERTAIN (never re-sent blindly)

A claim by a worker that stopped is taken over once its lease has passed (or at
once by a worker of the same id, resumed): CLAIMED means the transport was never
called, so it is safe to send. SENDING means it was; the answer is unknown, so the
send becomes UNCERTAIN and is reported for reconciliation (:func:`resolve`) unless
the transport declares idempotent delivery, where sending again is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import Enum
from typing import NamedTuple

import attrs

from omnimsg._convert import to_instant
from omnimsg.delivery.records import (
    LedgerEntry,
    LedgerStatus,
    attempts,
    decode_entry,
    encode_entry,
)
from omnimsg.errors import CorruptRecordError, InputError
from omnimsg.protocols import DeliveryStore

__all__ = [
    "Claim",
    "ClaimAction",
    "DeliveryReport",
    "FailedSend",
    "claim",
    "delivery_report",
    "entries",
    "failed_sends",
    "get_entry",
    "resolve",
]

KIND = "ledger"


def _store(store: object) -> DeliveryStore:
    if not isinstance(store, DeliveryStore):
        raise InputError(f"store: expected a delivery store, got {type(store).__name__}")
    return store


def _key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InputError(f"key: expected an idempotency key, got {type(key).__name__}")
    return key


class ClaimAction(Enum):
    """What a worker may do with a send after trying to claim it."""

    GO = "go"
    """This worker owns it now and may send (after deciding and reserving)."""
    DONE = "done"
    """It is settled (sent, failed, skipped or uncertain): nothing to do."""
    BUSY = "busy"
    """Another worker holds it until ``entry.lease_until``: look again then."""
    WAIT = "wait"
    """It is deferred until ``entry.retry_at``: look again then."""


class Claim(NamedTuple):
    """The answer of :func:`claim`: an action, the entry and its version."""

    action: ClaimAction
    entry: LedgerEntry
    version: int


def get_entry(store: DeliveryStore, key: str) -> tuple[int, LedgerEntry] | None:
    """``(version, entry)`` of a send, or ``None``.

    A corrupt entry raises :class:`~omnimsg.errors.CorruptRecordError`.
    """
    found = _store(store).get_record(KIND, _key(key))
    if found is None:
        return None
    return found[0], decode_entry(key, found[1])


def update_entry(
    store: DeliveryStore, version: int, entry: LedgerEntry, **changes: object
) -> tuple[int, LedgerEntry] | None:
    """Write ``entry`` with ``changes`` if it is still at ``version``; the new pair or ``None``."""
    new = attrs.evolve(entry, **changes)  # type: ignore[arg-type]
    if store.put_record(KIND, entry.key, version, encode_entry(new), group=entry.broadcast_id):
        return version + 1, new
    return None


def claim(
    store: DeliveryStore,
    template: LedgerEntry,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    idempotent: bool = False,
) -> Claim:
    """Claim the send ``template`` describes for ``owner`` until ``now + lease``.

    ``template`` carries the send's key, broadcast, contact, account and kind; the
    rest of it is ignored. A send already SENDING whose worker is gone (its lease
    passed, or it is ``owner`` itself, resumed) becomes UNCERTAIN, or is taken over
    when ``idempotent`` (the transport drops a second delivery of one key).
    """
    _store(store)
    if not isinstance(template, LedgerEntry):
        raise InputError(f"template: expected a LedgerEntry, got {type(template).__name__}")
    if not isinstance(owner, str) or not 0 < len(owner) <= 200:
        raise InputError("owner: expected a worker name of 1 to 200 characters")
    now = to_instant(now, "now")
    if not isinstance(lease, timedelta) or lease <= timedelta(0):
        raise InputError("lease: expected a positive timedelta")
    try:
        until = now + lease
    except OverflowError:
        raise InputError("lease: now + lease is past the end of the date range") from None
    for _ in attempts("claiming a send"):
        found = get_entry(store, template.key)
        if found is None:
            entry = attrs.evolve(
                template,
                status=LedgerStatus.CLAIMED,
                owner=owner,
                lease_until=until,
                updated_at=now,
            )
            text = encode_entry(entry)
            if store.put_record(KIND, entry.key, None, text, group=entry.broadcast_id):
                return Claim(ClaimAction.GO, entry, 1)
            continue
        version, entry = found
        status = entry.status
        if entry.final:
            return Claim(ClaimAction.DONE, entry, version)
        gone = entry.owner == owner or entry.lease_until is None or entry.lease_until <= now
        if status is LedgerStatus.DEFERRED:
            if entry.retry_at is not None and entry.retry_at > now:
                return Claim(ClaimAction.WAIT, entry, version)
        elif not gone:
            return Claim(ClaimAction.BUSY, entry, version)
        if status is LedgerStatus.SENDING and not idempotent:
            moved = update_entry(
                store,
                version,
                entry,
                status=LedgerStatus.UNCERTAIN,
                updated_at=now,
                reason="worker_stopped",
                error=entry.error or "the worker stopped after calling the transport",
            )
            if moved is not None:
                return Claim(ClaimAction.DONE, moved[1], moved[0])
            continue
        taken = update_entry(
            store,
            version,
            entry,
            status=LedgerStatus.CLAIMED,
            owner=owner,
            lease_until=until,
            updated_at=now,
            retry_at=None,
        )
        if taken is not None:
            return Claim(ClaimAction.GO, taken[1], taken[0])
    raise AssertionError("attempts() raises when it runs out")  # pragma: no cover


def entries(store: DeliveryStore, broadcast_id: str) -> Iterator[LedgerEntry]:
    """Every ledger entry of a broadcast, by key.

    A corrupt entry raises :class:`~omnimsg.errors.CorruptRecordError`.
    """
    if not isinstance(broadcast_id, str):
        raise InputError(f"broadcast_id: expected text, got {type(broadcast_id).__name__}")
    for key, _version, text in _store(store).scan_records(KIND, broadcast_id):
        yield decode_entry(key, text)


@attrs.frozen
class FailedSend:
    """One recipient a broadcast did not reach, and why (B15).

    ``status`` is FAILED (the platform refused, or no tries or time were left),
    SKIPPED (not allowed any more when it was due) or UNCERTAIN (a worker stopped
    between sending and recording; reconcile with :func:`resolve`). ``reason`` is a
    code (``rejected``, ``retries_exhausted``, an :class:`~omnimsg.policy.Reason`),
    ``rule`` its SPEC id, ``error`` the platform's or transport's words.
    """

    key: str
    contact_id: str
    account_id: str
    kind: str
    status: LedgerStatus
    reason: str | None
    rule: str | None
    error: str | None
    attempts: int
    at: datetime


@attrs.frozen
class DeliveryReport:
    """What became of a broadcast's sends, from the ledger (B15).

    ``counts`` by ledger status; ``failed`` the sends that did not go, one per
    line, with their reasons; ``corrupt`` the keys whose entries cannot be read
    (never overwritten; see :class:`~omnimsg.errors.CorruptRecordError`).
    """

    broadcast_id: str
    counts: dict[str, int]
    failed: tuple[FailedSend, ...]
    corrupt: tuple[str, ...] = ()

    @property
    def sent(self) -> int:
        """Sends the platform accepted."""
        return self.counts.get(LedgerStatus.SENT.value, 0)

    @property
    def uncertain(self) -> int:
        """Sends whose outcome is unknown, waiting for reconciliation."""
        return self.counts.get(LedgerStatus.UNCERTAIN.value, 0)


_NOT_SENT = frozenset({LedgerStatus.FAILED, LedgerStatus.SKIPPED, LedgerStatus.UNCERTAIN})


def failed_sends(store: DeliveryStore, broadcast_id: str) -> list[FailedSend]:
    """The broadcast's sends that did not go, each with its reason (B15)."""
    return list(delivery_report(store, broadcast_id).failed)


def delivery_report(store: DeliveryStore, broadcast_id: str) -> DeliveryReport:
    """Counts by status and the failed sends of a broadcast, from the ledger (B15)."""
    if not isinstance(broadcast_id, str):
        raise InputError(f"broadcast_id: expected text, got {type(broadcast_id).__name__}")
    counts: dict[str, int] = {}
    failed: list[FailedSend] = []
    corrupt: list[str] = []
    for key, _version, text in _store(store).scan_records(KIND, broadcast_id):
        try:
            entry = decode_entry(key, text)
        except CorruptRecordError:
            corrupt.append(key)
            continue
        counts[entry.status.value] = counts.get(entry.status.value, 0) + 1
        if entry.status in _NOT_SENT:
            failed.append(
                FailedSend(
                    key=entry.key,
                    contact_id=entry.contact_id,
                    account_id=entry.account_id,
                    kind=entry.kind,
                    status=entry.status,
                    reason=entry.reason,
                    rule=entry.rule,
                    error=entry.error,
                    attempts=entry.attempts,
                    at=entry.updated_at,
                )
            )
    return DeliveryReport(broadcast_id, counts, tuple(failed), tuple(corrupt))


def resolve(
    store: DeliveryStore,
    key: str,
    *,
    sent: bool,
    now: datetime,
    provider_message_id: str | None = None,
) -> LedgerEntry:
    """Settle an UNCERTAIN send once the platform's own records say what happened.

    ``sent=True`` makes it SENT (with the platform's id when known); ``sent=False``
    makes it DEFERRED at ``now``, so the next dispatcher run sends it. Raises
    :class:`~omnimsg.errors.InputError` when the send is not uncertain.
    """
    _store(store)
    _key(key)
    when = to_instant(now, "now")
    if not isinstance(sent, bool):
        raise InputError(f"sent: expected True or False, got {type(sent).__name__}")
    if provider_message_id is not None and not isinstance(provider_message_id, str):
        raise InputError("provider_message_id: expected text or None")
    for _ in attempts("resolving an uncertain send"):
        found = get_entry(store, key)
        if found is None:
            raise InputError(f"resolve: no ledger entry for key {key[:80]!r}")
        version, entry = found
        if entry.status is not LedgerStatus.UNCERTAIN:
            raise InputError(
                f"resolve: the send {key[:80]!r} is {entry.status.value}, not uncertain"
            )
        if sent:
            moved = update_entry(
                store,
                version,
                entry,
                status=LedgerStatus.SENT,
                provider_message_id=provider_message_id,
                updated_at=when,
                owner=None,
                lease_until=None,
            )
        else:
            moved = update_entry(
                store,
                version,
                entry,
                status=LedgerStatus.DEFERRED,
                retry_at=when,
                updated_at=when,
                owner=None,
                lease_until=None,
            )
        if moved is not None:
            return moved[1]
    raise AssertionError("attempts() raises when it runs out")  # pragma: no cover
