"""Column types that keep instants and numbers exact on SQLite and PostgreSQL.

Segments compare date-times as instants and numbers exactly; these two types make the
databases store them so that SQL comparisons agree with Python's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from omnimsg._time import require_aware

__all__ = ["ExactNumber", "Instant"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Instant(sa.TypeDecorator[datetime]):
    """An aware instant: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, else a ``BIGINT``.

    Elsewhere (SQLite) the value is stored as whole microseconds since 1970-01-01 UTC,
    which compare exactly like the instants they stand for. Values read back are
    aware datetimes in UTC. A naive datetime is refused.
    """

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, ``BIGINT`` elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """The instant as the database stores it; raises ``NaiveDatetimeError`` if naive."""
        if value is None:
            return None
        require_aware(value, "timestamp")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """The stored value as an aware datetime in UTC."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return _EPOCH + int(value) * _MICROSECOND


class _PlainNumeric(sa.types.UserDefinedType[Any]):
    """``NUMERIC`` with no conversion, so SQLite keeps integers exact (no float detour)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "NUMERIC"


class ExactNumber(sa.TypeDecorator[Any]):
    """A number compared exactly: ``NUMERIC`` on PostgreSQL (bound as ``Decimal``), and
    ``NUMERIC`` affinity on SQLite, which keeps 64-bit integers and doubles as they are.
    """

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """``NUMERIC`` on PostgreSQL, a ``NUMERIC`` column without conversion elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric())
        return dialect.type_descriptor(_PlainNumeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """A ``Decimal`` on PostgreSQL, the number itself elsewhere."""
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return value
