"""SqlContactSource: contacts read back from the reference schema, streamed.

SPEC A2 (a broadcast's audience is read from where contacts live, here a database),
SPEC A1 (a segment pushed down to SQL selects the contacts the Python predicate
selects), SPEC A4 (an id is found on its channel account only). Checked on a SQLite
file and on the PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact, ConversationStatus
from omnimsg.errors import InputError, OmnimsgError, SegmentError, StoreError
from omnimsg.protocols import ContactSource
from omnimsg.segments import FieldType, compile_segment, parse_segment
from omnimsg.segments.compiler import custom_value_type
from omnimsg.state import OptInState, SubscriptionStatus
from omnimsg.stores.sql import (
    REFERENCE_TABLES,
    ContactTables,
    SqlContactSource,
    contact_identities,
    create_reference_schema,
    load_contacts,
)
from omnimsg.testing import check_contact_source
from segments.strategies import contact_sets, custom_schemas, instants, segments_for

from .conftest import rolled_back

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
PARIS = timezone(timedelta(hours=2))


def _people() -> list[Contact]:
    """Contacts using every field the reference schema keeps."""
    return [
        Contact(
            id="c-ana",
            first_name="Ana",
            last_name="Łukasiewicz",
            email="ana@example.com",
            phone="+34612345678",
            timezone="Europe/Madrid",
            language="es",
            lifecycle="customer",
            tags=frozenset({"vip", "ñandú"}),
            custom={
                "score": 900,
                "price": 123.45,
                "big": 2**63 - 1,
                "ratio": 2.0**60,
                "far": float("inf"),
                "plan": "Pro",
                "trial": False,
                "renewal": datetime(2024, 6, 1, 9, tzinfo=PARIS),
            },
            identities=(
                ChannelIdentity("wa-main", ChannelKind.WHATSAPP, "34612345678", NOW, NOW),
                ChannelIdentity("sms-1", ChannelKind.SMS, "+34612345678"),
                ChannelIdentity("wa-2", ChannelKind.WHATSAPP, "34612345678", last_inbound_at=NOW),
            ),
            last_interacted_channel=ChannelKind.WHATSAPP,
            conversation_status=ConversationStatus.SNOOZED,
            assignee="agent-1",
            subscriptions={
                "wa-main": SubscriptionStatus.SUBSCRIBED,
                "sms-1": SubscriptionStatus.PROMPTED,
            },
            created_at=datetime(2023, 1, 1, tzinfo=PARIS),
        ),
        Contact(id="c-bo", phone_region="BR"),
        Contact(id="c-cy", identities=(ChannelIdentity("tg-bot", ChannelKind.TELEGRAM, "777"),)),
    ]


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _identity_in_utc(identity: ChannelIdentity) -> ChannelIdentity:
    return attrs.evolve(
        identity,
        first_seen_at=_utc(identity.first_seen_at),
        last_inbound_at=_utc(identity.last_inbound_at),
    )


def _kept(contact: Contact) -> Contact:
    """``contact`` as the reference schema keeps it: custom values of a supported type
    (NaN, naive date-times and ``None`` are not stored), the status of each consent
    record, instants in UTC (Python never finds an ambiguous local time, 01:30 on the
    night clocks go back, equal to an instant in another zone)."""
    return Contact(
        id=contact.id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        phone_region=contact.phone_region,
        timezone=contact.timezone,
        language=contact.language,
        lifecycle=contact.lifecycle,
        tags=contact.tags,
        custom={k: _utc(v) for k, v in contact.custom.items() if custom_value_type(v) is not None},
        identities=tuple(map(_identity_in_utc, contact.identities)),
        last_interacted_channel=contact.last_interacted_channel,
        conversation_status=contact.conversation_status,
        assignee=contact.assignee,
        subscriptions={k: OptInState.of(v.status) for k, v in contact.subscriptions.items()},
        created_at=_utc(contact.created_at),
    )


def test_contacts_read_back_equal_and_exactly_typed(database: sa.Connection) -> None:
    """SPEC A2: what load_contacts wrote reads back equal, each value of its field's
    type (Contact.trusted trusts the rows), the identities in their order."""
    people = _people()
    load_contacts(database, people)
    source = SqlContactSource(database)
    back = list(source.iter_contacts())
    assert back == people
    ana = back[0]
    assert type(ana.tags) is frozenset
    assert type(ana.custom) is MappingProxyType
    assert type(ana.subscriptions) is MappingProxyType
    assert ana.custom["price"] == 123.45
    assert type(ana.custom["price"]) is float
    assert type(ana.custom["score"]) is int
    # SQLite's NUMERIC affinity keeps a whole float as an integer (of the same value).
    whole = int if database.dialect.name == "sqlite" else float
    assert type(ana.custom["ratio"]) is whole
    assert ana.custom["trial"] is False
    assert ana.custom["renewal"].utcoffset() == timedelta(0)
    assert all(type(i) is ChannelIdentity for i in ana.identities)
    assert [i.account_id for i in ana.identities] == ["wa-main", "sms-1", "wa-2"]
    assert ana.identities[0].channel is ChannelKind.WHATSAPP
    assert ana.channels == {ChannelKind.WHATSAPP, ChannelKind.SMS}
    assert ana.conversation_status is ConversationStatus.SNOOZED
    assert ana.last_interacted_channel is ChannelKind.WHATSAPP
    assert ana.phone_region == "ES"
    assert ana.subscriptions["sms-1"] == OptInState.of(SubscriptionStatus.PROMPTED)
    assert back[1].phone_region == "BR"
    assert source.get_contact("c-ana") == people[0]


@pytest.mark.parametrize("chunk_size", [1, 2, 1000])
def test_chunks_of_any_size_read_every_contact_once_in_id_order(
    database: sa.Connection, chunk_size: int
) -> None:
    """SPEC A2: child rows are fetched per chunk of ids; no chunk boundary loses or
    mixes them up."""
    people = [
        Contact(id=f"c{n:02d}", tags=frozenset({f"t{n % 3}"}), custom={"n": n}) for n in range(7)
    ]
    load_contacts(database, reversed(people))
    back = list(SqlContactSource(database, chunk_size=chunk_size).iter_contacts())
    assert back == people


def test_the_contract_checks_pass_on_sqlite_files(tmp_path: Path) -> None:
    """SPEC A4: the behaviour every ContactSource promises, on a SQLite file read
    through an Engine."""

    def factory(contacts: tuple[Contact, ...]) -> ContactSource:
        engine = sa.create_engine(f"sqlite:///{tmp_path / uuid.uuid4().hex}.sqlite")
        with engine.begin() as conn:
            create_reference_schema(conn)
            load_contacts(conn, contacts)
        return SqlContactSource(engine)

    check_contact_source(factory)


def test_the_contract_checks_pass_on_postgres(postgres_engine: Any) -> None:
    """SPEC A4: the same checks on PostgreSQL, through a Connection."""
    schema = f"omnimsg_source_{uuid.uuid4().hex[:12]}"
    with postgres_engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        conn = conn.execution_options(schema_translate_map={None: schema})
        create_reference_schema(conn)

        def factory(contacts: tuple[Contact, ...]) -> ContactSource:
            load_contacts(conn, contacts)
            return SqlContactSource(conn)

        check_contact_source(factory)
        transaction.rollback()


def test_an_identity_is_found_on_its_own_account_only(database: sa.Connection) -> None:
    """SPEC A4: the same external id on two accounts belongs to whoever holds it there."""
    load_contacts(
        database,
        [
            Contact(id="a", identities=(ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "555"),)),
            Contact(id="b", identities=(ChannelIdentity("wa-2", ChannelKind.WHATSAPP, "555"),)),
        ],
    )
    source = SqlContactSource(database)
    found = source.find_identity("wa-2", "555")
    assert found is not None
    assert found.id == "b"
    assert source.find_identity("wa-3", "555") is None
    assert set(source.accounts_for("555")) == {"wa-1", "wa-2"}


@pytest.mark.parametrize("odd", ["a\x00b", "\ud800", "x" * 100_000, ""])
def test_ids_no_database_can_hold_are_simply_not_found(database: sa.Connection, odd: str) -> None:
    """Text with NUL or a lone surrogate cannot be stored, so nothing has it as an id:
    the lookups answer so, instead of letting a driver error escape."""
    source = SqlContactSource(database)
    assert source.get_contact(odd) is None
    assert source.find_identity(odd, odd) is None
    assert source.find_identity("wa-1", odd) is None
    assert not source.accounts_for(odd)


@pytest.mark.parametrize("method", ["get_contact", "accounts_for"])
@pytest.mark.parametrize("bad", [None, 5, b"c1", ["c1"]])
def test_lookups_refuse_what_is_not_text(database: sa.Connection, method: str, bad: Any) -> None:
    """Only omnimsg errors escape: a wrong type is an InputError naming the argument."""
    with pytest.raises(InputError, match="expected text"):
        getattr(SqlContactSource(database), method)(bad)
    with pytest.raises(InputError, match="account_id: expected text"):
        SqlContactSource(database).find_identity(bad, "x")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"bind": "sqlite://"}, "expected a SQLAlchemy Connection or Engine, got str"),
        ({"tables": {"contacts": None}}, "tables must be ContactTables, got dict"),
        ({"chunk_size": 0}, "chunk_size must be a positive int"),
        ({"chunk_size": True}, "chunk_size must be a positive int"),
    ],
)
def test_the_source_refuses_arguments_of_the_wrong_type(
    arguments: dict[str, Any], message: str
) -> None:
    """Only omnimsg errors escape the constructor."""
    arguments = {"bind": sa.create_engine("sqlite://"), **arguments}
    with pytest.raises(InputError, match=message):
        SqlContactSource(**arguments)


def test_tables_without_a_column_the_source_reads_are_named() -> None:
    """An application's own tables must have the reference columns (by key)."""
    people = sa.table("people", sa.column("id"))
    unused = sa.table("unused", sa.column("contact_id"))
    tables = ContactTables(
        contacts=people, tags=unused, identities=unused, custom_values=unused, subscriptions=unused
    )
    with pytest.raises(InputError, match=r"tables\.contacts has no column with the key"):
        SqlContactSource(sa.create_engine("sqlite://"), tables=tables)


def test_a_value_the_reference_schema_cannot_hold_is_a_store_error(
    database: sa.Connection,
) -> None:
    """Rows written by something else than load_contacts are trusted for their types
    but an unknown channel kind is named, not a ValueError from an enum."""
    load_contacts(database, [Contact(id="p")])
    database.execute(
        contact_identities.insert(),
        {"contact_id": "p", "account_id": "x", "external_id": "1", "channel": "pigeon"},
    )
    with pytest.raises(StoreError, match="'p' has an unknown channel 'pigeon'"):
        list(SqlContactSource(database).iter_contacts())


def test_a_segment_is_checked_before_anything_is_read(database: sa.Connection) -> None:
    """iter_matching raises at the call, like segment_clause, not on first iteration."""
    source = SqlContactSource(database)
    segment = parse_segment({"field": "email", "op": "is_set"})
    with pytest.raises(InputError):
        source.iter_matching(segment, now="2024-01-01")  # type: ignore[arg-type]
    with pytest.raises(SegmentError):
        source.iter_matching({"field": "email"}, now=NOW)  # type: ignore[arg-type]


def test_tables_without_the_order_of_identities_read_them_by_account(tmp_path: Path) -> None:
    """An application's identities table may lack ``position``: identities then come
    back by account and external id, and load_contacts still loads into it."""
    own = sa.MetaData()
    identities = sa.Table(
        "own_identities",
        own,
        *(sa.Column(c.name, c.type) for c in contact_identities.columns if c.name != "position"),
    )
    tables = ContactTables(
        contacts=REFERENCE_TABLES.contacts,
        tags=REFERENCE_TABLES.tags,
        identities=identities,
        custom_values=REFERENCE_TABLES.custom_values,
        subscriptions=REFERENCE_TABLES.subscriptions,
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.sqlite'}")
    person = Contact(
        id="p",
        identities=(
            ChannelIdentity("wa-2", ChannelKind.WHATSAPP, "2"),
            ChannelIdentity("wa-1", ChannelKind.WHATSAPP, "1"),
        ),
    )
    with engine.begin() as conn:
        create_reference_schema(conn)
        own.create_all(conn)
        load_contacts(conn, [person], tables=tables)
        (back,) = SqlContactSource(conn, tables=tables).iter_contacts()
    assert [i.account_id for i in back.identities] == ["wa-1", "wa-2"]
    engine.dispose()


def test_an_engine_source_streams_on_a_connection_of_its_own(tmp_path: Path) -> None:
    """An iteration holds one connection until it ends; lookups meanwhile open others."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    with engine.begin() as conn:
        create_reference_schema(conn)
        load_contacts(conn, [Contact(id=f"c{n}") for n in range(5)])
    source = SqlContactSource(engine, chunk_size=2)
    stream = source.iter_contacts()
    assert next(stream).id == "c0"
    assert source.get_contact("c4") == Contact(id="c4")
    assert [c.id for c in stream] == ["c1", "c2", "c3", "c4"]
    engine.dispose()


def test_a_broken_database_is_a_store_error(tmp_path: Path) -> None:
    """Driver failures are translated, with the driver's error chained."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}")
    source = SqlContactSource(engine)
    with pytest.raises(StoreError, match=r"SqlContactSource\.iter_contacts") as raised:
        list(source.iter_contacts())
    assert isinstance(raised.value.__cause__, sa.exc.SQLAlchemyError)
    with pytest.raises(StoreError, match=r"SqlContactSource\.get_contact"):
        source.get_contact("x")
    engine.dispose()


Scenario = tuple[dict[str, FieldType], list[Contact], list[dict[str, Any]]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Declared custom fields, contacts holding values under them, segments using them."""
    custom_fields = draw(custom_schemas)
    contacts = draw(contact_sets(max_size=12, custom_fields=custom_fields))
    segments = draw(st.lists(segments_for(custom_fields), min_size=1, max_size=3))
    return custom_fields, contacts, segments


@settings(
    max_examples=max(60, settings.default.max_examples // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios(), now=instants, chunk_size=st.integers(min_value=1, max_value=5))
def test_contacts_round_trip_and_iter_matching_filters_like_python(
    sqlite_file_engine: sa.Engine,
    postgres_schema_engine: sa.Engine,
    scenario: Scenario,
    now: datetime,
    chunk_size: int,
) -> None:
    """SPEC A1, A2 and section 3: every contact reads back as the schema keeps it, and
    iter_matching yields exactly the contacts compile_segment keeps, in id order."""
    custom_fields, people, segments = scenario
    kept = {person.id: _kept(person) for person in people}
    parsed = [parse_segment(data, custom_fields=custom_fields) for data in segments]
    for engine in (sqlite_file_engine, postgres_schema_engine):
        with rolled_back(engine) as conn:
            load_contacts(conn, people)
            source = SqlContactSource(conn, chunk_size=chunk_size)
            back = list(source.iter_contacts())
            assert {c.id: c for c in back} == kept
            assert len(back) == len(people)
            for segment in parsed:
                try:
                    predicate = compile_segment(segment, now=now)
                except SegmentError:
                    with pytest.raises(SegmentError):
                        source.iter_matching(segment, now=now)
                    continue
                matching = list(source.iter_matching(segment, now=now))
                assert matching == [c for c in back if predicate(c)], segment.describe()
                in_python = {p.id for p in people if predicate(p)}
                assert {c.id for c in matching} == in_python, segment.describe()


def test_only_omnimsg_errors_escape_for_hostile_lookups(database: sa.Connection) -> None:
    """Hostile values in every argument end in an OmnimsgError or an answer."""
    source = SqlContactSource(database)
    hostile: list[Any] = ["\x00", "\udfff", "x" * 100_000, "", " ", None, 1.5, object()]
    for value in hostile:
        for method, arguments in (
            (source.get_contact, (value,)),
            (source.find_identity, (value, "x")),
            (source.find_identity, ("x", value)),
            (source.accounts_for, (value,)),
        ):
            with contextlib.suppress(OmnimsgError):
                method(*arguments)


def test_a_server_out_of_reach_is_unavailable_a_missing_table_is_refused(
    tmp_path: Path,
) -> None:
    # A caller tells "try again later" (StoreUnavailableError) from "refused": a
    # PostgreSQL port nobody listens on is the first; SQLite's OperationalError for a
    # table that is not there is the second.
    from omnimsg.errors import StoreUnavailableError

    nobody = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StoreUnavailableError, match="cannot be reached"):
            list(SqlContactSource(nobody).iter_contacts())
    finally:
        nobody.dispose()
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(StoreError, match="refused") as refused:
            list(SqlContactSource(empty).iter_contacts())
        assert not isinstance(refused.value, StoreUnavailableError)
    finally:
        empty.dispose()
