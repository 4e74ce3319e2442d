"""Loading :class:`~omnimsg.contacts.Contact` values into the reference schema.

Every value is checked before anything is sent: SQL text holds no NUL and no lone
surrogate (PostgreSQL refuses both, SQLite's driver cannot encode the second),
instants are aware and within years 1-9999 in UTC, integers fit in 64 bits. A value
that breaks a rule is an :class:`~omnimsg.errors.InputError` naming the contact and
the field; the database's own refusals become a :class:`~omnimsg.errors.StoreError`
in :mod:`omnimsg.stores.sql._driver`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from omnimsg._time import require_aware
from omnimsg.contacts import TEXT_FIELDS, ChannelIdentity, Contact
from omnimsg.errors import InputError
from omnimsg.segments.compiler import custom_value_type
from omnimsg.segments.fields import INT64_BOUND, FieldType
from omnimsg.segments.values import text_problem
from omnimsg.state import OptInState, SubscriptionStatus
from omnimsg.stores.sql._driver import database_errors
from omnimsg.stores.sql.schema import CUSTOM_VALUE_COLUMNS, REFERENCE_TABLES, ContactTables

__all__ = ["load_contacts"]

_LOAD_ORDER = ("contacts", "tags", "identities", "custom_values", "subscriptions")
# The enums are stored as their text values.
_TEXT_FIELDS = (*TEXT_FIELDS, "conversation_status", "last_interacted_channel")


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:59] + "…"


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected a string, got {type(value).__name__}")
    problem = text_problem(value)
    if problem is not None:
        raise InputError(f"{where}: text {problem}")
    # A str subclass (a StrEnum member) is stored as the text it compares as.
    return str.__str__(value)


def _optional_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _instant(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    aware = require_aware(value, where)  # type: ignore[arg-type]
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{where}: {aware!r} is outside the range of UTC dates") from None


def _custom_row(contact_id: str, name: object, value: object, where: str) -> dict[str, Any] | None:
    where = f"{where}.custom[{_shown(name)}]"
    try:
        kind = custom_value_type(value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from exc.__cause__
    if kind is None:
        return None
    row: dict[str, Any] = dict.fromkeys(CUSTOM_VALUE_COLUMNS.values())
    row.update(contact_id=contact_id, name=_text(name, f"{where} (its name)"))
    if (
        kind is FieldType.NUMBER
        and isinstance(value, int)
        and not -INT64_BOUND <= value < INT64_BOUND
    ):
        raise InputError(f"{where}: integers must fit in 64 bits")
    if kind is FieldType.DATETIME:
        value = _instant(value, where)
    elif kind is FieldType.STRING:
        value = _text(value, where)
    row[CUSTOM_VALUE_COLUMNS[kind]] = value
    return row


def _identity_row(contact_id: str, position: int, identity: object, where: str) -> dict[str, Any]:
    if not isinstance(identity, ChannelIdentity):
        raise InputError(f"{where}: expected a ChannelIdentity, got {type(identity).__name__}")
    where = f"{where}[{_shown(identity.account_id)}]"
    return {
        "contact_id": contact_id,
        "account_id": _text(identity.account_id, f"{where}.account_id"),
        "external_id": _text(identity.external_id, f"{where}.external_id"),
        "position": position,
        "channel": _text(identity.channel, f"{where}.channel"),
        "first_seen_at": _instant(identity.first_seen_at, f"{where}.first_seen_at"),
        "last_inbound_at": _instant(identity.last_inbound_at, f"{where}.last_inbound_at"),
    }


def _subscription_row(
    contact_id: str, sender: object, record: object, where: str
) -> dict[str, Any]:
    where = f"{where}.subscriptions[{_shown(sender)}]"
    status = record.status if isinstance(record, OptInState) else record
    if not isinstance(status, SubscriptionStatus):
        raise InputError(f"{where}: expected an OptInState, got {type(record).__name__}")
    return {"contact_id": contact_id, "sender": _text(sender, where), "status": status.value}


def _rows(contact: object) -> dict[str, list[dict[str, Any]]]:
    """The rows of one contact, by table, every value checked."""
    if not isinstance(contact, Contact):
        raise InputError(f"load_contacts: expected Contact values, got {type(contact).__name__}")
    where = f"load_contacts: contact {_shown(contact.id)}"
    contact_id = _text(contact.id, f"{where}.id")
    person: dict[str, Any] = {"id": contact_id}
    for name in _TEXT_FIELDS:
        person[name] = _optional_text(getattr(contact, name), f"{where}.{name}")
    person["created_at"] = _instant(contact.created_at, f"{where}.created_at")
    tags = sorted({_text(tag, f"{where}.tags") for tag in contact.tags})
    custom = [
        row
        for name, value in contact.custom.items()
        if (row := _custom_row(contact_id, name, value, where)) is not None
    ]
    subscriptions = [
        _subscription_row(contact_id, sender, record, where)
        for sender, record in contact.subscriptions.items()
    ]
    return {
        "contacts": [person],
        "tags": [{"contact_id": contact_id, "tag": tag} for tag in tags],
        "identities": [
            _identity_row(contact_id, position, identity, f"{where}.identities")
            for position, identity in enumerate(contact.identities)
        ],
        "custom_values": custom,
        "subscriptions": sorted(subscriptions, key=lambda row: str(row["sender"])),
    }


def _targets(tables: object) -> dict[str, sa.Table]:
    if not isinstance(tables, ContactTables):
        raise InputError(
            f"load_contacts: tables must be ContactTables, got {type(tables).__name__}"
        )
    targets = {name: getattr(tables, name) for name in _LOAD_ORDER}
    for name, table in targets.items():
        if not isinstance(table, sa.Table):
            raise InputError(
                f"load_contacts: tables.{name} must be a Table, got {type(table).__name__}"
            )
    return targets


def load_contacts(
    connection: sa.Connection,
    contacts: Iterable[Contact],
    *,
    tables: ContactTables = REFERENCE_TABLES,
    batch_size: int = 1000,
) -> int:
    """Insert contacts into the reference schema (or tables shaped like it).

    Runs inside the caller's transaction and returns the number of contacts loaded.
    Custom values are stored by :func:`~omnimsg.segments.compiler.custom_value_type`:
    each in the column of its type; values of no supported type (and NaN) are skipped,
    exactly as the Python predicate reads them as missing. Numbers are stored as
    written (:class:`~omnimsg.stores.sql.ExactNumber`: ``123.45``, so a query for
    ``number_value = 123.45`` finds it), identities with their ``position`` in
    ``Contact.identities`` (when the table has that column), a consent record as its
    status. :class:`~omnimsg.stores.sql.SqlContactSource` reads them back.

    Contacts are read and checked ``batch_size`` at a time, and every row of a batch is
    checked before any of it is sent. So an :class:`~omnimsg.errors.InputError` leaves
    nothing of the batch holding the bad contact in the database; the batches before it
    are in the caller's transaction (roll it back to load nothing). After a
    :class:`~omnimsg.errors.StoreError` part of the failing batch may have been
    inserted: roll the transaction back (PostgreSQL refuses to go on in it anyway).

    Raises:
        InputError: a value SQL cannot hold, naming the contact and the field (text
            with NUL or a lone surrogate, a naive or out-of-range datetime, an integer
            beyond 64 bits, a value of the wrong type), or an argument of the wrong
            type (``connection``, ``tables``, ``batch_size``, a non-``Contact`` item).
        StoreError: the database refused a batch (a duplicate id, a broken connection).
    """
    if not isinstance(connection, sa.Connection):
        raise InputError(
            f"load_contacts: expected a SQLAlchemy Connection, got {type(connection).__name__}"
        )
    targets = _targets(tables)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"load_contacts: batch_size must be a positive int, got {batch_size!r}")
    try:
        items = iter(contacts)
    except TypeError:
        raise InputError(
            f"load_contacts: contacts must be an iterable of Contact, got {type(contacts).__name__}"
        ) from None
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in _LOAD_ORDER}
    count = 0

    # Tables of an application's own may leave out the order of identities.
    positions = "position" in targets["identities"].c

    def flush() -> None:
        if not positions:
            for row in pending["identities"]:
                del row["position"]
        for name in _LOAD_ORDER:
            rows = pending[name]
            if rows:
                with database_errors(f"load_contacts: inserting into {targets[name].name}"):
                    connection.execute(targets[name].insert(), rows)
                pending[name] = []

    for contact in items:
        for name, rows in _rows(contact).items():
            pending[name].extend(rows)
        count += 1
        if count % batch_size == 0:
            flush()
    flush()
    return count
