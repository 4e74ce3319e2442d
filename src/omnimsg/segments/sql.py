"""SQL pushdown: a segment as a SQLAlchemy Core boolean expression (optional extra ``sql``).

The expression selects exactly the contacts :func:`~omnimsg.segments.compile_segment`
selects in Python, missing values included. Every condition compiles to a two-valued
expression (never SQL ``NULL``), so ``NOT`` and the negative operators keep contacts
whose value is missing, as in Python. Case-insensitive matching is spelled out with
the fold of :mod:`omnimsg.segments.casefold` (``translate()`` on PostgreSQL, a
registered deterministic function on SQLite), substrings use ``strpos``/``instr``,
never ``LIKE``, so ``%`` and ``_`` in values are ordinary characters.

The module defines a reference schema (:data:`metadata`, :data:`REFERENCE_TABLES`);
:class:`ContactTables` lets an application point the compiler at its own tables or
views instead. SQLite and PostgreSQL are supported. This is the only module of
omnimsg that imports SQLAlchemy; it does not open connections itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeAlias

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.compiler import SQLCompiler
    from sqlalchemy.sql.functions import FunctionElement
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("omnimsg.segments.sql needs SQLAlchemy 2: pip install omnimsg[sql]") from exc

import attrs

from omnimsg._time import require_aware
from omnimsg.contacts import Contact
from omnimsg.errors import InputError, SegmentError, StoreError
from omnimsg.segments.casefold import fold_case, fold_table_strings
from omnimsg.segments.compiler import custom_value_type
from omnimsg.segments.fields import (
    COMPARISONS,
    INT64_BOUND,
    MEMBERSHIP,
    NEGATIONS,
    FieldType,
    Operator,
    Period,
    ValueKind,
    is_known_field,
    require_now,
)
from omnimsg.segments.model import (
    AllGroup,
    AnyGroup,
    Condition,
    Node,
    NotGroup,
    Segment,
    node_name,
)

__all__ = [
    "REFERENCE_TABLES",
    "ContactTables",
    "ExactNumber",
    "Instant",
    "contact_custom_values",
    "contact_identities",
    "contact_subscriptions",
    "contact_tags",
    "contacts",
    "create_reference_schema",
    "fold_sql",
    "install_sqlite_functions",
    "load_contacts",
    "metadata",
    "segment_clause",
    "select_contact_ids",
]

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
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        require_aware(value, "timestamp")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
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
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric())
        return dialect.type_descriptor(_PlainNumeric())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value)
        return value


metadata = sa.MetaData()
"""The reference schema's metadata; :func:`create_reference_schema` creates its tables."""


contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("phone_region", sa.Text),
    sa.Column("timezone", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("lifecycle", sa.Text),
    sa.Column("assignee", sa.Text),
    sa.Column("conversation_status", sa.Text),
    sa.Column("last_interacted_channel", sa.Text),
    sa.Column("created_at", Instant()),
)
"""One row per contact; the standard fields, ``NULL`` when missing."""


def _contact_id() -> sa.Column[str]:
    return sa.Column(
        "contact_id", sa.Text, sa.ForeignKey(contacts.c.id, ondelete="CASCADE"), primary_key=True
    )


contact_tags = sa.Table(
    "contact_tags",
    metadata,
    _contact_id(),
    sa.Column("tag", sa.Text, primary_key=True),
    sa.Index("ix_contact_tags_tag", "tag", "contact_id"),
)
"""One row per tag of a contact."""

contact_identities = sa.Table(
    "contact_identities",
    metadata,
    _contact_id(),
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("first_seen_at", Instant()),
    sa.Column("last_inbound_at", Instant()),
    sa.Index("ix_contact_identities_channel", "channel", "contact_id"),
)
"""One row per channel identity (channel account) of a contact."""

contact_custom_values = sa.Table(
    "contact_custom_values",
    metadata,
    _contact_id(),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("string_value", sa.Text),
    sa.Column("number_value", ExactNumber()),
    sa.Column("boolean_value", sa.Boolean),
    sa.Column("datetime_value", Instant()),
)
"""Typed custom values (EAV): a value sits in the column of its type, the others are NULL."""

contact_subscriptions = sa.Table(
    "contact_subscriptions",
    metadata,
    _contact_id(),
    sa.Column("sender", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
)
"""A contact's subscription status per sender (channel account); no row means not asked."""


@attrs.frozen
class ContactTables:
    """The tables (or views, or subqueries) a segment is compiled against.

    Each must expose the columns of the reference table it stands for, by column
    *key*: an application can declare ``sa.Column("mail", sa.Text, key="email")`` on
    its own table, or build a view with the reference names. ``contacts.id`` must be
    unique, and each of the other four needs ``contact_id``.
    """

    contacts: sa.FromClause
    tags: sa.FromClause
    identities: sa.FromClause
    custom_values: sa.FromClause
    subscriptions: sa.FromClause


REFERENCE_TABLES = ContactTables(
    contacts=contacts,
    tags=contact_tags,
    identities=contact_identities,
    custom_values=contact_custom_values,
    subscriptions=contact_subscriptions,
)
"""The reference schema, the default of every function here."""


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


def fold_sql(expression: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """``expression`` case-folded in SQL exactly as :func:`~omnimsg.segments.fold_case` does.

    For an application's own queries that must agree with segments. Compiles on
    SQLite (needs :func:`install_sqlite_functions`) and PostgreSQL.
    """
    return _Fold(expression)


def _sqlite_fold(value: object) -> object:
    return fold_case(value) if isinstance(value, str) else value


def install_sqlite_functions(dbapi_connection: Any, connection_record: Any = None) -> None:
    """Register ``omnimsg_fold`` on a ``sqlite3`` connection (deterministic).

    Segments with text conditions need it on SQLite. The signature fits SQLAlchemy's
    ``connect`` event: ``sa.event.listen(engine, "connect", install_sqlite_functions)``.
    """
    dbapi_connection.create_function("omnimsg_fold", 1, _sqlite_fold, deterministic=True)


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

    tables: ContactTables
    name: str
    column: str

    def _exists(self, *criteria: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        values = self.tables.custom_values
        value = values.c[self.column]
        return sa.exists().where(
            values.c.contact_id == self.tables.contacts.c.id,
            values.c.name == self.name,
            value.is_not(None),
            *criteria,
        )

    def present(self) -> sa.ColumnElement[bool]:
        return self._exists()

    def holds(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return self._exists(predicate(self.tables.custom_values.c[self.column]))

    def fails(self, predicate: Predicate) -> sa.ColumnElement[bool]:
        return sa.not_(self.holds(predicate))


_Operand: TypeAlias = _Scalar | _CustomValue

_CUSTOM_COLUMNS = {
    FieldType.STRING: "string_value",
    FieldType.NUMBER: "number_value",
    FieldType.BOOLEAN: "boolean_value",
    FieldType.DATETIME: "datetime_value",
}

_O = Operator
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
class _Compiler:
    tables: ContactTables
    now: datetime

    def node(self, node: Node) -> sa.ColumnElement[bool]:
        if isinstance(node, Condition):
            return self.condition(node)
        if isinstance(node, NotGroup):
            return sa.not_(self.node(node.child))
        if not isinstance(node, AllGroup | AnyGroup):
            raise SegmentError(f"not a valid segment node: {node_name(node)}")
        if not node.children:
            raise SegmentError(f"{node_name(node)}: a group needs at least one node")
        parts = [self.node(child) for child in node.children]
        return sa.and_(*parts) if isinstance(node, AllGroup) else sa.or_(*parts)

    def operand(self, condition: Condition) -> _Operand:
        spec, tables = condition.field, self.tables
        people = tables.contacts
        if spec.custom_type is not None and spec.custom_name is not None:
            return _CustomValue(tables, spec.custom_name, _CUSTOM_COLUMNS[spec.custom_type])
        if spec.name == "last_inbound_at":
            ids = tables.identities
            latest = (
                sa.select(sa.func.max(ids.c.last_inbound_at))
                .where(ids.c.contact_id == people.c.id)
                .scalar_subquery()
            )
            return _Scalar(latest)
        if spec.kind is ValueKind.SUBSCRIPTION:
            subs = tables.subscriptions
            status = (
                sa.select(subs.c.status)
                .where(subs.c.contact_id == people.c.id, subs.c.sender == condition.sender)
                .scalar_subquery()
            )
            return _Scalar(sa.func.coalesce(status, "not_asked"), nullable=False)
        if spec.attribute is None:
            raise SegmentError(f"{node_name(condition)}: not a known contact field")
        return _Scalar(people.c[spec.attribute])

    def condition(self, condition: Condition) -> sa.ColumnElement[bool]:
        spec = condition.field
        if not is_known_field(spec):
            raise SegmentError(f"{node_name(condition)}: not a known contact field")
        if condition.op not in spec.operators:
            raise SegmentError(
                f"{node_name(condition)}: the operator does not apply to {spec.name}"
            )
        if spec.kind in (ValueKind.TAGS, ValueKind.CHANNELS):
            return self.collection(condition)
        positive_op = NEGATIONS.get(condition.op, condition.op)
        operand = self.operand(condition)
        if positive_op is _O.IS_SET:
            present = operand.present()
            return present if positive_op is condition.op else sa.not_(present)
        predicate = self.predicate(condition, positive_op)
        if positive_op is condition.op:
            return operand.holds(predicate)
        return operand.fails(predicate)

    def predicate(self, condition: Condition, op: Operator) -> Predicate:
        value = condition.value
        text = condition.field.kind is ValueKind.TEXT

        def subject(x: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
            return _Fold(x) if text else x

        def constant(item: object) -> object:
            item = _db_value(item)
            return fold_case(item) if text and isinstance(item, str) else item

        if op in COMPARISONS:
            bound = value.cutoff(self.now) if isinstance(value, Period) else value
            compare = _COMPARE[COMPARISONS[op]]
            return lambda x: compare(x, bound)
        if op is _O.EQUALS:
            expected = constant(value)
            return lambda x: subject(x) == expected
        if op in MEMBERSHIP and isinstance(value, tuple):
            members = sorted({constant(item) for item in value}, key=repr)
            return lambda x: subject(x).in_(members)
        if op is _O.CONTAINS and isinstance(value, str):
            needle = constant(value)
            return lambda x: _Position(subject(x), needle) > 0
        if op is _O.STARTS_WITH and isinstance(value, str):
            prefix = constant(value)
            assert isinstance(prefix, str)
            return lambda x: sa.func.substr(subject(x), 1, len(prefix)) == prefix
        if op is _O.BETWEEN and isinstance(value, tuple):
            low, high = value
            return lambda x: sa.and_(x >= low, x <= high)
        if op is _O.WITHIN_LAST and isinstance(value, Period):
            cutoff, now = value.window(self.now)
            return lambda x: sa.and_(x >= cutoff, x <= now)
        raise SegmentError(f"{node_name(condition)}: the value {value!r} does not fit the operator")

    def collection(self, condition: Condition) -> sa.ColumnElement[bool]:
        spec, op, value = condition.field, condition.op, condition.value
        if spec.kind is ValueKind.TAGS:
            table, column = self.tables.tags, "tag"
        else:
            table, column = self.tables.identities, "channel"
        owner = table.c.contact_id == self.tables.contacts.c.id
        items = table.c[column]
        positive_op = NEGATIONS.get(op, op)
        if positive_op is _O.IS_SET:
            result: sa.ColumnElement[bool] = sa.exists().where(owner)
        elif positive_op in (_O.CONTAINS, _O.HAS_CHANNEL):
            result = sa.exists().where(owner, items == _db_value(value))
        elif positive_op is _O.HAS_ANY and isinstance(value, tuple):
            members = sorted({str(_db_value(item)) for item in value})
            result = sa.exists().where(owner, items.in_(members))
        elif positive_op is _O.HAS_ALL and isinstance(value, tuple):
            members = sorted({str(_db_value(item)) for item in value})
            found = (
                sa.select(sa.func.count(sa.distinct(items)))
                .where(owner, items.in_(members))
                .scalar_subquery()
            )
            result = found == len(members)
        else:
            raise SegmentError(
                f"{node_name(condition)}: the value {value!r} does not fit the operator"
            )
        return result if positive_op is op else sa.not_(result)


def segment_clause(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.ColumnElement[bool]:
    """``segment`` as a boolean SQL expression over ``tables.contacts`` (SPEC A1).

    Relative periods are resolved against ``now`` here, so the expression is fixed
    once built. Use it in ``WHERE`` of any select from ``tables.contacts``. Raises
    :class:`~omnimsg.errors.InputError` when ``now`` is not a datetime,
    :class:`~omnimsg.errors.NaiveDatetimeError` for a naive ``now``, and
    :class:`~omnimsg.errors.SegmentError` as :func:`~omnimsg.segments.compile_segment`
    does (a period outside the range of UTC dates, an invalid hand-built node).
    """
    return _clause(segment, now, tables, "segment_clause")


def _clause(
    segment: Segment, now: datetime, tables: ContactTables, where: str
) -> sa.ColumnElement[bool]:
    require_now(now, where)
    if not isinstance(segment, Segment):
        raise SegmentError(
            f"{where}: expected a Segment (from parse_segment), got {type(segment).__name__}"
        )
    return _Compiler(tables=tables, now=now).node(segment.root)


def select_contact_ids(
    segment: Segment, *, now: datetime, tables: ContactTables = REFERENCE_TABLES
) -> sa.Select[tuple[Any]]:
    """``SELECT id FROM contacts WHERE <segment>``: the ids of the segment's contacts.

    Raises like :func:`segment_clause`.
    """
    people = tables.contacts
    return sa.select(people.c.id).where(_clause(segment, now, tables, "select_contact_ids"))


def create_reference_schema(bind: sa.Connection | sa.Engine) -> None:
    """Create the reference tables (and their indexes) if they do not exist."""
    metadata.create_all(bind)


def _instant(value: datetime | None, where: str) -> datetime | None:
    if value is None:
        return None
    require_aware(value, where)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{where}: {value!r} is outside the range of UTC dates") from None
    return value


def _enum_value(value: object) -> str | None:
    return None if value is None else str(value)


def _rows(contact: Contact) -> dict[str, list[dict[str, Any]]]:
    where = f"contact {contact.id!r}"
    person = {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "phone_region": contact.phone_region,
        "timezone": contact.timezone,
        "language": contact.language,
        "lifecycle": contact.lifecycle,
        "assignee": contact.assignee,
        "conversation_status": _enum_value(contact.conversation_status),
        "last_interacted_channel": _enum_value(contact.last_interacted_channel),
        "created_at": _instant(contact.created_at, f"{where}.created_at"),
    }
    custom: list[dict[str, Any]] = []
    for name, value in contact.custom.items():
        kind = custom_value_type(value)
        if kind is None:
            continue
        row: dict[str, Any] = {
            "contact_id": contact.id,
            "name": name,
            "string_value": None,
            "number_value": None,
            "boolean_value": None,
            "datetime_value": None,
        }
        if (
            kind is FieldType.NUMBER
            and isinstance(value, int)
            and not -INT64_BOUND <= value < INT64_BOUND
        ):
            raise InputError(f"{where}.custom.{name}: integers must fit in 64 bits")
        if kind is FieldType.DATETIME and isinstance(value, datetime):
            value = _instant(value, f"{where}.custom.{name}")
        elif kind is FieldType.STRING and isinstance(value, str):
            # A str subclass (a StrEnum member) is stored as the text it compares as.
            value = str.__str__(value)
        row[_CUSTOM_COLUMNS[kind]] = value
        custom.append(row)
    return {
        "contacts": [person],
        "tags": [{"contact_id": contact.id, "tag": tag} for tag in sorted(contact.tags)],
        "identities": [
            {
                "contact_id": contact.id,
                "account_id": identity.account_id,
                "external_id": identity.external_id,
                "channel": str(identity.channel),
                "first_seen_at": _instant(identity.first_seen_at, f"{where}.identities"),
                "last_inbound_at": _instant(identity.last_inbound_at, f"{where}.identities"),
            }
            for identity in contact.identities
        ],
        "custom_values": custom,
        "subscriptions": [
            {"contact_id": contact.id, "sender": sender, "status": str(status)}
            for sender, status in sorted(contact.subscriptions.items())
        ],
    }


_LOAD_ORDER = ("contacts", "tags", "identities", "custom_values", "subscriptions")


def load_contacts(
    connection: sa.Connection,
    contacts: Iterable[Contact],
    *,
    tables: ContactTables = REFERENCE_TABLES,
    batch_size: int = 1000,
) -> int:
    """Insert contacts into the reference schema (or tables shaped like it).

    Runs inside the caller's transaction and returns the number of contacts loaded.
    Custom values are stored by :func:`~omnimsg.segments.compiler.custom_value_type`:
    each in the column of its type; values of no supported type (and NaN) are skipped,
    exactly as the Python predicate reads them as missing. Raises
    :class:`~omnimsg.errors.InputError` for a value SQL cannot hold (a naive datetime,
    an integer beyond 64 bits) and :class:`~omnimsg.errors.StoreError` when the
    database refuses a row (for example a duplicate id).
    """
    targets = {name: getattr(tables, name) for name in _LOAD_ORDER}
    for name, table in targets.items():
        if not isinstance(table, sa.Table):
            raise InputError(f"load_contacts: tables.{name} must be a Table, got {table!r}")
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in _LOAD_ORDER}
    count = 0

    def flush() -> None:
        for name in _LOAD_ORDER:
            rows = pending[name]
            if rows:
                try:
                    connection.execute(targets[name].insert(), rows)
                except sa.exc.SQLAlchemyError as exc:
                    raise StoreError(
                        f"load_contacts: the database refused a row of {name}: "
                        f"{str(exc).splitlines()[0]}"
                    ) from exc
                pending[name] = []

    for contact in contacts:
        for name, rows in _rows(contact).items():
            pending[name].extend(rows)
        count += 1
        if count % batch_size == 0:
            flush()
    flush()
    return count
