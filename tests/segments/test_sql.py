"""SQL pushdown details: the optional import, the emitted SQL, the parameter limit.

SPEC A1 (a segment selects contacts), SPEC section 3 (missing values: the SQL keeps
them where Python does, spelled out with IS NULL).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql, postgresql, sqlite

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ChannelIdentity, Contact
from omnimsg.errors import InputError, NaiveDatetimeError, SegmentError
from omnimsg.segments import MAX_TERMS, filter_contacts, fold_case, parse_segment
from omnimsg.segments.sql import install_sqlite_functions, segment_clause, select_contact_ids
from omnimsg.segments.walk import resolve
from omnimsg.stores.sql import ContactTables

from .conftest import Backend
from .strategies import CUSTOM_FIELDS, condition_json, instants, segment_json

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_package_does_not_import_sqlalchemy() -> None:
    """SQLAlchemy is an optional extra: only omnimsg.segments.sql and omnimsg.stores.sql
    import it, never omnimsg, omnimsg.segments or omnimsg.stores."""
    result = _run(
        """
        import sys
        import omnimsg, omnimsg.segments, omnimsg.stores
        from omnimsg.segments import parse_segment, compile_segment, segment_json_schema
        parse_segment({"field": "email", "op": "is_set"}).describe()
        assert "sqlalchemy" not in sys.modules, "sqlalchemy was imported"
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", ["omnimsg.segments.sql", "omnimsg.stores.sql"])
def test_without_sqlalchemy_the_import_error_says_how_to_install_it(module: str) -> None:
    """The message names the module and the extra to install."""
    result = _run(
        f"""
        import sys
        sys.modules["sqlalchemy"] = None
        try:
            import {module}
        except ImportError as exc:
            print(exc)
        """
    )
    assert f"{module} needs SQLAlchemy 2: pip install omnimsg[sql]" in result.stdout, result.stderr


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


def _bound_parameters(statement: sa.Select[Any]) -> int:
    """How many parameters PostgreSQL receives for ``statement`` (lists expanded)."""
    compiled = statement.compile(dialect=postgresql.dialect())
    return sum(len(v) if isinstance(v, list) else 1 for v in compiled.params.values())


@given(condition=condition_json(), now=instants)
def test_each_term_binds_at_most_two_parameters(condition: dict[str, Any], now: datetime) -> None:
    """SPEC A1: MAX_TERMS keeps a statement within the databases' parameter limits, because
    no condition binds more than two parameters per term (one per condition and value)."""
    segment = parse_segment(condition, custom_fields=CUSTOM_FIELDS)
    try:
        test = resolve(segment.conditions()[0], now)
        statement = select_contact_ids(segment, now=now)
    except SegmentError:
        return  # a period outside the range of dates at this now
    assert _bound_parameters(statement) <= 2 * (1 + len(test.constants))


def _long_lists(count: int) -> Any:
    return parse_segment(
        {
            "any": [
                {"field": "id", "op": "in", "value": [f"c{i}-{j}" for j in range(1000)]}
                for i in range(count)
            ]
        }
    )


@pytest.mark.parametrize("name", ["segment_clause", "select_contact_ids"])
def test_a_segment_beyond_max_terms_is_refused_before_it_reaches_the_database(name: str) -> None:
    """SPEC A1: 70 lists of 1,000 ids would bind 70,000 parameters, which PostgreSQL
    refuses (at most 65,535); the compiler refuses it first, naming the limit."""
    compile_ = segment_clause if name == "segment_clause" else select_contact_ids
    with pytest.raises(SegmentError, match=rf"{name}: .*more than {MAX_TERMS} terms \(MAX_TERMS"):
        compile_(_long_lists(70), now=NOW)


def test_python_refuses_the_same_oversized_segment() -> None:
    """SPEC A1: a segment compiles in Python exactly when it compiles to SQL."""
    with pytest.raises(SegmentError, match="MAX_TERMS"):
        filter_contacts(_long_lists(70), [], now=NOW)


def _at_the_limit(field: str) -> Any:
    return parse_segment(
        {
            "any": [
                {"field": field, "op": "starts_with", "value": f"p{i}"}
                for i in range(MAX_TERMS // 2)
            ]
        },
        custom_fields={"note": "string"},
    )


PEOPLE_AT_THE_LIMIT = [
    Contact(id="a", phone="p17", custom={"note": "P17 and more"}),
    Contact(id="b", phone="q", custom={"note": "q"}),
    Contact(id="c"),
]


def test_the_largest_segment_within_max_terms_runs_on_sqlite(sqlite_backend: Backend) -> None:
    """SPEC A1: a custom string starts_with binds four parameters for its two terms, the
    most per term of any condition; MAX_TERMS / 2 of them (20,000 parameters, nested
    5,000 wide) run on SQLite (at most 32,766 parameters, expressions 1,000 deep)."""
    segment = _at_the_limit("custom.note")
    assert _bound_parameters(select_contact_ids(segment, now=NOW)) == 2 * MAX_TERMS
    expected = {c.id for c in filter_contacts(segment, PEOPLE_AT_THE_LIMIT, now=NOW)}
    assert expected == {"a"}
    assert sqlite_backend.ids(PEOPLE_AT_THE_LIMIT, [segment], now=NOW) == [expected]


def test_a_segment_at_max_terms_runs_on_postgres(postgres_backend: Backend) -> None:
    """SPEC A1: 5,000 prefix conditions (10,000 terms, 15,000 parameters) run on
    PostgreSQL and agree with Python."""
    segment = _at_the_limit("phone")
    expected = {c.id for c in filter_contacts(segment, PEOPLE_AT_THE_LIMIT, now=NOW)}
    assert expected == {"a"}
    assert postgres_backend.ids(PEOPLE_AT_THE_LIMIT, [segment], now=NOW) == [expected]


def test_long_lists_within_the_limit_run_on_postgres(postgres_backend: Backend) -> None:
    """SPEC A1: ten lists of 999 ids (10,000 terms) bind as many parameters as values."""
    segment = parse_segment(
        {
            "any": [
                {"field": "id", "op": "in", "value": [f"c{i}-{j}" for j in range(999)]}
                for i in range(10)
            ]
        }
    )
    people = [Contact(id="c3-998"), Contact(id="c10-0")]
    assert postgres_backend.ids(people, [segment], now=NOW) == [{"c3-998"}]


def test_tables_must_be_contact_tables() -> None:
    """A mapping or a bare table is named, not an AttributeError from deep inside."""
    segment = parse_segment({"field": "email", "op": "is_set"})
    with pytest.raises(InputError, match="segment_clause: tables must be ContactTables"):
        segment_clause(segment, now=NOW, tables={"contacts": None})  # type: ignore[arg-type]


def test_own_tables_without_a_column_the_segment_reads_are_named() -> None:
    """SPEC A1: the compiler names the missing column key instead of raising KeyError."""
    people = sa.table("people", sa.column("id"))
    unused = sa.table("unused", sa.column("contact_id"))
    tables = ContactTables(
        contacts=people, tags=unused, identities=unused, custom_values=unused, subscriptions=unused
    )
    segment = parse_segment({"field": "email", "op": "is_set"})
    with pytest.raises(InputError, match=r"tables\.contacts has no column with the key 'email'"):
        select_contact_ids(segment, now=NOW, tables=tables)


# --- set-shaped SQL --------------------------------------------------------------------

SCORE = {"score": "number"}
TWO_DAYS = {"amount": 2, "unit": "days"}


def _pg(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.dialect()))


@pytest.mark.parametrize(
    ("condition", "table"),
    [
        ({"field": "tags", "op": "contains", "value": "vip"}, "contact_tags"),
        ({"field": "custom.score", "op": "gt", "value": 500}, "contact_custom_values"),
        (
            {"field": "channels", "op": "has_any", "value": ["sms", "whatsapp"]},
            "contact_identities",
        ),
        (
            {
                "field": "last_inbound_at",
                "op": "within_last",
                "value": {"amount": 2, "unit": "days"},
            },
            "contact_identities",
        ),
        (
            {"field": "subscription", "sender": "wa", "op": "in", "value": ["subscribed"]},
            "contact_subscriptions",
        ),
    ],
)
def test_one_condition_on_a_child_table_is_read_from_that_table_alone(
    condition: dict[str, Any], table: str
) -> None:
    """SPEC A1: ``SELECT contact_id FROM contact_tags WHERE tag = 'vip'``, the query
    an index answers alone, not a scan of contacts joined to it."""
    statement = select_contact_ids(parse_segment(condition, custom_fields=SCORE), now=NOW)
    assert [str(t) for t in statement.columns_clause_froms] == [table]
    assert list(statement.selected_columns.keys()) == ["id"]


def test_child_conditions_at_the_top_are_semi_joins_and_elsewhere_correlated() -> None:
    """SPEC A1: AND-ed at the top, ``contacts.id IN (SELECT ...)``; under OR or NOT a
    correlated EXISTS, never an IN list PostgreSQL would scan per row once too big."""
    top = _pg(
        select_contact_ids(
            parse_segment(
                {
                    "all": [
                        {"field": "email", "op": "is_set"},
                        {"field": "tags", "op": "contains", "value": "vip"},
                    ]
                }
            ),
            now=NOW,
        )
    )
    assert "contacts.id IN (SELECT contact_tags.contact_id" in top
    nested = _pg(
        select_contact_ids(
            parse_segment(
                {
                    "any": [
                        {"field": "email", "op": "is_set"},
                        {"field": "tags", "op": "contains", "value": "vip"},
                    ]
                }
            ),
            now=NOW,
        )
    )
    assert "EXISTS (SELECT contact_tags.contact_id" in nested
    assert "IN (SELECT" not in nested


@given(data=segment_json, now=instants)
def test_no_set_is_ever_tested_with_not_in(data: dict[str, Any], now: datetime) -> None:
    """SPEC section 3: ``NOT IN`` over a subquery is NULL-sensitive and, on PostgreSQL,
    a per-row scan of the whole set; negated sets are always NOT EXISTS."""
    segment = parse_segment(data, custom_fields=CUSTOM_FIELDS)
    try:
        text = _pg(select_contact_ids(segment, now=now))
    except SegmentError:
        return
    assert "NOT IN (SELECT" not in text


def test_the_latest_inbound_is_computed_once_per_condition() -> None:
    """SPEC A1: a window over the latest inbound is one grouped set (its start filters
    rows through an index, its end is the one max()); a lower bound needs no max()."""
    window = {
        "field": "last_inbound_at",
        "op": "within_last",
        "value": {"amount": 7, "unit": "days"},
    }
    text = _pg(segment_clause(parse_segment({"not": window}), now=NOW))
    assert text.count("max(contact_identities.last_inbound_at)") == 1
    assert "contact_identities.last_inbound_at >=" in text
    after = {"field": "last_inbound_at", "op": "after", "value": "2024-01-01T00:00:00Z"}
    assert "max(" not in _pg(segment_clause(parse_segment(after), now=NOW))


def test_text_equality_checks_the_length_before_folding() -> None:
    """SPEC section 3: folding keeps the length, so only values of the constant's
    length are folded; the lengths are literals, not parameters."""
    segment = parse_segment({"field": "first_name", "op": "in", "value": ["Ana", "Łukasz"]})
    text = _pg(segment_clause(segment, now=NOW))
    assert "length(contacts.first_name) IN (3, 6)" in text


WHATSAPP_NOW = ChannelIdentity("wa", ChannelKind.WHATSAPP, "1", last_inbound_at=NOW)
SMS_NOW = ChannelIdentity("sms", ChannelKind.SMS, "2", last_inbound_at=NOW)
WHATSAPP_BEFORE = ChannelIdentity("wa", ChannelKind.WHATSAPP, "3", last_inbound_at=NOW - 9 * DAY)

DRIVEN = [
    Contact(id="both", identities=(WHATSAPP_NOW,)),
    Contact(id="split", identities=(WHATSAPP_BEFORE, SMS_NOW)),
    Contact(id="old", identities=(WHATSAPP_BEFORE,)),
    Contact(id="none"),
]


@pytest.mark.parametrize("backend_name", ["sqlite_backend", "postgres_backend"])
def test_a_segment_read_from_a_child_table_checks_the_rest_per_contact(
    request: pytest.FixtureRequest, backend_name: str
) -> None:
    """SPEC A1: read from the identities, the other conditions still see all of the
    contact's identities (the driving table has an alias of its own): "has WhatsApp
    and wrote within 2 days" keeps a contact whose recent message came by SMS."""
    segment = parse_segment(
        {
            "all": [
                {"field": "last_inbound_at", "op": "within_last", "value": TWO_DAYS},
                {"field": "channels", "op": "has_channel", "value": "whatsapp"},
                {"not": {"field": "tags", "op": "contains", "value": "x"}},
            ]
        }
    )
    statement = select_contact_ids(segment, now=NOW)
    assert "contact_identities_1" in _pg(statement)
    expected = {c.id for c in filter_contacts(segment, DRIVEN, now=NOW)}
    assert expected == {"both", "split"}
    backend: Backend = request.getfixturevalue(backend_name)
    assert backend.ids(DRIVEN, [segment], now=NOW) == [expected]


def test_own_tables_are_read_from_a_child_table_only_through_a_foreign_key() -> None:
    """SPEC A1: a child table's ids are contacts only if a foreign key says so; without
    one, an orphan row must not make an id appear."""
    own = sa.MetaData()
    people = sa.Table("people", own, sa.Column("id", sa.Text, primary_key=True))
    linked = sa.Table(
        "linked_tags",
        own,
        sa.Column("contact_id", sa.Text, sa.ForeignKey(people.c.id)),
        sa.Column("tag", sa.Text),
    )
    loose = sa.Table("loose_tags", own, sa.Column("contact_id", sa.Text), sa.Column("tag", sa.Text))
    unused = sa.table("unused", sa.column("contact_id"))
    segment = parse_segment({"field": "tags", "op": "contains", "value": "vip"})
    engine = sa.create_engine("sqlite://")
    own.create_all(engine)
    with engine.begin() as conn:
        conn.execute(people.insert(), [{"id": "1"}])
        for table in (linked, loose):
            conn.execute(table.insert(), [{"contact_id": "1", "tag": "vip"}])
        conn.execute(loose.insert(), [{"contact_id": "orphan", "tag": "vip"}])
        for table, first in ((linked, "linked_tags"), (loose, "people")):
            tables = ContactTables(
                contacts=people,
                tags=table,
                identities=unused,
                custom_values=unused,
                subscriptions=unused,
            )
            statement = select_contact_ids(segment, now=NOW, tables=tables)
            assert [str(t) for t in statement.columns_clause_froms] == [first]
            assert list(conn.execute(statement).scalars()) == ["1"]
    engine.dispose()


TRICKY_TEXT = st.text(
    alphabet=st.sampled_from("aAΣσςİiıẞßſKkµΜμǅ\u13a0\uab70 .é\u0301Ωω\u2126Ꮳ"), max_size=12
) | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)


@given(TRICKY_TEXT)
def test_the_sqlite_function_folds_exactly_like_python(text: str) -> None:
    """SPEC section 3: the function SQLite calls for non-ASCII text takes shortcuts
    (``str.lower()`` where it agrees with the fold) that never change the result,
    final sigma and dotted capital I included."""
    connection = sqlite3.connect(":memory:")
    install_sqlite_functions(connection)
    (folded,) = connection.execute("SELECT omnimsg_fold(?)", (text,)).fetchone()
    connection.close()
    assert folded == fold_case(text)
