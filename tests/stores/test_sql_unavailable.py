"""A SQLite database a SQL contact source cannot use for now is unavailable, as the
SQLite store reports it; what SQLite refuses stays a refusal.

``SqliteStore`` reports a locked, unreadable or unopenable file as
:class:`~omnimsg.errors.StoreUnavailableError` (try again later); the SQL contact
source over the same file said "refused" for all of these, so a service answered
a lock held for a moment as a failure of the request.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from omnimsg.errors import StoreError, StoreUnavailableError
from omnimsg.stores.sql import SqlContactSource, create_reference_schema


def test_a_locked_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "contacts.db"
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        create_reference_schema(engine)
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailableError, match="cannot be reached") as raised:
            list(SqlContactSource(engine).iter_contacts())
        assert isinstance(raised.value.__cause__, sa.exc.OperationalError)
    finally:
        holder.close()
        engine.dispose()


def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'contacts.db'}")
    try:
        with pytest.raises(StoreUnavailableError, match="cannot be reached"):
            SqlContactSource(engine).get_contact("c1")
    finally:
        engine.dispose()


def test_a_missing_table_and_bad_sql_stay_refusals(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(StoreError, match="refused") as refused:
            list(SqlContactSource(engine).iter_contacts())
        assert not isinstance(refused.value, StoreUnavailableError)
    finally:
        engine.dispose()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages of a database\n" * 200)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError) as refused:
            list(SqlContactSource(engine).iter_contacts())
        assert not isinstance(refused.value, StoreUnavailableError)
    finally:
        engine.dispose()
