"""Database backends for the segment tests: SQLite (a file) and the PostgreSQL server.

SQLAlchemy is imported only by the fixtures that need it, so the other tests of this
directory do not depend on the ``sql`` extra.

Both hold the reference schema once per test session; each use loads contacts in a
transaction that is rolled back, so examples never see each other's rows. The
PostgreSQL tables live in a schema of their own, dropped at the end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import pytest

from omnimsg.contacts import Contact
from omnimsg.segments.compiler import filter_contacts
from omnimsg.segments.model import Segment

Evaluate = Callable[[Iterable[Contact], Segment, datetime], set[str]]


class Backend:
    """A database with the reference schema, answering "which ids are in the segment"."""

    def __init__(self, name: str, engine: Any, options: dict[str, Any] | None = None) -> None:
        self.name = name
        self.engine = engine
        self.options = options or {}

    def ids(
        self, contacts: Iterable[Contact], segments: Iterable[Segment], *, now: datetime
    ) -> list[set[str]]:
        """Load ``contacts``, run each segment's query, roll everything back."""
        from omnimsg.segments.sql import select_contact_ids
        from omnimsg.stores.sql import load_contacts

        with self.engine.connect() as conn:
            conn.execution_options(**self.options)
            with conn.begin() as transaction:
                load_contacts(conn, contacts)
                found = [
                    set(conn.execute(select_contact_ids(segment, now=now)).scalars())
                    for segment in segments
                ]
                transaction.rollback()
        return found


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """SQLite in a file, with ``omnimsg_fold`` registered on every connection."""
    import sqlalchemy as sa

    from omnimsg.segments.sql import install_sqlite_functions
    from omnimsg.stores.sql import create_reference_schema

    path = tmp_path_factory.mktemp("segments") / "contacts.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", install_sqlite_functions)
    with engine.begin() as conn:
        create_reference_schema(conn)
    yield Backend("sqlite", engine)
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_backend(postgres_engine: Any) -> Iterator[Backend]:
    """The PostgreSQL server, in a schema unique to this test session."""
    import sqlalchemy as sa

    from omnimsg.stores.sql import create_reference_schema

    schema = f"omnimsg_segments_{uuid.uuid4().hex[:12]}"
    options = {"schema_translate_map": {None: schema}}
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        conn.execution_options(**options)
        create_reference_schema(conn)
    try:
        yield Backend("postgresql", postgres_engine, options)
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _python(contacts: Iterable[Contact], segment: Segment, now: datetime) -> set[str]:
    return {contact.id for contact in filter_contacts(segment, contacts, now=now)}


@pytest.fixture(params=["python", "sqlite", "postgres"])
def evaluate(request: pytest.FixtureRequest) -> Evaluate:
    """Each way of evaluating a segment: ``(contacts, segment, now) -> ids``."""
    if request.param == "python":
        return _python
    backend: Backend = request.getfixturevalue(f"{request.param}_backend")
    return lambda contacts, segment, now: backend.ids(list(contacts), [segment], now=now)[0]
