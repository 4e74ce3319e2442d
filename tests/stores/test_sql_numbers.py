"""Numbers in the reference schema: stored as written, compared exactly.

SPEC A1 and section 3: a custom number condition selects in SQL what it selects in
Python, and an application's own query written with the number it stored finds it
(``WHERE number_value = 123.45``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg.contacts import Contact
from omnimsg.stores.sql import SqlContactSource, contact_custom_values, exact_decimal, load_contacts
from segments.strategies import EXACT_NUMBERS

from .conftest import rolled_back

COMPARISONS = {"<": operator.lt, "=": operator.eq, ">": operator.gt}
WRITTEN = [123.45, 1814.05, 0.1, -2.5, 1e-300, 1e300, 5e-324, 7, -(2**63), 2**63 - 1, 2.0**60]
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(
    st.sampled_from(EXACT_NUMBERS),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    finite_floats,
)


def _by_hand(conn: sa.Connection, sql: str) -> sa.CursorResult[Any]:
    """An application's own SQL text, on the tables the fixtures created."""
    schema = conn.get_execution_options().get("schema_translate_map", {}).get(None)
    if schema is not None:
        conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
    return conn.execute(sa.text(sql))


@pytest.mark.parametrize("number", WRITTEN, ids=repr)
def test_a_number_is_found_by_the_literal_it_was_written_with(
    database: sa.Connection, number: float
) -> None:
    """SPEC A1: ``number_value = 123.45`` typed by hand finds the 123.45 load_contacts
    stored, and 123.45 reads back (not 123.4500000000000028…). A whole float between
    2**53 and 2**64 is stored exactly, so that integers compare with it as in Python:
    its exact digits find it."""
    load_contacts(database, [Contact(id="p", custom={"price": number}), Contact(id="q")])
    whole = isinstance(number, float) and 2**53 < abs(number) <= 2**64
    literal = str(int(number)) if whole else repr(number)
    found = _by_hand(
        database, f"SELECT contact_id FROM contact_custom_values WHERE number_value = {literal}"
    ).scalars()
    assert list(found) == ["p"]
    stored = database.execute(sa.select(contact_custom_values.c.number_value)).scalar_one()
    assert stored == number
    (back,) = (c for c in SqlContactSource(database).iter_contacts() if c.id == "p")
    assert back.custom["price"] == number
    assert repr(back.custom["price"]) == repr(number) or database.dialect.name == "sqlite"


def test_postgres_stores_the_decimal_that_was_written(postgres_schema_engine: sa.Engine) -> None:
    """SPEC A1: the text of the stored NUMERIC is the number as written (SQLite keeps
    the double, which its own literal parses to)."""
    with rolled_back(postgres_schema_engine) as conn:
        load_contacts(conn, [Contact(id="p", custom={"a": 1814.05, "b": 5.0, "c": 2**63 - 1})])
        texts = _by_hand(
            conn, "SELECT name, number_value::text FROM contact_custom_values ORDER BY name"
        ).all()
    assert texts == [("a", "1814.05"), ("b", "5.0"), ("c", "9223372036854775807")]


@given(st.lists(finite_floats, min_size=2, max_size=2))
def test_the_decimal_of_a_float_keeps_order_and_equality(pair: list[float]) -> None:
    """SPEC section 3: distinct floats get distinct decimals, in the same order."""
    a, b = pair
    assert (exact_decimal(a) < exact_decimal(b)) == (a < b)
    assert (exact_decimal(a) == exact_decimal(b)) == (a == b)
    assert float(exact_decimal(a)) == a


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), numbers)
def test_the_decimal_of_a_float_compares_with_integers_as_python_does(
    integer: int, number: float
) -> None:
    """SPEC section 3: no 64-bit integer lies between a float and its decimal, so
    ``2**53 + 1 > float(2**53)`` holds in SQL as in Python."""
    assert (Decimal(integer) < exact_decimal(number)) == (integer < number)
    assert (Decimal(integer) == exact_decimal(number)) == (integer == number)


@settings(
    max_examples=max(50, settings.default.max_examples // 2),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(stored=st.lists(numbers, min_size=1, max_size=8), bound=numbers)
def test_sql_compares_stored_numbers_exactly_as_python(
    sqlite_file_engine: sa.Engine, postgres_schema_engine: sa.Engine, stored: list[Any], bound: Any
) -> None:
    """SPEC A1: comparisons of stored numbers with a bound number agree with Python
    (ints beyond 2**53, whole and fractional floats, -0.0), and numbers read back equal."""
    people = [Contact(id=f"c{n}", custom={"x": value}) for n, value in enumerate(stored)]
    column = contact_custom_values.c.number_value
    owner = contact_custom_values.c.contact_id
    for engine in (sqlite_file_engine, postgres_schema_engine):
        with rolled_back(engine) as conn:
            load_contacts(conn, people)
            for name, test in (
                ("<", column < bound),
                ("=", column == bound),
                (">", column > bound),
            ):
                found = set(conn.execute(sa.select(owner).where(test)).scalars())
                expected = {
                    p.id
                    for p in people
                    if {"<": p.custom["x"] < bound, "=": p.custom["x"] == bound}.get(
                        name, p.custom["x"] > bound
                    )
                }
                assert found == expected, (engine.dialect.name, name)
            back = {c.id: c.custom["x"] for c in SqlContactSource(conn).iter_contacts()}
            assert back == {p.id: p.custom["x"] for p in people}
