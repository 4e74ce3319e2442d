"""load_contacts: what it stores, what it refuses, and what a refusal leaves behind.

SPEC A1 (segments select contacts from a database as from memory) and SPEC section 3
(missing values): the loader stores values by the rule the Python predicate reads
them with, and refuses values SQL cannot hold with an InputError naming the contact
and the field, before anything of their batch reaches the database, on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from odd_zones import BrokenOffset, NoOffset
from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, OmnimsgError, StoreError
from omnimsg.state import OptInState, SubscriptionStatus
from omnimsg.stores.sql import (
    REFERENCE_TABLES,
    ContactTables,
    contact_custom_values,
    contact_subscriptions,
    contact_tags,
    contacts,
    create_reference_schema,
    load_contacts,
)


@pytest.fixture
def sqlite_connection() -> Iterator[sa.Connection]:
    """An in-memory SQLite database with the reference schema, in a transaction."""
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn, conn.begin() as transaction:
        create_reference_schema(conn)
        yield conn
        transaction.rollback()
    engine.dispose()


@pytest.fixture
def postgres_connection(postgres_engine: Any) -> Iterator[sa.Connection]:
    """The PostgreSQL server, the reference schema in a schema of its own, rolled back."""
    schema = f"omnimsg_load_{uuid.uuid4().hex[:12]}"
    with postgres_engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        conn = conn.execution_options(schema_translate_map={None: schema})
        create_reference_schema(conn)
        yield conn
        transaction.rollback()


@pytest.fixture(params=["sqlite", "postgres"])
def connection(request: pytest.FixtureRequest) -> sa.Connection:
    """Each supported database."""
    conn: sa.Connection = request.getfixturevalue(f"{request.param}_connection")
    return conn


def _count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _wa(external_id: str = "1", account: str = "wa-main") -> ChannelIdentity:
    return ChannelIdentity(account, ChannelKind.WHATSAPP, external_id)


BAD_TEXT = {"lone surrogate": "ana\ud800", "NUL": "ana\x00"}

HOLDERS: dict[str, tuple[Any, str]] = {
    "id": (lambda bad: Contact(id=bad), r"'ana.*'\.id"),
    "first_name": (lambda bad: Contact(id="c1", first_name=bad), "'c1'.first_name"),
    "email": (lambda bad: Contact(id="c1", email=bad), "'c1'.email"),
    "tag": (lambda bad: Contact(id="c1", tags={"ok", bad}), "'c1'.tags"),
    "identity": (
        lambda bad: Contact(id="c1", identities=[_wa(external_id=bad)]),
        r"'c1'.identities\['wa-main'\].external_id",
    ),
    "custom value": (
        lambda bad: Contact(id="c1", custom={"note": bad}),
        r"'c1'.custom\['note'\]",
    ),
    "custom name": (
        lambda bad: Contact(id="c1", custom={bad: "x"}),
        r"'c1'.custom\['ana.*\] \(its name\)",
    ),
    "subscription sender": (
        lambda bad: Contact(id="c1", subscriptions={bad: SubscriptionStatus.SUBSCRIBED}),
        r"'c1'.subscriptions\['ana",
    ),
}


@pytest.mark.parametrize("holder", list(HOLDERS))
@pytest.mark.parametrize("problem", list(BAD_TEXT))
def test_text_sql_cannot_hold_is_an_input_error_naming_contact_and_field(
    connection: sa.Connection, holder: str, problem: str
) -> None:
    """SPEC A1: a lone surrogate or a NUL (PostgreSQL refuses both) is named with the
    contact and the field, not a UnicodeEncodeError or a raw driver error."""
    build, where = HOLDERS[holder]
    with pytest.raises(InputError, match=rf"load_contacts: contact .*{where}.*: text may not"):
        load_contacts(connection, [build(BAD_TEXT[problem])])
    assert _count(connection, contacts) == 0


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_a_bad_contact_leaves_nothing_of_its_batch(
    connection: sa.Connection, batch_size: int
) -> None:
    """SPEC A1: rows are checked a batch at a time before any of it is sent, so only
    the whole batches before the bad contact are in the transaction."""
    people = [Contact(id=f"c{n}", tags={"t"}) for n in range(5)]
    people.insert(3, Contact(id="bad", first_name="\ud800"))
    with pytest.raises(InputError, match=r"'bad'\.first_name"):
        load_contacts(connection, people, batch_size=batch_size)
    loaded = (3 // batch_size) * batch_size
    assert _count(connection, contacts) == loaded
    assert _count(connection, contact_tags) == loaded
    # PostgreSQL has seen no failing statement: the transaction goes on.
    assert load_contacts(connection, [Contact(id="after")]) == 1


def test_the_database_refusing_a_row_is_a_store_error_with_the_driver_error_chained(
    connection: sa.Connection,
) -> None:
    """A duplicate id is the database's refusal: StoreError, naming the table."""
    with pytest.raises(StoreError, match="load_contacts: inserting into contacts") as raised:
        load_contacts(connection, [Contact(id="twice"), Contact(id="twice")])
    assert isinstance(raised.value.__cause__, sa.exc.SQLAlchemyError)


@pytest.mark.parametrize(
    ("contact", "error", "message"),
    [
        (Contact(id="b", custom={"big": 2**64}), InputError, r"'b'.custom\['big'\]: .*64 bits"),
        (
            Contact(id="m", created_at=datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))),
            InputError,
            "'m'.created_at: .*outside the range of UTC dates",
        ),
        (
            Contact(id="k", custom={5: "five"}),  # type: ignore[dict-item]
            InputError,
            r"'k'.custom\[int\] \(its name\): expected a string, got int",
        ),
        (
            Contact(id="d", identities=[ChannelIdentity("a", ChannelKind.SMS, "1")] * 2),
            StoreError,
            "contact_identities",
        ),
    ],
)
def test_loading_refuses_what_sql_cannot_hold(
    connection: sa.Connection, contact: Contact, error: type[Exception], message: str
) -> None:
    """Bad values are reported with the contact and field, never as a raw driver error."""
    with pytest.raises(error, match=message):
        load_contacts(connection, [contact])


def test_a_custom_date_time_without_an_offset_is_missing(connection: sa.Connection) -> None:
    """SPEC section 3: a naive custom datetime counts as missing, so nothing is stored."""
    naive = datetime(2024, 1, 1, tzinfo=NoOffset())
    assert load_contacts(connection, [Contact(id="z", custom={"d": naive})]) == 1
    assert _count(connection, contact_custom_values) == 0


def test_a_custom_date_time_whose_tzinfo_fails_is_an_input_error(
    sqlite_connection: sa.Connection,
) -> None:
    """Only omnimsg errors escape, even when a value's tzinfo raises."""
    broken = datetime(2024, 1, 1, tzinfo=BrokenOffset())
    with pytest.raises(InputError, match=r"'z'.custom\['d'\]: the custom value cannot be read"):
        load_contacts(sqlite_connection, [Contact(id="z", custom={"d": broken})])


BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"connection": None}, "expected a SQLAlchemy Connection, got NoneType"),
    ({"connection": sa.create_engine("sqlite://")}, "expected a SQLAlchemy Connection, got Engine"),
    ({"contacts": 5}, "contacts must be an iterable of Contact, got int"),
    ({"contacts": [{"id": "x"}]}, "expected Contact values, got dict"),
    ({"contacts": "ab"}, "expected Contact values, got str"),
    ({"tables": "contacts"}, "tables must be ContactTables, got str"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"batch_size": True}, "batch_size must be a positive int"),
    ({"batch_size": "10"}, "batch_size must be a positive int"),
]


@pytest.mark.parametrize(("override", "message"), BAD_ARGUMENTS)
def test_arguments_of_the_wrong_type_are_input_errors(
    sqlite_connection: sa.Connection, override: dict[str, Any], message: str
) -> None:
    """Only omnimsg errors escape: no AttributeError or TypeError from inside."""
    arguments: dict[str, Any] = {"connection": sqlite_connection, "contacts": [], **override}
    connection, people = arguments.pop("connection"), arguments.pop("contacts")
    with pytest.raises(InputError, match=message):
        load_contacts(connection, people, **arguments)


def test_own_tables_must_be_real_tables_to_load_into(sqlite_connection: sa.Connection) -> None:
    """A view or subquery can be compiled against but not inserted into."""
    view = sa.table("contacts_view", sa.column("id"))
    tables = ContactTables(
        contacts=view,
        tags=contact_tags,
        identities=REFERENCE_TABLES.identities,
        custom_values=contact_custom_values,
        subscriptions=contact_subscriptions,
    )
    with pytest.raises(InputError, match=r"tables\.contacts must be a Table, got TableClause"):
        load_contacts(sqlite_connection, [], tables=tables)


def test_consent_records_are_stored_as_their_status(connection: sa.Connection) -> None:
    """SPEC A1: a subscription condition reads the status of the consent record."""
    person = Contact(
        id="s",
        subscriptions={
            "wa-main": OptInState(status=SubscriptionStatus.SUBSCRIBED),
            "sms-1": SubscriptionStatus.PROMPTED,
            "tg": "declined",
        },
    )
    assert load_contacts(connection, [person]) == 1
    rows = connection.execute(
        sa.select(contact_subscriptions.c.sender, contact_subscriptions.c.status)
    ).all()
    assert sorted(rows) == [("sms-1", "prompted"), ("tg", "declined"), ("wa-main", "subscribed")]


def test_custom_values_go_to_the_column_of_their_type(connection: sa.Connection) -> None:
    """SPEC section 3: stored by the rule the predicate reads them with; NaN, naive
    datetimes and other types are skipped as missing."""
    when = datetime(2024, 5, 1, 9, tzinfo=UTC)
    person = Contact(
        id="c",
        custom={
            "s": "Ana",
            "n": 2**53 + 1,
            "b": True,
            "d": when,
            "nan": float("nan"),
            "naive": datetime(2024, 1, 1),
            "list": [1],
        },
    )
    load_contacts(connection, [person])
    values = contact_custom_values.c
    rows = {
        row.name: row
        for row in connection.execute(
            sa.select(
                values.name,
                values.string_value,
                values.number_value,
                values.boolean_value,
                values.datetime_value,
            )
        )
    }
    assert set(rows) == {"s", "n", "b", "d"}
    assert rows["s"].string_value == "Ana"
    assert int(rows["n"].number_value) == 2**53 + 1
    assert rows["b"].boolean_value is True
    assert rows["d"].datetime_value == when


def test_long_text_loads_in_linear_time(connection: sa.Connection) -> None:
    """100,000-character values are ordinary values."""
    long = "é" * 100_000
    assert load_contacts(connection, [Contact(id="l", first_name=long, tags={long})]) == 1
    stored = connection.execute(sa.select(contacts.c.first_name)).scalar_one()
    assert stored == long


def test_only_omnimsg_errors_escape_for_hostile_contacts(connection: sa.Connection) -> None:
    """Hostile values anywhere a Contact accepts them end in an OmnimsgError or load."""
    hostile: list[Any] = ["\x00", "\udfff", "x" * 100_000, "", " "]
    for number, value in enumerate(hostile):
        for field in ("first_name", "phone", "assignee", "lifecycle", "timezone"):
            with contextlib.suppress(OmnimsgError):
                load_contacts(connection, [Contact(id=f"h{number}-{field}", **{field: value})])
        odd: list[Any] = [value, None, b"bytes", object(), [["deep"]], 2**80, float("inf")]
        for item in odd:
            with contextlib.suppress(OmnimsgError):
                load_contacts(connection, [Contact(id=f"h{number}-{id(item)}", custom={"k": item})])
