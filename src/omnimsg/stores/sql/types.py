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

__all__ = ["ExactNumber", "Instant", "exact_decimal"]

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


def exact_decimal(value: int | float) -> Decimal:
    """``value`` as the decimal a person reads it as, keeping comparisons exact.

    A float becomes its shortest round-tripping text (``123.45``, not the binary
    expansion ``123.4500000000000028…``), so a query written with the same literal
    finds it. Distinct floats still get distinct decimals in the same order, and no
    64-bit integer lies between a float and its shortest text, so comparisons with
    integers and other floats stay those of Python. One range is written out exactly
    instead: a whole float between ``2**53`` and ``2**64`` (``2.0**60`` is
    ``1152921504606846976.0``; its shortest text ``1.152921504606847E+18`` lies above
    integers the float itself is below). Whole floats keep one decimal place, so
    they read back as floats.
    """
    if isinstance(value, float):
        if value.is_integer() and -_WHOLE_LIMIT <= value <= _WHOLE_LIMIT:
            return Decimal(f"{int(value)}.0")
        return Decimal(repr(value))
    return Decimal(value)


_WHOLE_LIMIT = 2.0**64
_INT64 = 2**63


def _python_number(value: Decimal) -> int | float:
    # Integers fit in 64 bits (the loader refuses others): a whole decimal beyond
    # them, or one with decimal places, was a float.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0 and -_INT64 <= value < _INT64:
        return int(value)
    return float(value)


class ExactNumber(sa.TypeDecorator[Any]):
    """A number stored as written and compared exactly.

    ``NUMERIC`` on PostgreSQL, bound as :func:`exact_decimal` (``123.45`` is stored as
    ``123.45``, so ``WHERE number_value = 123.45`` finds it); ``NUMERIC`` affinity on
    SQLite, which keeps 64-bit integers and doubles as they are (a double compares
    equal to the same literal). Values read back are ``int`` for integers and
    ``float`` for the rest, except that SQLite's affinity keeps a whole float that
    fits in 64 bits as an integer (``5.0`` reads back as ``5``, an equal number).
    """

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """``NUMERIC`` on PostgreSQL, a ``NUMERIC`` column without conversion elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric())
        return dialect.type_descriptor(_PlainNumeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """An :func:`exact_decimal` on PostgreSQL, the number itself elsewhere."""
        if value is None:
            return None
        if dialect.name == "postgresql":
            return exact_decimal(value)
        return value

    def process_literal_param(self, value: Any, dialect: Dialect) -> str:
        """A finite number as SQL text, for statements compiled with literal values."""
        if dialect.name == "postgresql" or not isinstance(value, float):
            return str(exact_decimal(value))
        return repr(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """An ``int`` or a ``float``, as the number was written."""
        if isinstance(value, Decimal):
            return _python_number(value)
        return value
