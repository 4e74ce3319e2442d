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

from omnimsg.errors import StoreError

__all__ = ["database_errors"]

_DRIVER_ERRORS = (sa.exc.SQLAlchemyError, UnicodeError)
"""SQLAlchemy wraps DBAPI errors; a driver may still raise an encoding error itself."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Run the block, raising :class:`~omnimsg.errors.StoreError` if the database fails.

    ``what`` says what was being done (``"load_contacts: inserting contact_tags"``);
    the driver's exception is chained as ``__cause__``.
    """
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StoreError(f"{what}: the database refused it: {_first_line(exc)}") from exc
