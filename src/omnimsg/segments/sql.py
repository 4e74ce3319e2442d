"""SQL pushdown: a segment as a SQLAlchemy Core boolean expression (optional extra ``sql``).

The expression selects exactly the contacts :func:`~omnimsg.segments.compile_segment`
selects in Python, missing values included. Every condition compiles to a two-valued
expression (never SQL ``NULL``), so ``NOT`` and the negative operators keep contacts
whose value is missing, as in Python. Case-insensitive matching is spelled out with
the fold of :mod:`omnimsg.segments.casefold` (``translate()`` on PostgreSQL, the
function :func:`install_sqlite_functions` registers on SQLite), substrings use
``strpos``/``instr``, never ``LIKE``, so ``%`` and ``_`` in values are ordinary
characters.

This module only compiles: the walk, the checks and the meaning of each operator are
shared with the Python compiler (:mod:`omnimsg.segments.walk`), and the tables it
compiles against by default, with their loader, are in :mod:`omnimsg.stores.sql`.
``install_sqlite_functions`` lives here because the SQL this module writes calls the
function it registers. SQLite and PostgreSQL are supported; nothing here opens a
connection.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

try:
    import sqlalchemy as sa
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.compiler import SQLCompiler
    from sqlalchemy.sql.functions import FunctionElement
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("omnimsg.segments.sql needs SQLAlchemy 2: pip install omnimsg[sql]") from exc

import attrs

from omnimsg.errors import InputError
from omnimsg.segments.casefold import fold_case, fold_table_strings
from omnimsg.segments.fields import ValueKind
from omnimsg.segments.model import Segment
from omnimsg.segments.walk import SETS, Check, Test, compile_tree
from omnimsg.stores.sql.schema import CUSTOM_VALUE_COLUMNS, REFERENCE_TABLES, ContactTables

__all__ = [
    "fold_sql",
    "install_sqlite_functions",
    "segment_clause",
    "select_contact_ids",
]


class _Fold(FunctionElement[str]):
    """``fold_case(text)`` in SQL; see :mod:`omnimsg.segments.casefold`."""

    type = sa.Text()
    name = "omnimsg_fold"
    inherit_cache = True


@compiles(_Fold)
def _fold_unsupported(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError(
        f"case-insensitive segment conditions support SQLite and PostgreSQL, "
        f"not {compiler.dialect.name}"
    )


@compiles(_Fold, "sqlite")
def _fold_sqlite(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"omnimsg_fold({compiler.process(element.clauses, **kw)})"


def _sql_string(text: str) -> str:
    if "'" in text or "\\" in text or "%" in text or "\x00" in text:
        raise AssertionError("the case folding table holds only letters")
    return f"'{text}'"


@compiles(_Fold, "postgresql")
def _fold_postgresql(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    source, target = fold_table_strings()
    # lower() under the "C" collation maps exactly A-Z whatever the database locale;
    # translate() then applies the rest of the table. All-ASCII text skips translate().
    lowered = sa.func.lower(sa.collate(argument, "C"))
    folded = sa.case(
        (sa.func.octet_length(argument) == sa.func.char_length(argument), lowered),
        else_=sa.func.translate(
            lowered,
            sa.literal_column(_sql_string(source), sa.Text),
            sa.literal_column(_sql_string(target), sa.Text),
        ),
    )
    return compiler.process(folded, **kw)


class _Position(FunctionElement[int]):
    """1-based position of ``needle`` in ``haystack`` (0 when absent), case-sensitive."""

    type = sa.Integer()
    name = "strpos"
    inherit_cache = True


@compiles(_Position)
def _position_default(element: _Position, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(_Position, "sqlite")
def _position_sqlite(element: _Position, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = element.clauses
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


class _Group(FunctionElement[bool]):
    """Its one argument in parentheses, which SQLAlchemy never flattens away."""

    type = sa.Boolean()
    name = "omnimsg_group"
    inherit_cache = True
    # Already a truth value: dialects without a boolean type must not add "= 1".
    _is_implicitly_boolean = True


@compiles(_Group)
def _group(element: _Group, compiler: SQLCompiler, **kw: Any) -> str:
    (inner,) = element.clauses
    return f"({compiler.process(inner, **kw)})"


def _balanced(
    parts: Sequence[sa.ColumnElement[bool]],
    join: Callable[..., sa.ColumnElement[bool]],
) -> sa.ColumnElement[bool]:
    """``join`` of ``parts`` as a balanced tree of explicit parentheses.

    A flat ``a OR b OR ...`` parses into a chain as deep as it is long, and SQLite
    refuses expressions deeper than 1,000; halving keeps the depth logarithmic.
    """
    if len(parts) <= 2:
        return join(*parts)
    middle = len(parts) // 2
    halves = [parts[:middle], parts[middle:]]
    return join(*(half[0] if len(half) == 1 else _Group(_balanced(half, join)) for half in halves))


def fold_sql(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """``expression`` case-folded in SQL exactly as :func:`~omnimsg.segments.fold_case` does.

    For an application's own queries that must agree with segments. Compiles on
    SQLite (needs :func:`install_sqlite_functions`) and PostgreSQL. Raises
    :class:`~omnimsg.errors.InputError` when ``expression`` is not a SQLAlchemy column
    expression (wrap a Python string in ``sa.literal()``).
    """
    if not isinstance(expression, sa.ColumnElement):
        raise InputError(
            f"fold_sql: expected a SQLAlchemy column expression, got {type(expression).__name__}"
        )
    return _Fold(expression)


def _sqlite_fold(value: object) -> object:
    return fold_case(value) if isinstance(value, str) else value


def install_sqlite_functions(dbapi_connection: Any, connection_record: Any = None) -> None:
    """Register ``omnimsg_fold`` on a ``sqlite3`` connection (deterministic).

    Segments with text conditions need it on SQLite. The signature fits SQLAlchemy's
    ``connect`` event: ``sa.event.listen(engine, "connect", install_sqlite_functions)``.
    Raises :class:`~omnimsg.errors.InputError` for something else than a DBAPI
    connection that can register functions (``sqlite3.Connection``).
    """
    create_function = getattr(dbapi_connection, "create_function", None)
    if not callable(create_function):
        raise InputError(
            "install_sqlite_functions: expected a sqlite3 connection, "
            f"got {type(dbapi_connection).__name__}"
        )
    create_function("omnimsg_fold", 1, _sqlite_fold, deterministic=True)


Predicate: TypeAlias = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]]


@attrs.frozen
class _Scalar:
    """A value per contact: a column or a correlated scalar subquery.

    When ``nullable``, ``NULL`` is a missing value and the tests guard against it so
    that every result is TRUE or FALSE, never NULL.
    """

    expr: sa.ColumnElement[Any]
    nullable: bool = True

    def present(self) -> sa.ColumnElement[bool]:
        return self.expr.is_not(None) if self.nullable else sa.true()

    def holds(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        if not self.nullable:
            return predicate(self.expr)
        return sa.and_(self.expr.is_not(None), predicate(self.expr))

    def fails(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        if not self.nullable:
            return sa.not_(predicate(self.expr))
        return sa.or_(self.expr.is_(None), sa.not_(predicate(self.expr)))


@attrs.frozen
class _CustomValue:
    """A custom field: a row of the EAV table with a value in the typed column."""

    owner: sa.ColumnElement[bool]
    name_column: sa.ColumnElement[Any]
    value: sa.ColumnElement[Any]
    name: str

    def _exists(self, *criteria: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        return sa.exists().where(
            self.owner, self.name_column == self.name, self.value.is_not(None), *criteria
        )

    def present(self) -> sa.ColumnElement[bool]:
        return self._exists()

    def holds(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return self._exists(predicate(self.value))

    def fails(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return sa.not_(self.holds(predicate))


_Operand: TypeAlias = _Scalar | _CustomValue

_COMPARE: Mapping[str, Callable[[Any, Any], sa.ColumnElement[bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
"""The SQLAlchemy spelling of each symbol of :data:`~omnimsg.segments.fields.COMPARISONS`."""


def _db_value(value: object) -> object:
    # Enum members (channel kinds, statuses) are stored as their plain strings.
    if isinstance(value, str):
        return str.__str__(value)
    return value


@attrs.frozen
class _Sql:
    """Emits SQL for each :class:`~omnimsg.segments.walk.Test` over ``tables``."""

    tables: ContactTables
    where: str

    def column(self, table: sa.FromClause, key: str, name: str) -> sa.ColumnElement[Any]:
        try:
            return table.c[key]
        except KeyError:
            raise InputError(
                f"{self.where}: tables.{name} has no column with the key {key!r}"
            ) from None

    def all_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        return _balanced(parts, sa.and_)

    def any_of(self, parts: Sequence[sa.ColumnElement[bool]]) -> sa.ColumnElement[bool]:
        return _balanced(parts, sa.or_)

    def negate(self, part: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        return sa.not_(part)

    def owner(self, table: sa.FromClause, name: str) -> sa.ColumnElement[bool]:
        person = self.column(self.tables.contacts, "id", "contacts")
        return self.column(table, "contact_id", name) == person

    def test(self, test: Test) -> sa.ColumnElement[bool]:
        if test.field.kind in SETS:
            result = self.collection(test)
            return sa.not_(result) if test.negated else result
        operand = self.operand(test)
        if test.check is Check.IS_SET:
            present = operand.present()
            return sa.not_(present) if test.negated else present
        predicate = self.predicate(test)
        return operand.fails(predicate) if test.negated else operand.holds(predicate)

    def operand(self, test: Test) -> _Operand:
        spec, tables = test.field, self.tables
        if spec.custom_type is not None and spec.custom_name is not None:
            values = tables.custom_values
            return _CustomValue(
                owner=self.owner(values, "custom_values"),
                name_column=self.column(values, "name", "custom_values"),
                value=self.column(values, CUSTOM_VALUE_COLUMNS[spec.custom_type], "custom_values"),
                name=spec.custom_name,
            )
        if spec.name == "last_inbound_at":
            ids = tables.identities
            latest = (
                sa.select(sa.func.max(self.column(ids, "last_inbound_at", "identities")))
                .where(self.owner(ids, "identities"))
                .scalar_subquery()
            )
            return _Scalar(latest)
        if spec.kind is ValueKind.SUBSCRIPTION:
            subs = tables.subscriptions
            status = (
                sa.select(self.column(subs, "status", "subscriptions"))
                .where(
                    self.owner(subs, "subscriptions"),
                    self.column(subs, "sender", "subscriptions") == test.sender,
                )
                .scalar_subquery()
            )
            return _Scalar(sa.func.coalesce(status, "not_asked"), nullable=False)
        return _Scalar(self.column(tables.contacts, str(spec.attribute), "contacts"))

    def predicate(self, test: Test) -> Predicate:
        check = test.check
        constants = [_db_value(item) for item in test.constants]
        text = test.field.kind is ValueKind.TEXT

        def subject(x: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
            return _Fold(x) if text else x

        if check is Check.COMPARE:
            compare, bound = _COMPARE[test.symbol], constants[0]
            return lambda x: compare(x, bound)
        if check is Check.EQUALS:
            return lambda x: subject(x) == constants[0]
        if check is Check.ONE_OF:
            members = sorted(set(constants), key=repr)
            return lambda x: subject(x).in_(members)
        if check is Check.CONTAINS:
            return lambda x: _Position(subject(x), constants[0]) > 0
        if check is Check.STARTS_WITH:
            prefix = str(constants[0])
            return lambda x: sa.func.substr(subject(x), 1, len(prefix)) == prefix
        low, high = constants
        return lambda x: sa.and_(x >= low, x <= high)

    def collection(self, test: Test) -> sa.ColumnElement[bool]:
        if test.field.kind is ValueKind.TAGS:
            table, column, name = self.tables.tags, "tag", "tags"
        else:
            table, column, name = self.tables.identities, "channel", "identities"
        owner = self.owner(table, name)
        items = self.column(table, column, name)
        if test.check is Check.IS_SET:
            return sa.exists().where(owner)
        if test.check is Check.HAS:
            return sa.exists().where(owner, items == _db_value(test.constants[0]))
        members = sorted({str(_db_value(item)) for item in test.constants})
        if test.check is Check.HAS_ANY:
            return sa.exists().where(owner, items.in_(members))
        found = (
            sa.select(sa.func.count(sa.distinct(items)))
            .where(owner, items.in_(members))
            .scalar_subquery()
        )
        return found == len(members)


def _clause(segment: Segment, now: datetime, tables: object, where: str) -> sa.ColumnElement[bool]:
    if not isinstance(tables, ContactTables):
        raise InputError(f"{where}: tables must be ContactTables, got {type(tables).__name__}")
    return compile_tree(segment, now, _Sql(tables, where), where)


def segment_clause(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.ColumnElement[bool]:
    """``segment`` as a boolean SQL expression over ``tables.contacts`` (SPEC A1).

    Relative periods are resolved against ``now`` here, so the expression is fixed
    once built. Use it in ``WHERE`` of any select from ``tables.contacts``. Raises
    :class:`~omnimsg.errors.InputError` when ``now`` is not a datetime, when
    ``tables`` is not :class:`~omnimsg.stores.sql.ContactTables` or lacks a column
    the segment reads, :class:`~omnimsg.errors.NaiveDatetimeError` for a naive
    ``now``, and :class:`~omnimsg.errors.SegmentError` as
    :func:`~omnimsg.segments.compile_segment` does (a period outside the range of UTC
    dates, an invalid hand-built node, nesting beyond ``MAX_DEPTH``, a segment beyond
    :data:`~omnimsg.segments.walk.MAX_TERMS`, which keeps every statement within the
    parameter limits of SQLite and PostgreSQL).
    """
    return _clause(segment, now, tables, "segment_clause")


def select_contact_ids(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.Select[tuple[Any]]:
    """``SELECT id FROM contacts WHERE <segment>``: the ids of the segment's contacts.

    Raises like :func:`segment_clause`.
    """
    where = "select_contact_ids"
    clause = _clause(segment, now, tables, where)
    return sa.select(_Sql(tables, where).column(tables.contacts, "id", "contacts")).where(clause)
