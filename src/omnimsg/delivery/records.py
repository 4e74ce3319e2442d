"""What a delivery store keeps, as values, and how each value is written as text.

A :class:`~omnimsg.protocols.DeliveryStore` keeps two things, whatever its backend:

- **records**: a JSON text per ``(kind, key)`` with a version number, replaced only
  by compare-and-set (:meth:`~omnimsg.protocols.DeliveryStore.put_record`). The
  send ledger (:class:`LedgerEntry`, kind ``"ledger"``), conversations, sender
  accounts and usage are records;
- **reservations**: members of named sets, each with the instant it was taken
  (:class:`Reservation`): the distinct recipients of a sender's local day (B11), of
  a rolling tier window (B13), a contact's marketing messages (X4), a month's
  chatbot-initiated messages (W6). A store takes several at once, all or none,
  never past a cap.

This module holds the values and the one text format of each; nothing here does
I/O. A record whose text cannot be read back raises
:class:`~omnimsg.errors.CorruptRecordError` naming its kind and key: it is never
overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import attrs

from omnimsg.errors import CorruptRecordError, InputError, StoreError
from omnimsg.state import AccountState, ConversationState, OptInState, SenderUsage

__all__ = [
    "CAS_TRIES",
    "EPOCH",
    "FINAL_STATUSES",
    "LedgerEntry",
    "LedgerStatus",
    "Reservation",
    "attempts",
    "decode_account",
    "decode_contact_channel",
    "decode_conversation",
    "decode_entry",
    "decode_usage",
    "encode_account",
    "encode_contact_channel",
    "encode_conversation",
    "encode_entry",
    "encode_usage",
    "from_micros",
    "to_micros",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Instants are kept as whole microseconds since this one."""


CAS_TRIES = 1000
"""How many times a compare-and-set loop reads and writes again before giving up."""


def attempts(what: str) -> Iterator[int]:
    """Counts the tries of a compare-and-set loop; past :data:`CAS_TRIES` a
    :class:`~omnimsg.errors.StoreError` says the record kept changing (a store that
    never reports a write, or a writer in a loop)."""
    yield from range(CAS_TRIES)
    raise StoreError(f"{what}: the record changed {CAS_TRIES} times while being written")


def to_micros(instant: datetime) -> int:
    """``instant`` as microseconds since :data:`EPOCH` (exact, any offset)."""
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC instant ``micros`` microseconds after :data:`EPOCH`."""
    return EPOCH + timedelta(microseconds=micros)


_dumps = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode


# --- reservations ----------------------------------------------------------------------


class Reservation(NamedTuple):
    """A claim on one place of a capped set, taken at an instant.

    ``key`` names the set (``daily/sms-1/2026-12-01``); ``member`` is what is
    counted (a recipient, or a send's idempotency key to count messages). Members
    taken within ``window`` before the instant count against ``cap`` (``None``: every
    member kept); a member already counted there is granted again without counting
    twice (its instant moves forward). ``cap`` ``None`` counts without a limit.
    ``keep`` is how long a member is kept at all: at least ``window``.
    """

    key: str
    member: str
    cap: int | None
    window: timedelta | None
    keep: timedelta


def check_reservations(reservations: object) -> tuple[Reservation, ...]:
    """The reservations as a tuple, or :class:`InputError` naming the bad one."""
    if isinstance(reservations, str | bytes) or not isinstance(reservations, tuple | list):
        raise InputError(
            f"reservations: expected a sequence of Reservation, got {type(reservations).__name__}"
        )
    out: list[Reservation] = []
    for i, item in enumerate(reservations):
        if not isinstance(item, Reservation):
            raise InputError(
                f"reservations[{i}]: expected a Reservation, got {type(item).__name__}"
            )
        key, member, cap, window, keep = item
        if not isinstance(key, str) or not key or not isinstance(member, str) or not member:
            raise InputError(f"reservations[{i}]: key and member must be non-empty text")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
            raise InputError(f"reservations[{i}].cap: expected a count or None")
        if window is not None and (not isinstance(window, timedelta) or window <= timedelta(0)):
            raise InputError(f"reservations[{i}].window: expected a positive timedelta or None")
        if not isinstance(keep, timedelta) or keep <= timedelta(0):
            raise InputError(f"reservations[{i}].keep: expected a positive timedelta")
        if window is not None and keep < window:
            raise InputError(f"reservations[{i}].keep: must be at least the window")
        out.append(item)
    return tuple(out)


# --- the send ledger -------------------------------------------------------------------


class LedgerStatus(StrEnum):
    """Where one send stands in the ledger (docs/delivery.md has the diagram)."""

    CLAIMED = "claimed"
    """A worker holds it; the transport has not been called."""
    SENDING = "sending"
    """The transport was called; its answer is not recorded yet."""
    SENT = "sent"
    """The platform accepted it."""
    DEFERRED = "deferred"
    """It will be tried again at ``retry_at`` (a passing failure, or no room yet)."""
    FAILED = "failed"
    """It will not go: the platform refused it, or it ran out of tries or time (B15)."""
    SKIPPED = "skipped"
    """Decided again at send time and not allowed any more (an opt-out, a closed window)."""
    UNCERTAIN = "uncertain"
    """A worker stopped between calling the transport and recording its answer."""


FINAL_STATUSES = frozenset(
    {LedgerStatus.SENT, LedgerStatus.FAILED, LedgerStatus.SKIPPED, LedgerStatus.UNCERTAIN}
)
"""Statuses no dispatcher moves on from by itself (an uncertain send is resolved by hand)."""


def _opt_instant(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    raise InputError(f"expected an aware datetime or None, got {type(value).__name__}")


@attrs.frozen
class LedgerEntry:
    """One send in the ledger, under its idempotency key (X5).

    ``owner`` is the worker holding it until ``lease_until``; ``attempts`` counts
    calls of the transport. ``provider_message_id`` is the platform's id of a sent
    message; ``error`` the platform's or the transport's words for a failure;
    ``reason`` and ``rule`` a machine-readable code and its SPEC id for a send
    skipped or failed by omnimsg itself.
    """

    key: str
    broadcast_id: str
    contact_id: str
    account_id: str
    status: LedgerStatus
    updated_at: datetime = attrs.field(converter=_opt_instant)
    kind: str = "message"
    owner: str | None = None
    lease_until: datetime | None = attrs.field(default=None, converter=_opt_instant)
    attempts: int = 0
    retry_at: datetime | None = attrs.field(default=None, converter=_opt_instant)
    provider_message_id: str | None = None
    error: str | None = None
    reason: str | None = None
    rule: str | None = None

    @property
    def final(self) -> bool:
        """Whether no dispatcher moves this send on by itself."""
        return self.status in FINAL_STATUSES


_ENTRY_TEXT = ("key", "broadcast_id", "contact_id", "account_id", "kind")
_ENTRY_OPTIONAL = ("owner", "provider_message_id", "error", "reason", "rule")
_ENTRY_INSTANTS = ("updated_at", "lease_until", "retry_at")


def encode_entry(entry: LedgerEntry) -> str:
    """The ledger entry as its record text."""
    data: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_TEXT}
    data.update({name: getattr(entry, name) for name in _ENTRY_OPTIONAL})
    for name in _ENTRY_INSTANTS:
        value = getattr(entry, name)
        data[name] = None if value is None else to_micros(value)
    data["status"] = entry.status.value
    data["attempts"] = entry.attempts
    return _dumps(data)


def _load(kind: str, key: str, text: object) -> dict[str, Any]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptRecordError(kind, key, "not UTF-8 text") from None
    if not isinstance(text, str):
        raise CorruptRecordError(kind, key, f"expected text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CorruptRecordError(kind, key, "not JSON") from None
    if not isinstance(data, dict):
        raise CorruptRecordError(kind, key, "not a JSON object")
    return data


def _micros(kind: str, key: str, data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptRecordError(kind, key, f"{name}: expected microseconds")
    try:
        return from_micros(value)
    except OverflowError:
        raise CorruptRecordError(kind, key, f"{name}: out of range") from None


def decode_entry(key: str, text: object) -> LedgerEntry:
    """The ledger entry stored under ``key``, or :class:`CorruptRecordError`."""
    data = _load("ledger", key, text)
    fields: dict[str, Any] = {}
    for name in _ENTRY_TEXT:
        value = data.get(name)
        if not isinstance(value, str):
            raise CorruptRecordError("ledger", key, f"{name}: expected text")
        fields[name] = value
    for name in _ENTRY_OPTIONAL:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise CorruptRecordError("ledger", key, f"{name}: expected text or null")
        fields[name] = value
    for name in _ENTRY_INSTANTS:
        fields[name] = _micros("ledger", key, data, name)
    if fields["updated_at"] is None:
        raise CorruptRecordError("ledger", key, "updated_at: missing")
    attempts = data.get("attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        raise CorruptRecordError("ledger", key, "attempts: expected a count")
    try:
        status = LedgerStatus(str(data.get("status")))
    except ValueError:
        raise CorruptRecordError("ledger", key, "status: not a ledger status") from None
    if fields["key"] != key:
        raise CorruptRecordError("ledger", key, "the entry names another key")
    return LedgerEntry(status=status, attempts=attempts, **fields)


# --- state records -----------------------------------------------------------------------


def _opt(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def encode_conversation(state: ConversationState, events: tuple[str, ...] = ()) -> str:
    """A conversation state, with the platform ids of the last events applied to it.

    The fields of the platforms' rules (``session_started_at``, ``outbound_times``,
    ``last_event_at``, ``group``) are written only when they hold something, so a
    record of a conversation that never needed them reads as it always did.
    """
    consent = state.consent
    extra: dict[str, Any] = {}
    if state.session_started_at is not None:
        extra["session_started_at"] = to_micros(state.session_started_at)
    if state.outbound_times:
        extra["outbound_times"] = [to_micros(at) for at in state.outbound_times]
    if state.last_event_at is not None:
        extra["last_event_at"] = to_micros(state.last_event_at)
    if state.group:
        extra["group"] = True
    return _dumps(
        {
            **extra,
            "last_inbound_at": _opt(state.last_inbound_at),
            "outbound_since_inbound": state.outbound_since_inbound,
            "consent": {
                "status": consent.status.value,
                "prompts_sent": consent.prompts_sent,
                "first_prompt_at": _opt(consent.first_prompt_at),
                "last_prompt_at": _opt(consent.last_prompt_at),
                "held": list(consent.held),
                "changed_at": _opt(consent.changed_at),
            },
            "events": list(events),
        }
    )


def decode_conversation(key: str, text: object) -> tuple[ConversationState, tuple[str, ...]]:
    """A conversation state and its applied event ids, or :class:`CorruptRecordError`.

    A record written before a field existed reads with that field's default.
    """
    data = _load("conversation", key, text)
    consent = data.get("consent")
    events = data.get("events", [])
    if not isinstance(consent, dict) or not isinstance(events, list):
        raise CorruptRecordError("conversation", key, "consent or events missing")
    if not all(isinstance(e, str) for e in events):
        raise CorruptRecordError("conversation", key, "events: expected text ids")
    times = data.get("outbound_times", [])
    if not isinstance(times, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in times
    ):
        raise CorruptRecordError("conversation", key, "outbound_times: expected microseconds")
    group = data.get("group", False)
    if not isinstance(group, bool):
        raise CorruptRecordError("conversation", key, "group: expected true or false")
    try:
        record = OptInState(
            status=consent.get("status"),
            prompts_sent=consent.get("prompts_sent"),
            first_prompt_at=_micros("conversation", key, consent, "first_prompt_at"),
            last_prompt_at=_micros("conversation", key, consent, "last_prompt_at"),
            held=consent.get("held"),
            changed_at=_micros("conversation", key, consent, "changed_at"),
        )
        state = ConversationState(
            last_inbound_at=_micros("conversation", key, data, "last_inbound_at"),
            outbound_since_inbound=data.get("outbound_since_inbound"),
            consent=record,
            session_started_at=_micros("conversation", key, data, "session_started_at"),
            outbound_times=[from_micros(t) for t in times],
            last_event_at=_micros("conversation", key, data, "last_event_at"),
            group=group,
        )
    except InputError as exc:
        raise CorruptRecordError("conversation", key, str(exc)) from None
    except OverflowError:
        raise CorruptRecordError("conversation", key, "outbound_times: out of range") from None
    return state, tuple(events)


def encode_account(state: AccountState) -> str:
    """A sender account's state (its time zone by IANA name or fixed offset)."""
    zone = state.timezone
    name = getattr(zone, "key", None)
    if not isinstance(name, str):
        offset = datetime(2000, 1, 1, tzinfo=zone).utcoffset()
        if offset != timedelta(0) or zone is not UTC:
            raise InputError(
                "AccountState.timezone: only IANA zones (ZoneInfo) and UTC can be stored"
            )
        name = None  # datetime.UTC itself, read back as itself
    return _dumps(
        {
            "timezone": name,
            "chatbot_month": None if state.chatbot_month is None else list(state.chatbot_month),
            "chatbot_initiated_count": state.chatbot_initiated_count,
            "paid_chatbot_terms": state.paid_chatbot_terms,
            "tier": state.tier,
            "quality_low": state.quality_low,
            "quality": state.quality,
            "quota_month": None if state.quota_month is None else list(state.quota_month),
            "quota_count": state.quota_count,
            "paid_extra_messages": state.paid_extra_messages,
            "created_at": _opt(state.created_at),
        }
    )


def decode_account(key: str, text: object) -> AccountState:
    """A sender account's state, or :class:`CorruptRecordError`."""
    data = _load("account", key, text)
    if data.get("timezone", "") is None:
        data["timezone"] = UTC
    if "created_at" in data:
        data["created_at"] = _micros("account", key, data, "created_at")
    try:
        return AccountState(**data)
    except (InputError, TypeError) as exc:
        raise CorruptRecordError("account", key, str(exc)) from None


def encode_usage(usage: SenderUsage) -> str:
    """A sender's usage record."""
    return _dumps(
        {
            "day": None if usage.day is None else usage.day.isoformat(),
            "recipients_today": usage.recipients_today,
            "recent": [[to_micros(at), who] for at, who in usage.recent],
        }
    )


def decode_usage(key: str, text: object) -> SenderUsage:
    """A sender's usage record, or :class:`CorruptRecordError`."""
    data = _load("usage", key, text)
    recent = data.get("recent")
    if not isinstance(recent, list) or not all(
        isinstance(r, list) and len(r) == 2 and isinstance(r[0], int) for r in recent
    ):
        raise CorruptRecordError("usage", key, "recent: expected [[micros, recipient], ...]")
    try:
        return SenderUsage(
            day=data.get("day"),
            recipients_today=data.get("recipients_today"),
            recent=[(from_micros(at), who) for at, who in recent],
        )
    except (InputError, OverflowError) as exc:
        raise CorruptRecordError("usage", key, str(exc)) from None


def encode_contact_channel(channel: str, account_id: str, at: datetime) -> str:
    """A contact's last interacted channel and account, with the instant (B5)."""
    return _dumps({"channel": channel, "account_id": account_id, "at": to_micros(at)})


def decode_contact_channel(key: str, text: object) -> tuple[str, str, datetime]:
    """``(channel, account_id, at)`` of a contact's last interaction."""
    data = _load("contact", key, text)
    channel, account = data.get("channel"), data.get("account_id")
    at = _micros("contact", key, data, "at")
    if not isinstance(channel, str) or not isinstance(account, str) or at is None:
        raise CorruptRecordError("contact", key, "expected channel, account_id and at")
    return channel, account, at
