"""Python, SQLite and PostgreSQL select exactly the same contacts for any segment.

SPEC A1 and SPEC section 3 ("missing values"): one meaning per operator, and SQL must
agree with Python explicitly. Random segments (every field and operator, nesting,
case variants, boundary numbers and instants, custom fields of any name) run against
random contacts (missing values, wrong-typed custom values, NaN, DST folds, several
identities on one account, contacts read by ``Contact.from_dict``) on all three
evaluators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimsg.contacts import Contact
from omnimsg.segments import FieldType, filter_contacts, parse_segment

from .conftest import Backend
from .strategies import contact_sets, custom_schemas, instants, segments_for

Scenario = tuple[dict[str, FieldType], list[Contact], list[dict[str, Any]]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Declared custom fields, contacts holding values under them, segments using them."""
    custom_fields = draw(custom_schemas)
    contacts = draw(contact_sets(max_size=30, custom_fields=custom_fields))
    segments = draw(st.lists(segments_for(custom_fields), min_size=1, max_size=4))
    return custom_fields, contacts, segments


# At least 300 examples, more when the active profile asks for more (``thorough``).
@settings(
    max_examples=max(300, settings.default.max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios(), now=instants)
def test_python_sqlite_and_postgres_select_the_same_ids(
    sqlite_backend: Backend, postgres_backend: Backend, scenario: Scenario, now: datetime
) -> None:
    """SPEC A1, section 3: the in-memory predicate, SQLite and PostgreSQL agree."""
    custom_fields, contacts, segments = scenario
    parsed = [parse_segment(data, custom_fields=custom_fields) for data in segments]
    in_python = [{c.id for c in filter_contacts(s, contacts, now=now)} for s in parsed]
    in_sqlite = sqlite_backend.ids(contacts, parsed, now=now)
    in_postgres = postgres_backend.ids(contacts, parsed, now=now)
    for segment, python, sqlite, postgres in zip(
        parsed, in_python, in_sqlite, in_postgres, strict=True
    ):
        assert sqlite == python, segment.describe()
        assert postgres == python, segment.describe()
