"""Python, SQLite and PostgreSQL select exactly the same contacts for any segment.

SPEC A1 and SPEC section 3 ("missing values"): one meaning per operator, and SQL must
agree with Python explicitly. Random segments (every field and operator, nesting,
case variants, boundary numbers and instants) run against random contacts (missing
values, wrong-typed custom values, NaN, DST folds) on all three evaluators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg.contacts import Contact
from omnimsg.segments import filter_contacts, parse_segment

from .conftest import Backend
from .strategies import CUSTOM_FIELDS, contact_sets, instants, segment_json


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    contacts=contact_sets(max_size=30),
    segments=st.lists(segment_json, min_size=1, max_size=4),
    now=instants,
)
def test_python_sqlite_and_postgres_select_the_same_ids(
    sqlite_backend: Backend,
    postgres_backend: Backend,
    contacts: list[Contact],
    segments: list[dict[str, Any]],
    now: datetime,
) -> None:
    """SPEC A1, section 3: the in-memory predicate, SQLite and PostgreSQL agree."""
    parsed = [parse_segment(data, custom_fields=CUSTOM_FIELDS) for data in segments]
    in_python = [{c.id for c in filter_contacts(s, contacts, now=now)} for s in parsed]
    in_sqlite = sqlite_backend.ids(contacts, parsed, now=now)
    in_postgres = postgres_backend.ids(contacts, parsed, now=now)
    for segment, python, sqlite, postgres in zip(
        parsed, in_python, in_sqlite, in_postgres, strict=True
    ):
        assert sqlite == python, segment.describe()
        assert postgres == python, segment.describe()
