"""The one place where database failures become :class:`~omnimsg.errors.StoreError`.

Every call of this package that reaches the database runs inside
:func:`database_errors`, so no SQLAlchemy or driver exception (``sqlite3.Error``,
``psycopg.Error``, an encoding error raised by a driver) escapes raw. Values are
checked before they are sent (:mod:`omnimsg.stores.sql.load`); what still fails here
is the database's own refusal or a broken connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from omnimsg.errors import StoreError, StoreUnavailableError

__all__ = ["database_errors"]

_DRIVER_ERRORS = (sa.exc.SQLAlchemyError, UnicodeError)
"""SQLAlchemy wraps DBAPI errors; a driver may still raise an encoding error itself."""


_SQLITE_UNAVAILABLE = frozenset({3, 5, 6, 8, 10, 13, 14})
"""SQLite's primary result codes for a file that cannot be used for now, as
:class:`~omnimsg.stores.sqlite.SqliteStore` reads them: PERM, BUSY, LOCKED, READONLY,
IOERR, FULL, CANTOPEN."""


def _unreachable(exc: sa.exc.DBAPIError) -> bool:
    """Whether a driver error means the database is out of reach, not a refusal.

    SQLite raises ``OperationalError`` for a missing table or a syntax error too, so
    there a lost connection or a file that cannot be used for now (locked, not
    opened, not written: the codes the SQLite store calls unavailable) counts; a
    server driver's ``OperationalError`` and every ``InterfaceError`` are about the
    connection.
    """
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    if not type(exc.orig).__module__.startswith("sqlite3"):
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _SQLITE_UNAVAILABLE


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Run the block, raising :class:`~omnimsg.errors.StoreError` if the database fails.

    A connection that cannot be made or was lost (the driver's ``OperationalError``
    or ``InterfaceError``) is :class:`~omnimsg.errors.StoreUnavailableError`, as the
    stores report it, so a caller can tell "try again later" from "refused".
    ``what`` says what was being done (``"load_contacts: inserting contact_tags"``);
    the driver's exception is chained as ``__cause__``.
    """
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if not _unreachable(exc):
            raise StoreError(f"{what}: the database refused it: {_first_line(exc)}") from exc
        raise StoreUnavailableError(
            f"{what}: the database cannot be reached: {_first_line(exc)}"
        ) from exc
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"{what}: the database refused it: {_first_line(exc)}") from exc
