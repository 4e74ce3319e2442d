"""Reading contacts back from the reference schema, streamed: :class:`SqlContactSource`.

Contacts are read in the order of their ids, through a server-side cursor
(``yield_per``), so a million of them never sit in memory at once: each chunk of
``chunk_size`` ids fetches its tags, custom values, identities and subscriptions
with one ``IN`` query per table, and the contacts are built with
:meth:`Contact.trusted <omnimsg.contacts.Contact.trusted>`, which trusts the rows as
:func:`~omnimsg.stores.sql.load_contacts` wrote them. A segment is pushed down to
the database (:func:`~omnimsg.segments.sql.segment_clause`), so only its contacts are
read at all. The lookups of a WhatsApp inbound (SPEC P16, ``find_identities`` and
``find_by_phone``) are one ``IN`` query each.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus, CustomValue
from omnimsg.errors import InputError, StoreError
from omnimsg.segments.model import Segment
from omnimsg.segments.values import text_problem
from omnimsg.state import OptInState, SubscriptionStatus
from omnimsg.stores.sql._driver import database_errors
from omnimsg.stores.sql.schema import CUSTOM_VALUE_COLUMNS, REFERENCE_TABLES, ContactTables

__all__ = ["SqlContactSource"]

_PERSON = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_region",
    "timezone",
    "language",
    "lifecycle",
    "last_interacted_channel",
    "conversation_status",
    "assignee",
    "created_at",
)
"""The columns of ``contacts`` read, in this order."""

_CHANNELS: Mapping[str | None, ChannelKind | None] = {None: None} | {
    k.value: k for k in ChannelKind
}
_STATUSES: Mapping[str | None, ConversationStatus | None] = {None: None} | {
    s.value: s for s in ConversationStatus
}
_CONSENT: Mapping[str | None, OptInState] = {None: OptInState.of(None)} | {
    status.value: OptInState.of(status) for status in SubscriptionStatus
}
_NO_TAGS: frozenset[str] = frozenset()
_NO_CUSTOM: Mapping[str, CustomValue] = MappingProxyType({})
_NO_CONSENT: Mapping[str, OptInState] = MappingProxyType({})


# Identities read back are built like Contact.trusted builds contacts: their values
# come typed from the store's own rows, so the slots are written directly (attrs'
# frozen __setattr__ refuses assignment; the slots' own descriptors do not).
_IDENTITY_SLOTS = tuple(
    ChannelIdentity.__dict__[f.name].__set__ for f in attrs.fields(ChannelIdentity)
)
_new_identity = object.__new__


def _identity(
    account: str, kind: ChannelKind, external: str, seen: datetime | None, inbound: datetime | None
) -> ChannelIdentity:
    identity: ChannelIdentity = _new_identity(ChannelIdentity)
    for setter, value in zip(
        _IDENTITY_SLOTS, (account, kind, external, seen, inbound), strict=True
    ):
        setter(identity, value)
    return identity


def _column(table: sa.FromClause, key: str, name: str) -> sa.ColumnElement[Any]:
    try:
        return table.c[key]
    except KeyError:
        raise InputError(
            f"SqlContactSource: tables.{name} has no column with the key {key!r}"
        ) from None


def _among(owner: sa.ColumnElement[Any], ids: list[Any]) -> sa.ColumnElement[bool]:
    return owner.in_(ids)


def _among_postgresql(owner: sa.ColumnElement[Any], ids: list[Any]) -> sa.ColumnElement[bool]:
    # One array parameter instead of a thousand: nothing to expand per chunk.
    return owner == sa.any_(sa.bindparam("ids", ids, type_=postgresql.ARRAY(owner.type)))


def _storable(value: object, name: str) -> bool:
    """Whether ``value`` is text a database can hold (else no row can match it)."""
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__}")
    return text_problem(value) is None


_MAX_LOOKUP_VALUES = 1000
"""The most values ``find_identities`` and ``find_by_phone`` take (one IN list)."""


def _lookup_values(values: object, name: str) -> list[str]:
    """The distinct storable texts of a collection, in order; else :class:`InputError`."""
    if isinstance(values, str | bytes) or not isinstance(values, Collection):
        raise InputError(f"{name}: expected a collection of text, got {type(values).__name__}")
    if len(values) > _MAX_LOOKUP_VALUES:
        raise InputError(f"{name}: at most {_MAX_LOOKUP_VALUES} values, got {len(values):,}")
    wanted: dict[str, None] = {}
    for value in values:
        if _storable(value, name):
            wanted.setdefault(value)
    return list(wanted)


class _Queries:
    """The statements a source runs, built once from its tables."""

    def __init__(self, tables: ContactTables) -> None:
        people = tables.contacts
        self.person = [_column(people, key, "contacts") for key in _PERSON]
        self.person_id = self.person[0]
        tags, ids, values, subs = (
            tables.tags,
            tables.identities,
            tables.custom_values,
            tables.subscriptions,
        )
        self.tag_owner = _column(tags, "contact_id", "tags")
        self.tags = sa.select(self.tag_owner, _column(tags, "tag", "tags"))
        self.identity_owner = _column(ids, "contact_id", "identities")
        account = _column(ids, "account_id", "identities")
        external = _column(ids, "external_id", "identities")
        # Identities come back in the order they were given when the table keeps it.
        order = [ids.c["position"]] if "position" in ids.c else [account, external]
        self.identities = sa.select(
            self.identity_owner,
            account,
            _column(ids, "channel", "identities"),
            external,
            _column(ids, "first_seen_at", "identities"),
            _column(ids, "last_inbound_at", "identities"),
        ).order_by(self.identity_owner, *order)
        self.value_owner = _column(values, "contact_id", "custom_values")
        self.values = sa.select(
            self.value_owner,
            _column(values, "name", "custom_values"),
            *(_column(values, key, "custom_values") for key in CUSTOM_VALUE_COLUMNS.values()),
        )
        self.sub_owner = _column(subs, "contact_id", "subscriptions")
        self.subscriptions = sa.select(
            self.sub_owner,
            _column(subs, "sender", "subscriptions"),
            _column(subs, "status", "subscriptions"),
        )
        self.find = (
            sa.select(self.identity_owner)
            .where(account == sa.bindparam("account"), external == sa.bindparam("external"))
            .order_by(self.identity_owner)
            .limit(1)
        )
        self.accounts = sa.select(account).where(external == sa.bindparam("external")).distinct()
        # P16 lookups: one IN query each, at most one row per value asked about.
        self.find_among = (
            sa.select(external, sa.func.min(self.identity_owner))
            .where(
                account == sa.bindparam("account"),
                external.in_(sa.bindparam("values", expanding=True)),
            )
            .group_by(external)
        )
        phone = self.person[_PERSON.index("phone")]
        self.phones = (
            sa.select(phone, sa.func.min(self.person_id))
            .where(phone.in_(sa.bindparam("values", expanding=True)))
            .group_by(phone)
        )
        on_account = sa.exists().where(
            self.identity_owner == self.person_id, account == sa.bindparam("account")
        )
        self.phones_not_on = self.phones.where(~on_account)

    def people(self, where: sa.ColumnElement[bool] | None = None) -> sa.Select[Any]:
        select = sa.select(*self.person)
        if where is not None:
            select = select.where(where)
        return select.order_by(self.person_id)


class SqlContactSource:
    """A :class:`~omnimsg.protocols.ContactSource` over the reference schema.

    ``bind`` is a SQLAlchemy ``Connection`` (everything runs in the caller's
    transaction) or an ``Engine`` (each call opens a connection of its own, held by
    an iteration until it ends or is closed). ``tables`` points at tables shaped like
    the reference schema, holding values of its types (as
    :func:`~omnimsg.stores.sql.load_contacts` writes them): rows are trusted, not
    checked. Contacts come in the order of their ids (the database's order of the
    ``id`` column), ``chunk_size`` at a time.

    A contact reads back equal to the one loaded, as far as the reference schema
    keeps it: a consent record keeps only its status (:meth:`OptInState.of
    <omnimsg.state.OptInState.of>` of it), a custom value of no supported type is
    not stored at all, instants come back in UTC, and SQLite keeps a whole float as
    an integer of the same value.

    Raises:
        InputError: a ``bind`` that is neither, ``tables`` that are not
            :class:`~omnimsg.stores.sql.ContactTables` or lack a column, a
            ``chunk_size`` that is not a positive int; for each method, an argument
            of the wrong type.
        StoreError: the database failed or holds a value the reference schema
            cannot (an unknown channel kind or conversation status).
    """

    __slots__ = ("_bind", "_chunk_size", "_queries", "_tables")

    def __init__(
        self,
        bind: sa.Connection | sa.Engine,
        *,
        tables: ContactTables = REFERENCE_TABLES,
        chunk_size: int = 1000,
    ) -> None:
        if not isinstance(bind, sa.Connection | sa.Engine):
            raise InputError(
                f"SqlContactSource: expected a SQLAlchemy Connection or Engine, "
                f"got {type(bind).__name__}"
            )
        if not isinstance(tables, ContactTables):
            raise InputError(
                f"SqlContactSource: tables must be ContactTables, got {type(tables).__name__}"
            )
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InputError(
                f"SqlContactSource: chunk_size must be a positive int, got {chunk_size!r}"
            )
        self._bind = bind
        self._tables = tables
        self._chunk_size = chunk_size
        self._queries = _Queries(tables)

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        if isinstance(self._bind, sa.Connection):
            yield self._bind
        else:
            with self._bind.connect() as connection:
                yield connection

    def iter_contacts(self) -> Iterator[Contact]:
        """Every contact, in the order of their ids, streamed."""
        return self._stream(self._queries.people(), "SqlContactSource.iter_contacts")

    def iter_matching(self, segment: Segment, *, now: datetime) -> Iterator[Contact]:
        """The contacts in ``segment`` at ``now``, selected by the database, streamed.

        The same contacts, in the same order, as filtering :meth:`iter_contacts`
        with :func:`~omnimsg.segments.compile_segment` (SPEC A1). Raises, before
        anything is read, as :func:`~omnimsg.segments.sql.segment_clause` does.
        """
        # Imported here: omnimsg.segments.sql imports this package's schema.
        from omnimsg.segments.sql import segment_clause, select_contact_ids

        tables = self._tables
        ids = select_contact_ids(segment, now=now, tables=tables)
        if any(source is tables.contacts for source in ids.columns_clause_froms):
            where = segment_clause(segment, now=now, tables=tables)
        else:
            # Read from a child table: the contacts are those ids, a semi-join.
            where = self._queries.person_id.in_(ids)
        return self._stream(self._queries.people(where), "SqlContactSource.iter_matching")

    def get_contact(self, contact_id: str, /) -> Contact | None:
        """The contact ``contact_id``, or ``None``."""
        if not _storable(contact_id, "contact_id"):
            return None
        query = self._queries.people(self._queries.person_id == contact_id)
        with database_errors("SqlContactSource.get_contact"), self._connection() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            return self._build(conn, [row], "SqlContactSource.get_contact")[0]

    def find_identity(self, account_id: str, external_id: str, /) -> Contact | None:
        """The contact whose identity on ``account_id`` is ``external_id``, or ``None``.

        When several contacts share it, the first by id.
        """
        storable = _storable(account_id, "account_id")
        if not (_storable(external_id, "external_id") and storable):
            return None
        with database_errors("SqlContactSource.find_identity"), self._connection() as conn:
            found = conn.execute(
                self._queries.find, {"account": account_id, "external": external_id}
            ).scalar()
        return None if found is None else self.get_contact(found)

    def find_identities(self, account_id: str, external_ids: Collection[str], /) -> Contact | None:
        """The contact with any of ``external_ids`` on ``account_id``, or ``None``.

        One query (``external_id IN (...)``, on the index of external ids). The
        earliest of ``external_ids`` that some contact has wins; when several
        contacts share it, the first by id. At most 1,000 ids.
        """
        wanted = _lookup_values(external_ids, "external_ids")
        if not (_storable(account_id, "account_id") and wanted):
            return None
        where = "SqlContactSource.find_identities"
        with database_errors(where), self._connection() as conn:
            rows = conn.execute(self._queries.find_among, {"account": account_id, "values": wanted})
            found: dict[str, str] = dict(rows.all())
        return self._first(found, wanted)

    def find_by_phone(
        self, phones: Collection[str], /, *, not_on_account: str | None = None
    ) -> Contact | None:
        """A contact whose phone is one of ``phones`` (E.164, as stored), or ``None``.

        One query (``phone IN (...)``). The earliest of ``phones`` that some contact
        has wins, and among the contacts with it the first by id. With
        ``not_on_account``, contacts with an identity on that account are passed
        over. At most 1,000 phones.
        """
        wanted = _lookup_values(phones, "phones")
        # An account no database can hold has no identities: it passes no one over.
        passing_over = not_on_account is not None and _storable(not_on_account, "not_on_account")
        if not wanted:
            return None
        q = self._queries
        query, values = (
            (q.phones_not_on, {"values": wanted, "account": not_on_account})
            if passing_over
            else (q.phones, {"values": wanted})
        )
        with database_errors("SqlContactSource.find_by_phone"), self._connection() as conn:
            found: dict[str, str] = dict(conn.execute(query, values).all())
        return self._first(found, wanted)

    def _first(self, found: Mapping[str, str], wanted: Sequence[str]) -> Contact | None:
        """The contact of the earliest value of ``wanted`` that ``found`` has."""
        owner = next((found[value] for value in wanted if value in found), None)
        return None if owner is None else self.get_contact(owner)

    def accounts_for(self, external_id: str, /) -> Collection[str]:
        """The accounts on which some contact has ``external_id``."""
        if not _storable(external_id, "external_id"):
            return frozenset()
        with database_errors("SqlContactSource.accounts_for"), self._connection() as conn:
            found = conn.execute(self._queries.accounts, {"external": external_id}).scalars()
            return frozenset(found)

    def _stream(self, query: sa.Select[Any], where: str) -> Iterator[Contact]:
        with database_errors(where), self._connection() as conn:
            options = {"yield_per": self._chunk_size}
            result = conn.execute(query, execution_options=options)
            for rows in result.partitions():
                yield from self._build(conn, rows, where)

    def _build(self, conn: sa.Connection, rows: Sequence[Any], where: str) -> list[Contact]:
        """The contacts of ``rows`` (contacts columns), with their child rows."""
        q = self._queries
        ids = [row[0] for row in rows]
        among = _among_postgresql if conn.dialect.name == "postgresql" else _among
        tags: dict[str, set[str]] = {}
        for owner, tag in conn.execute(q.tags.where(among(q.tag_owner, ids))):
            tags.setdefault(owner, set()).add(tag)
        identities: dict[str, list[ChannelIdentity]] = {}
        for owner, account, channel, external, seen, inbound in conn.execute(
            q.identities.where(among(q.identity_owner, ids))
        ):
            kind = _CHANNELS.get(channel)
            if kind is None:
                raise StoreError(f"{where}: contact {owner!r} has an unknown channel {channel!r}")
            identities.setdefault(owner, []).append(
                _identity(account, kind, external, seen, inbound)
            )
        custom: dict[str, dict[str, CustomValue]] = {}
        for owner, name, *typed in conn.execute(q.values.where(among(q.value_owner, ids))):
            value = next((item for item in typed if item is not None), None)
            if value is not None:
                custom.setdefault(owner, {})[name] = value
        consent: dict[str, dict[str, OptInState]] = {}
        for owner, sender, status in conn.execute(q.subscriptions.where(among(q.sub_owner, ids))):
            record = _CONSENT.get(status)
            if record is None:
                raise StoreError(f"{where}: contact {owner!r} has an unknown status {status!r}")
            consent.setdefault(owner, {})[sender] = record
        built = []
        for row in rows:
            cid, first, last, email, phone, region, zone, language, lifecycle = row[:9]
            channel, status, assignee, created = row[9:]
            try:
                last_channel, conversation = _CHANNELS[channel], _STATUSES[status]
            except KeyError:
                raise StoreError(
                    f"{where}: contact {cid!r} holds an unknown channel kind or "
                    f"conversation status ({channel!r}, {status!r})"
                ) from None
            own_tags = tags.get(cid)
            own_custom = custom.get(cid)
            own_consent = consent.get(cid)
            built.append(
                Contact.trusted(
                    cid,
                    first,
                    last,
                    email,
                    phone,
                    region,
                    zone,
                    language,
                    lifecycle,
                    frozenset(own_tags) if own_tags else _NO_TAGS,
                    MappingProxyType(own_custom) if own_custom else _NO_CUSTOM,
                    tuple(identities.get(cid, ())),
                    last_channel,
                    conversation,
                    assignee,
                    MappingProxyType(own_consent) if own_consent else _NO_CONSENT,
                    created,
                )
            )
        return built
