"""Databases with the reference schema for the SQL store tests: a SQLite file and the
PostgreSQL server (a schema of its own, dropped at the end of the session).

``database`` hands each test a connection of each in a transaction that is rolled
back; property tests open one per example with :func:`rolled_back`, so examples never
see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from omnimsg.segments.sql import install_sqlite_functions
from omnimsg.stores.sql import create_reference_schema


@pytest.fixture(scope="session")
def sqlite_file_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """A SQLite file with the reference schema, ``omnimsg_fold`` on every connection."""
    path = tmp_path_factory.mktemp("stores") / "contacts.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", install_sqlite_functions)
    create_reference_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema_engine(postgres_engine: Any) -> Iterator[sa.Engine]:
    """The PostgreSQL server, the reference schema in a schema unique to the session."""
    schema = f"omnimsg_stores_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine: sa.Engine = postgres_engine.execution_options(schema_translate_map={None: schema})
    create_reference_schema(engine)
    try:
        yield engine
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def rolled_back(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that is rolled back at the end of the block."""
    with engine.connect() as conn, conn.begin() as transaction:
        yield conn
        transaction.rollback()


@pytest.fixture(params=["sqlite_file_engine", "postgres_schema_engine"], ids=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Iterator[sa.Connection]:
    """A connection to each database, in a transaction rolled back afterwards."""
    with rolled_back(request.getfixturevalue(request.param)) as conn:
        yield conn
