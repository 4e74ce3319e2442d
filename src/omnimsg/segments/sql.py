"""SQL pushdown: a segment as a SQLAlchemy Core boolean expression (optional extra ``sql``).

The expression selects exactly the contacts :func:`~omnimsg.segments.compile_segment`
selects in Python, missing values included. Every condition compiles to a two-valued
expression (never SQL ``NULL``), so ``NOT`` and the negative operators keep contacts
whose value is missing, as in Python. Case-insensitive matching is spelled out with
the fold of :mod:`omnimsg.segments.casefold` (``lower()`` plus ``translate()`` on
PostgreSQL, ``lower()`` plus the function :func:`install_sqlite_functions` registers
on SQLite), substrings use ``strpos``/``instr``, never ``LIKE``, so ``%`` and ``_`` in
values are ordinary characters.

The SQL is set-shaped, so that databases answer it from their indexes. A condition on
a child table (tags, custom values, identities, subscriptions) is the set of
``contact_id`` the child table yields for it, each aggregate (the latest
``last_inbound_at`` of a contact) computed once in it: a condition ``AND``-ed at the
top is ``contacts.id IN (SELECT contact_id FROM ...)`` (a semi-join), and one under
``OR`` or ``NOT`` a correlated ``EXISTS``/``NOT EXISTS``, which PostgreSQL runs as an
anti-join, a hashed lookup or an index probe per row. ``NOT IN`` and ``IN`` under
``OR`` are never written: PostgreSQL can only hash them while the set fits in
``work_mem``, and beyond that compares each row with the whole set. A segment of
conditions on child tables only, one of them AND-ed at its top, is read from that
child table by :func:`select_contact_ids`, without touching ``contacts``. Folding
text costs little where nothing changes: all-ASCII text is only ``lower()``-ed, and
an equality first compares lengths (folding keeps them).

This module only compiles: the walk, the checks and the meaning of each operator are
shared with the Python compiler (:mod:`omnimsg.segments.walk`), and the tables it
compiles against by default, with their loader, are in :mod:`omnimsg.stores.sql`.
``install_sqlite_functions`` lives here because the SQL this module writes calls the
function it registers. SQLite and PostgreSQL are supported; nothing here opens a
connection.
"""

from __future__ import annotations

import functools
import operator
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

try:
    import sqlalchemy as sa
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.compiler import SQLCompiler
    from sqlalchemy.sql.functions import FunctionElement
    from sqlalchemy.sql.util import ClauseAdapter
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("omnimsg.segments.sql needs SQLAlchemy 2: pip install omnimsg[sql]") from exc

import attrs

from omnimsg.errors import InputError
from omnimsg.segments.casefold import fold_case, fold_table
from omnimsg.segments.fields import FieldType, ValueKind
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
    (argument,) = element.clauses
    # SQLite's lower() maps exactly A-Z: text with as many bytes as characters is all
    # ASCII and needs nothing more; the rest (and only the rest: NULL takes the ELSE
    # too) goes through the registered fold.
    is_ascii = sa.func.length(sa.cast(argument, sa.LargeBinary)) == sa.func.length(argument)
    folded = sa.case(
        (sa.not_(is_ascii), sa.func.omnimsg_fold(argument)), else_=sa.func.lower(argument)
    )
    return compiler.process(folded, **kw)


def _sql_string(text: str) -> str:
    if "'" in text or "\\" in text or "%" in text or "\x00" in text:
        raise AssertionError("the case folding strings hold no quote, backslash, % or NUL")
    return f"'{text}'"


# Characters translate() meets most, after lower(): it looks each character of a value
# up in its source string from the start, so these come first, and so do the letters
# of the most used scripts, changed or not (Latin, Cyrillic, Greek).
_COMMON_ASCII = "eaoinrtslcudpmhgbfywkvxzjq .@-_0123456789,+:/()&!?#*=;"
_COMMON_BLOCKS = (
    (0x00B5, 0x0100),
    (0x0100, 0x0180),
    (0x0400, 0x0460),
    (0x0370, 0x0400),
    (0x0180, 0x0250),
    (0x0460, 0x0530),
    (0x1E00, 0x1F00),
)


@functools.cache
def _translate_strings() -> tuple[str, str, str]:
    """``translate()``'s two strings in lookup order, and a regex class of what changes."""
    table = fold_table()
    changed = [code for code in table if code > 0x7F]
    order: dict[int, str] = {ord(char): char for char in _COMMON_ASCII}
    for low, high in _COMMON_BLOCKS:
        for code in range(low, high):
            char = chr(code)
            if code in table:
                order[code] = table[code]
            elif char.isalpha() and fold_case(char) == char:
                order[code] = char
    for code in changed:
        order.setdefault(code, table[code])
    source = "".join(map(chr, order))
    target = "".join(order.values())
    return source, target, "[" + "".join(map(chr, changed)) + "]"


@compiles(_Fold, "postgresql")
def _fold_postgresql(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    source, target, changed = _translate_strings()
    exact = sa.collate(argument, "C")
    # lower() under the "C" collation maps exactly A-Z whatever the database locale;
    # translate() applies the rest of the table, only to text holding a character it
    # changes (all-ASCII text is told by its length, the rest by one regex).
    lowered = sa.func.lower(exact)
    folded = sa.case(
        (sa.func.octet_length(argument) == sa.func.char_length(argument), lowered),
        (exact.op("!~", is_comparison=True)(sa.literal_column(_sql_string(changed))), lowered),
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


@functools.cache
def _lower_differs() -> re.Pattern[str]:
    """The characters whose ``str.lower()`` is not their fold.

    Text without them folds exactly as ``lower()`` maps it, in C. Capital sigma is
    among them because ``lower()`` makes it final at the end of a word.
    """
    table = fold_table()
    differs = {"\u03a3"}
    differs.update(chr(code) for code, folded in table.items() if chr(code).lower() != folded)
    for start in range(0, sys.maxunicode + 1, 256):
        if 0xD800 <= start <= 0xDFFF:
            continue
        chunk = "".join(map(chr, range(start, start + 256)))
        # Only a block that lower() changes can hold a character it maps off the table.
        if chunk.lower() != chunk:
            differs.update(c for c in chunk if c.lower() != c and ord(c) not in table)
    return re.compile("[" + "".join(map(re.escape, sorted(differs))) + "]")


def _sqlite_fold(value: object) -> object:
    if value.__class__ is not str:
        return fold_case(value) if isinstance(value, str) else value
    text: str = value
    if text.isascii() or _lower_differs().search(text) is None:
        return text.lower()
    return fold_case(text)


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
    """A column of ``contacts``: ``NULL`` is a missing value, and the tests guard
    against it so that every result is TRUE or FALSE, never NULL."""

    expr: sa.ColumnElement[Any]

    def present(self) -> sa.ColumnElement[bool]:
        return self.expr.is_not(None)

    def holds(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return sa.and_(self.expr.is_not(None), predicate(self.expr))

    def fails(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return sa.or_(self.expr.is_(None), sa.not_(predicate(self.expr)))


# --- the shape of a compiled segment --------------------------------------------------
#
# The backend first builds a small tree: conditions on the contacts row (_Row), sets
# of contact ids read from one child table (_Member), and the three groups. Rendering
# it afterwards knows where each set sits (AND-ed at the top, or under OR/NOT), which
# decides how it is written; negation is pushed down to the leaves on the way.


@attrs.frozen
class _Row:
    """A two-valued condition on the columns of ``contacts``."""

    expr: sa.ColumnElement[bool]


@attrs.frozen
class _Member:
    """The contact is among the ``contact_id`` of the ``table`` rows meeting ``where``,
    grouped by contact and kept by ``having`` when it is set.

    ``unique`` says the rows give each contact at most once without grouping (the
    table's primary key is ``contact_id`` and a column ``where`` fixes).
    """

    table: sa.FromClause
    contact_id: sa.ColumnElement[Any]
    where: tuple[sa.ColumnElement[bool], ...]
    having: sa.ColumnElement[bool] | None = None
    unique: bool = False

    def ids(self) -> sa.Select[Any]:
        """``SELECT contact_id FROM table WHERE ...`` (grouped when ``having``)."""
        select = sa.select(self.contact_id).where(*self.where)
        if self.having is not None:
            select = select.group_by(self.contact_id).having(self.having)
        return select

    def exists(self, person: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """The correlated ``EXISTS`` of the same rows for the contact ``person``."""
        select = sa.select(self.contact_id).where(self.contact_id == person, *self.where)
        if self.having is not None:
            select = select.group_by(self.contact_id).having(self.having)
        return select.exists()


@attrs.frozen
class _All:
    parts: tuple[_Node, ...]


@attrs.frozen
class _Any:
    parts: tuple[_Node, ...]


@attrs.frozen
class _Not:
    part: _Node


_Node: TypeAlias = _Row | _Member | _All | _Any | _Not

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


def _flat(parts: Sequence[_Node], kind: type[_All | _Any]) -> tuple[_Node, ...]:
    """``parts`` with groups of the same kind spliced in (their parts are emitted)."""
    flat: list[_Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return tuple(flat)


def _lengths(
    x: sa.ColumnElement[Any], values: Sequence[object], text: bool, test: sa.ColumnElement[bool]
) -> sa.ColumnElement[bool]:
    """``test``, after a cheap length check when it compares folded text.

    Folding keeps a string's length, so a value can only equal a constant of its own
    length; the check spares the fold of most values. The lengths are literals: they
    add no bound parameter.
    """
    if not text:
        return test
    lengths = sorted({len(str(value)) for value in values})
    literals = [sa.literal_column(str(length), sa.Integer) for length in lengths]
    return sa.and_(sa.func.length(x).in_(literals), test)


def _keyed_by(table: sa.FromClause, key: str) -> bool:
    """Whether ``table``'s primary key is ``contact_id`` and the column ``key``."""
    if not isinstance(table, sa.Table):
        return False
    return {column.key for column in table.primary_key.columns} == {"contact_id", key}


@attrs.frozen
class _Sql:
    """Emits the tree for each :class:`~omnimsg.segments.walk.Test` over ``tables``."""

    tables: ContactTables
    where: str

    def column(self, table: sa.FromClause, key: str, name: str) -> sa.ColumnElement[Any]:
        try:
            return table.c[key]
        except KeyError:
            raise InputError(
                f"{self.where}: tables.{name} has no column with the key {key!r}"
            ) from None

    def all_of(self, parts: Sequence[_Node]) -> _Node:
        return _All(_flat(parts, _All))

    def any_of(self, parts: Sequence[_Node]) -> _Node:
        return _Any(_flat(parts, _Any))

    def negate(self, part: _Node) -> _Node:
        return part.part if isinstance(part, _Not) else _Not(part)

    def member(
        self,
        table: sa.FromClause,
        name: str,
        where: Sequence[sa.ColumnElement[bool]],
        *,
        having: sa.ColumnElement[bool] | None = None,
        unique: bool = False,
    ) -> _Member:
        contact_id = self.column(table, "contact_id", name)
        return _Member(table, contact_id, tuple(where), having, unique and having is None)

    def test(self, test: Test) -> _Node:
        spec = test.field
        if spec.kind in SETS:
            node: _Node = self.collection(test)
        elif spec.custom_type is not None and spec.custom_name is not None:
            node = self.custom_value(test, spec.custom_type, spec.custom_name)
        elif spec.name == "last_inbound_at":
            node = self.last_inbound(test)
        elif spec.kind is ValueKind.SUBSCRIPTION:
            node = self.subscription(test)
        else:
            column = self.column(self.tables.contacts, str(spec.attribute), "contacts")
            return _Row(self.row_test(test, _Scalar(column)))
        return _Not(node) if test.negated else node

    def row_test(self, test: Test, operand: _Scalar) -> sa.ColumnElement[bool]:
        if test.check is Check.IS_SET:
            present = operand.present()
            return sa.not_(present) if test.negated else present
        predicate = self.predicate(test)
        return operand.fails(predicate) if test.negated else operand.holds(predicate)

    def custom_value(self, test: Test, kind: FieldType, name: str) -> _Member:
        values = self.tables.custom_values
        value = self.column(values, CUSTOM_VALUE_COLUMNS[kind], "custom_values")
        where = [self.column(values, "name", "custom_values") == name, value.is_not(None)]
        if test.check is not Check.IS_SET:
            where.append(self.predicate(test)(value))
        return self.member(values, "custom_values", where, unique=_keyed_by(values, "name"))

    def last_inbound(self, test: Test) -> _Member:
        """The latest ``last_inbound_at`` over the contact's identities, read once.

        A lower bound holds for the latest instant exactly when it holds for some
        instant, so it filters rows (through an index) before anything is grouped;
        only an upper bound needs the aggregate.
        """
        ids = self.tables.identities
        at = self.column(ids, "last_inbound_at", "identities")
        check, constants = test.check, test.constants
        if check is Check.IS_SET:
            return self.member(ids, "identities", [at.is_not(None)])
        if check is Check.COMPARE and test.symbol in (">", ">="):
            return self.member(ids, "identities", [_COMPARE[test.symbol](at, constants[0])])
        latest = sa.func.max(at)
        if check is Check.BETWEEN:
            low, high = constants
            return self.member(ids, "identities", [at >= low], having=latest <= high)
        having = self.predicate(test)(latest)
        return self.member(ids, "identities", [at.is_not(None)], having=having)

    def subscription(self, test: Test) -> _Node:
        """The status of the consent with ``test.sender``: no row (or a ``NULL`` status)
        is ``not_asked``, so a test that ``not_asked`` meets is the absence of a row
        with another status."""
        subs = self.tables.subscriptions
        status = self.column(subs, "status", "subscriptions")
        sender = self.column(subs, "sender", "subscriptions") == test.sender
        unique = _keyed_by(subs, "sender")
        statuses = {str(_db_value(item)) for item in test.constants}
        if test.check is Check.EQUALS:
            statuses = {statuses.pop()}
        members = sorted(statuses)
        if _NOT_ASKED in statuses:
            return _Not(self.member(subs, "subscriptions", [sender, status.not_in(members)]))
        return self.member(subs, "subscriptions", [sender, status.in_(members)], unique=unique)

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
            return lambda x: _lengths(x, constants, text, subject(x) == constants[0])
        if check is Check.ONE_OF:
            members = sorted(set(constants), key=repr)
            return lambda x: _lengths(x, members, text, subject(x).in_(members))
        if check is Check.CONTAINS:
            return lambda x: _Position(subject(x), constants[0]) > 0
        if check is Check.STARTS_WITH:
            prefix = str(constants[0])
            return lambda x: sa.func.substr(subject(x), 1, len(prefix)) == prefix
        low, high = constants
        return lambda x: sa.and_(x >= low, x <= high)

    def collection(self, test: Test) -> _Member:
        if test.field.kind is ValueKind.TAGS:
            table, key, name = self.tables.tags, "tag", "tags"
        else:
            table, key, name = self.tables.identities, "channel", "identities"
        items = self.column(table, key, name)
        if test.check is Check.IS_SET:
            return self.member(table, name, [])
        if test.check is Check.HAS:
            item = _db_value(test.constants[0])
            return self.member(table, name, [items == item], unique=_keyed_by(table, key))
        members = sorted({str(_db_value(item)) for item in test.constants})
        if test.check is Check.HAS_ANY or len(members) == 1:
            unique = len(members) == 1 and _keyed_by(table, key)
            return self.member(table, name, [items.in_(members)], unique=unique)
        found = sa.func.count(sa.distinct(items)) == len(members)
        return self.member(table, name, [items.in_(members)], having=found)


_NOT_ASKED = "not_asked"


@attrs.frozen
class _Render:
    """Writes the tree as SQL, pushing negation down to the leaves.

    A set AND-ed at the top of the WHERE clause becomes ``contacts.id IN (...)``, which
    both databases run as a semi-join from whichever side is smaller; anywhere else it
    becomes a correlated ``[NOT] EXISTS``.
    """

    person: sa.ColumnElement[Any]

    def __call__(self, node: _Node, *, top: bool, positive: bool = True) -> sa.ColumnElement[bool]:
        if isinstance(node, _Row):
            return node.expr if positive else sa.not_(node.expr)
        if isinstance(node, _Member):
            if not positive:
                return sa.not_(node.exists(self.person))
            return self.person.in_(node.ids()) if top else node.exists(self.person)
        if isinstance(node, _Not):
            return self(node.part, top=top, positive=not positive)
        # De Morgan: NOT over a group swaps AND and OR; only AND keeps its parts on top.
        conjunction = isinstance(node, _All) == positive
        inner = top and conjunction
        parts = [self(part, top=inner, positive=positive) for part in node.parts]
        return _balanced(parts, sa.and_ if conjunction else sa.or_)


def _tree(segment: Segment, now: datetime, tables: object, where: str) -> tuple[_Sql, _Node]:
    if not isinstance(tables, ContactTables):
        raise InputError(f"{where}: tables must be ContactTables, got {type(tables).__name__}")
    backend = _Sql(tables, where)
    return backend, compile_tree(segment, now, backend, where)


def _person(backend: _Sql) -> sa.ColumnElement[Any]:
    return backend.column(backend.tables.contacts, "id", "contacts")


def _references(member: _Member, person: sa.ColumnElement[Any]) -> bool:
    """Whether every ``contact_id`` of the member's table is a contact (a foreign key)."""
    column = member.contact_id
    return isinstance(column, sa.Column) and column.references(person)  # type: ignore[arg-type]


def segment_clause(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.ColumnElement[bool]:
    """``segment`` as a boolean SQL expression over ``tables.contacts`` (SPEC A1).

    Relative periods are resolved against ``now`` here, so the expression is fixed
    once built. Use it in ``WHERE`` of any select from ``tables.contacts``, AND-ed
    with the select's other conditions (conditions on child tables at its top are
    ``contacts.id IN (SELECT ...)``, meant for a semi-join). Raises
    :class:`~omnimsg.errors.InputError` when ``now`` is not a datetime, when
    ``tables`` is not :class:`~omnimsg.stores.sql.ContactTables` or lacks a column
    the segment reads, :class:`~omnimsg.errors.NaiveDatetimeError` for a naive
    ``now``, and :class:`~omnimsg.errors.SegmentError` as
    :func:`~omnimsg.segments.compile_segment` does (a period outside the range of UTC
    dates, an invalid hand-built node, nesting beyond ``MAX_DEPTH``, a segment beyond
    :data:`~omnimsg.segments.walk.MAX_TERMS`, which keeps every statement within the
    parameter limits of SQLite and PostgreSQL).
    """
    backend, node = _tree(segment, now, tables, "segment_clause")
    return _Render(_person(backend))(node, top=True)


def _row_free(node: _Node) -> bool:
    """Whether ``node`` reads child tables only, never a column of ``contacts``."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, _Row):
            return False
        if isinstance(item, _Not):
            pending.append(item.part)
        elif isinstance(item, _All | _Any):
            pending.extend(item.parts)
    return True


def _driver(node: _Node, person: sa.ColumnElement[Any]) -> tuple[_Member, list[_Node]] | None:
    """A set the whole segment can be read from, and the conditions left to check.

    The segment itself when it is one set of a table whose ``contact_id`` references
    ``contacts.id``; else the first such set AND-ed at its top when the other parts
    read no column of ``contacts``.
    """
    if isinstance(node, _Member):
        return (node, []) if _references(node, person) else None
    if not isinstance(node, _All):
        return None
    for index, part in enumerate(node.parts):
        if isinstance(part, _Member) and _references(part, person):
            rest = [*node.parts[:index], *node.parts[index + 1 :]]
            return (part, rest) if all(map(_row_free, rest)) else None
    return None


def select_contact_ids(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.Select[tuple[Any]]:
    """The ids of the segment's contacts, as one column labelled ``id``.

    Usually ``SELECT contacts.id FROM contacts WHERE <segment_clause>``. A segment
    made of conditions on child tables only, one of them AND-ed at its top on a table
    whose ``contact_id`` is a foreign key to ``contacts.id`` (as in the reference
    schema), is read from that table, without touching ``contacts``:
    ``SELECT contact_id AS id FROM contact_tags WHERE tag = 'vip'`` (``DISTINCT``
    unless the table's key makes ids unique), the other conditions checked for each
    of its ids. That trusts the foreign key: on SQLite, which enforces it only with
    ``PRAGMA foreign_keys = ON``, delete a contact's rows in every table. Each id
    comes once, in no particular order.

    Raises like :func:`segment_clause`.
    """
    backend, node = _tree(segment, now, tables, "select_contact_ids")
    person = _person(backend)
    driver = _driver(node, person)
    if driver is None:
        return sa.select(person.label("id")).where(_Render(person)(node, top=True))
    member, rest = driver
    if not rest:
        ids = member.ids().with_only_columns(member.contact_id.label("id"))
        return ids if member.unique or member.having is not None else ids.distinct()
    # The driving table gets an alias of its own, so that the other conditions,
    # correlated on its contact_id, may read the same table.
    alias = member.table.alias()
    adapt = ClauseAdapter(alias).traverse
    contact_id = alias.c["contact_id"]
    # Checked per id with correlated EXISTS (PostgreSQL still turns those at the top
    # into semi-joins); per contact, so they filter rows before any grouping.
    others = _Render(contact_id)(rest[0] if len(rest) == 1 else _All(tuple(rest)), top=False)
    ids = sa.select(contact_id.label("id")).where(*map(adapt, member.where), others)
    if member.having is not None:
        return ids.group_by(contact_id).having(adapt(member.having))
    return ids if member.unique else ids.distinct()
