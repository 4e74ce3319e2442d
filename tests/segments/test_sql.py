"""SQL pushdown details: the optional import, the reference schema, the emitted SQL.

SPEC A1 (a segment selects contacts), SPEC section 3 (missing values: the SQL keeps
them where Python does, spelled out with IS NULL).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, NaiveDatetimeError, StoreError
from omnimsg.segments import filter_contacts, parse_segment
from omnimsg.segments.sql import (
    ContactTables,
    contacts,
    create_reference_schema,
    install_sqlite_functions,
    load_contacts,
    segment_clause,
    select_contact_ids,
)

from .conftest import Backend

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_package_does_not_import_sqlalchemy() -> None:
    """SQLAlchemy is an optional extra: only omnimsg.segments.sql imports it."""
    result = _run(
        """
        import sys
        import omnimsg, omnimsg.segments
        from omnimsg.segments import parse_segment, compile_segment, segment_json_schema
        assert "sqlalchemy" not in sys.modules, "sqlalchemy was imported"
        """
    )
    assert result.returncode == 0, result.stderr


def test_without_sqlalchemy_the_import_error_says_how_to_install_it() -> None:
    """The message names the extra to install."""
    result = _run(
        """
        import sys
        sys.modules["sqlalchemy"] = None
        try:
            import omnimsg.segments.sql
        except ImportError as exc:
            print(exc)
        """
    )
    assert "pip install omnimsg[sql]" in result.stdout, result.stderr


def _sql(segment_json: dict[str, Any], dialect: Any, **custom: str) -> str:
    segment = parse_segment(segment_json, custom_fields=custom)
    clause = segment_clause(segment, now=NOW)
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": False}))


def test_not_equals_keeps_missing_values_with_is_null() -> None:
    """SPEC section 3: a not-equals that keeps missing values is (col IS NULL OR col <> v)."""
    text = _sql({"field": "assignee", "op": "not_equals", "value": "ana"}, postgresql.dialect())
    assert text.startswith("contacts.assignee IS NULL OR contacts.assignee != %(assignee_1)s")


def test_case_insensitive_matching_is_spelled_out_not_left_to_a_collation() -> None:
    """SPEC section 3: text folds with translate() under the C collation, never LIKE."""
    pg = _sql({"field": "email", "op": "contains", "value": "100%"}, postgresql.dialect())
    assert 'COLLATE "C"' in pg
    assert "translate(" in pg
    assert "LIKE" not in pg.upper()
    lite = _sql({"field": "email", "op": "starts_with", "value": "a_"}, sqlite.dialect())
    assert "omnimsg_fold(contacts.email)" in lite
    assert "LIKE" not in lite.upper()


def test_other_dialects_are_refused_for_text_conditions() -> None:
    """SPEC section 3: no silent fallback to a database's own case rules."""
    with pytest.raises(sa.exc.CompileError, match="SQLite and PostgreSQL"):
        _sql({"field": "email", "op": "equals", "value": "a"}, mysql.dialect())


def test_naive_now_is_refused() -> None:
    """Time comes in timezone-aware."""
    segment = parse_segment({"field": "email", "op": "is_set"})
    with pytest.raises(NaiveDatetimeError):
        select_contact_ids(segment, now=datetime(2024, 1, 1))


def test_instants_round_trip(sqlite_backend: Backend, postgres_backend: Backend) -> None:
    """Timestamps are stored comparably and read back as the same instants."""
    when = datetime(2024, 3, 31, 3, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    for backend in (sqlite_backend, postgres_backend):
        with backend.engine.connect() as conn:
            conn.execution_options(**backend.options)
            with conn.begin() as transaction:
                load_contacts(conn, [Contact(id="t", created_at=when)])
                stored = conn.execute(sa.select(contacts.c.created_at)).scalar_one()
                transaction.rollback()
        assert stored == when
        assert stored.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("contact", "error", "message"),
    [
        (Contact(id="n", created_at=datetime(2024, 1, 1)), NaiveDatetimeError, "created_at"),
        (Contact(id="b", custom={"big": 2**64}), InputError, "64 bits"),
        (
            Contact(
                id="d",
                identities=[ChannelIdentity("a", ChannelKind.SMS, "1")] * 2,
            ),
            StoreError,
            "contact_identities|identities",
        ),
    ],
)
def test_loading_refuses_what_sql_cannot_hold(
    sqlite_backend: Backend, contact: Contact, error: type[Exception], message: str
) -> None:
    """Bad rows are reported with the contact and field, never as a raw driver error."""
    with sqlite_backend.engine.connect() as conn, conn.begin() as transaction:
        with pytest.raises(error, match=message):
            load_contacts(conn, [contact])
        transaction.rollback()


def test_an_application_can_map_its_own_tables_by_column_key() -> None:
    """SPEC A1: the compiler reads columns by reference key, so any table can stand in."""
    own = sa.MetaData()
    people = sa.Table(
        "crm_people",
        own,
        sa.Column("person_uuid", sa.Text, key="id", primary_key=True),
        sa.Column("mail_address", sa.Text, key="email"),
    )
    labels = sa.Table(
        "crm_labels",
        own,
        sa.Column("person_uuid", sa.Text, key="contact_id"),
        sa.Column("label", sa.Text, key="tag"),
    )
    unused = sa.table("unused", sa.column("contact_id"))
    tables = ContactTables(
        contacts=people, tags=labels, identities=unused, custom_values=unused, subscriptions=unused
    )
    engine = sa.create_engine("sqlite://")
    sa.event.listen(engine, "connect", install_sqlite_functions)
    own.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            people.insert(),
            [
                {"id": "1", "email": "ANA@X.IO"},
                {"id": "2", "email": None},
                {"id": "3", "email": ""},
            ],
        )
        conn.execute(labels.insert(), [{"contact_id": "1", "tag": "vip"}])
        segment = parse_segment(
            {
                "all": [
                    {"field": "email", "op": "contains", "value": "ana@"},
                    {"field": "tags", "op": "has_any", "value": ["vip"]},
                ]
            }
        )
        found = conn.execute(select_contact_ids(segment, now=NOW, tables=tables)).scalars()
        assert set(found) == {"1"}
        missing = parse_segment({"field": "email", "op": "not_contains", "value": "ana"})
        found = conn.execute(select_contact_ids(missing, now=NOW, tables=tables)).scalars()
        assert set(found) == {"2", "3"}


def test_the_reference_schema_answers_like_python(postgres_backend: Backend) -> None:
    """SPEC A1: a segment selects the same contacts from the database as from memory."""
    people = [
        Contact(id="a", tags={"vip"}, custom={"score": 900}),
        Contact(id="b", tags={"vip"}, custom={"score": "900"}),
        Contact(id="c", custom={"score": 901}),
    ]
    segment = parse_segment(
        {
            "all": [
                {"field": "tags", "op": "has_any", "value": ["vip"]},
                {"field": "custom.score", "op": "gt", "value": 500},
            ]
        },
        custom_fields={"score": "number"},
    )
    expected = {c.id for c in filter_contacts(segment, people, now=NOW)}
    assert expected == {"a"}
    assert postgres_backend.ids(people, [segment], now=NOW) == [expected]


def test_create_reference_schema_is_idempotent() -> None:
    """Creating the schema twice is harmless."""
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        create_reference_schema(conn)
        create_reference_schema(conn)
        names = sa.inspect(conn).get_table_names()
    assert set(names) == {
        "contacts",
        "contact_tags",
        "contact_identities",
        "contact_custom_values",
        "contact_subscriptions",
    }
