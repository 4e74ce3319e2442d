"""The reference SQL schema: its tables, its column types, and creating it.

SPEC A1: segments select contacts from a database as from memory. The schema stores
instants and numbers so that SQL compares them exactly as Python does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import omnimsg.stores.sql
from omnimsg.contacts import Contact
from omnimsg.errors import InputError, StoreError, StoreUnavailableError
from omnimsg.segments import parse_segment
from omnimsg.segments.sql import select_contact_ids
from omnimsg.stores.sql import (
    REFERENCE_TABLES,
    ContactTables,
    contact_custom_values,
    contacts,
    create_reference_schema,
    load_contacts,
    metadata,
)

TABLES = {
    "contacts",
    "contact_tags",
    "contact_identities",
    "contact_custom_values",
    "contact_subscriptions",
}


def isort_order(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetical (ruff RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_the_package_exports_the_schema_and_the_loader() -> None:
    """One obvious path per name: the reference schema lives in omnimsg.stores.sql."""
    exported = omnimsg.stores.sql.__all__
    assert exported == isort_order(exported)
    assert {"REFERENCE_TABLES", "ContactTables", "Instant", "ExactNumber"} <= set(exported)
    assert {"create_reference_schema", "load_contacts", "metadata", "contacts"} <= set(exported)
    assert all(hasattr(omnimsg.stores.sql, name) for name in exported)


def test_the_reference_tables_are_the_five_tables_of_the_metadata() -> None:
    """REFERENCE_TABLES is the default the compiler and the loader use."""
    assert set(metadata.tables) == TABLES
    assert REFERENCE_TABLES.contacts is contacts
    assert REFERENCE_TABLES.custom_values is contact_custom_values


@pytest.fixture
def postgres_connection(postgres_engine: Any) -> Iterator[sa.Connection]:
    """The PostgreSQL server, in a schema of its own, rolled back afterwards."""
    schema = f"omnimsg_schema_{uuid.uuid4().hex[:12]}"
    with postgres_engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield conn.execution_options(schema_translate_map={None: schema})
        transaction.rollback()


def test_create_reference_schema_is_idempotent(postgres_connection: sa.Connection) -> None:
    """Creating the schema twice is harmless, on SQLite and PostgreSQL."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        for bind in (conn, postgres_connection):
            create_reference_schema(bind)
            create_reference_schema(bind)
    with engine.begin() as conn:
        assert set(sa.inspect(conn).get_table_names()) == TABLES


@pytest.mark.parametrize("bind", [None, "sqlite://", sa.MetaData()])
def test_create_reference_schema_needs_a_connection_or_an_engine(bind: Any) -> None:
    """Only omnimsg errors escape: a URL or None is named, not an AttributeError."""
    with pytest.raises(InputError, match="expected a SQLAlchemy Connection or Engine"):
        create_reference_schema(bind)


def test_a_database_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    """Driver failures are translated in one place, with the driver's error chained; a
    file SQLite cannot open is unavailable (CANTOPEN), as the SQLite store says."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'contacts.db'}")
    with pytest.raises(StoreError, match="create_reference_schema: the database cannot be") as err:
        create_reference_schema(engine)
    assert isinstance(err.value, StoreUnavailableError)
    assert isinstance(err.value.__cause__, sa.exc.OperationalError)
    engine.dispose()


def test_contact_tables_hold_from_clauses_only() -> None:
    """A table name or a dict is refused when the tables are declared."""
    fields = dict.fromkeys(("contacts", "tags", "identities", "custom_values"), contacts)
    with pytest.raises(InputError, match=r"ContactTables\.subscriptions: expected a table"):
        ContactTables(**fields, subscriptions="contact_subscriptions")  # type: ignore[arg-type]


def test_instants_round_trip(postgres_connection: sa.Connection) -> None:
    """Timestamps are stored comparably and read back as the same instants in UTC."""
    when = datetime(2024, 3, 31, 3, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    engine = sa.create_engine("sqlite://")
    with engine.connect() as lite:
        for conn in (lite, postgres_connection):
            create_reference_schema(conn)
            load_contacts(conn, [Contact(id="t", created_at=when)])
            stored = conn.execute(sa.select(contacts.c.created_at)).scalar_one()
            assert stored == when
            assert stored.utcoffset() == timedelta(0)


def test_instants_at_the_ends_of_the_range_round_trip(postgres_connection: sa.Connection) -> None:
    """Years 1 and 9999 in UTC are ordinary instants."""
    ends = [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]
    engine = sa.create_engine("sqlite://")
    with engine.connect() as lite:
        for conn in (lite, postgres_connection):
            create_reference_schema(conn)
            load_contacts(conn, [Contact(id=f"e{n}", created_at=at) for n, at in enumerate(ends)])
            stored = conn.execute(sa.select(contacts.c.created_at).order_by(contacts.c.id))
            assert list(stored.scalars()) == ends


INDEXED = [
    ({"field": "tags", "op": "contains", "value": "vip"}, "ix_contact_tags_tag"),
    ({"field": "custom.score", "op": "gt", "value": 500}, "ix_contact_custom_values_number"),
    (
        {"field": "custom.renewal", "op": "before", "value": "2024-01-01T00:00:00Z"},
        "ix_contact_custom_values_datetime",
    ),
    (
        {"field": "last_inbound_at", "op": "after", "value": "2024-01-01T00:00:00Z"},
        "ix_contact_identities_last_inbound",
    ),
    (
        {"field": "last_inbound_at", "op": "within_last", "value": {"amount": 2, "unit": "days"}},
        "ix_contact_identities_last_inbound",
    ),
    ({"field": "channels", "op": "has_channel", "value": "sms"}, "ix_contact_identities_channel"),
    (
        {"field": "subscription", "sender": "wa", "op": "equals", "value": "subscribed"},
        "ix_contact_subscriptions_sender",
    ),
]


def _indexes_read(conn: sa.Connection, statement: sa.Select[Any]) -> set[str]:
    sql = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    plan: Any = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        found.add(node.get("Index Name"))
        nodes.extend(node.get("Plans", ()))
    return found


@pytest.mark.parametrize(("condition", "index"), INDEXED)
def test_each_condition_on_a_child_table_has_an_index_to_read(
    postgres_connection: sa.Connection, condition: dict[str, Any], index: str
) -> None:
    """SPEC A1: the reference schema indexes what set-shaped conditions look up (tags
    by tag, custom values by name and value, identities by latest inbound and by
    channel, consent by sender and status). With sequential scans priced out,
    PostgreSQL reads the condition's own index."""
    create_reference_schema(postgres_connection)
    segment = parse_segment(condition, custom_fields={"score": "number", "renewal": "datetime"})
    statement = select_contact_ids(segment, now=datetime(2024, 5, 1, tzinfo=UTC))
    postgres_connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    schema = postgres_connection.get_execution_options()["schema_translate_map"][None]
    postgres_connection.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    assert index in _indexes_read(postgres_connection, statement)


def test_identities_are_indexed_for_lookups_by_external_id(
    postgres_connection: sa.Connection,
) -> None:
    """SPEC A4: find_identity and accounts_for look an external id up by index."""
    create_reference_schema(postgres_connection)
    identities = metadata.tables["contact_identities"]
    lookups = [
        sa.select(identities.c.contact_id).where(
            identities.c.account_id == "wa", identities.c.external_id == "1"
        ),
        sa.select(identities.c.account_id).where(identities.c.external_id == "1").distinct(),
    ]
    postgres_connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    schema = postgres_connection.get_execution_options()["schema_translate_map"][None]
    postgres_connection.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    for lookup in lookups:
        assert "ix_contact_identities_external" in _indexes_read(postgres_connection, lookup)
