"""The vocabulary of the segment language: field types, operators and the standard fields.

This module is data. Every other module of :mod:`omnimsg.segments` (parsing, the JSON
Schema, descriptions, the Python and SQL compilers) looks fields and operators up in
the tables below and keeps no list of its own, so adding an operator to a kind here is
the first step, and the tests fail until every compiler knows it. The checks of a
compiler's input (:func:`require_now`, :func:`is_known_field`) live here too and are
made once, by the walk both compilers share (:mod:`omnimsg.segments.walk`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs
from dateutil.relativedelta import relativedelta

from omnimsg._time import require_aware
from omnimsg.errors import InputError, SegmentError

__all__ = [
    "COMPARISONS",
    "CUSTOM_PREFIX",
    "INT64_BOUND",
    "MEMBERSHIP",
    "NEGATIONS",
    "OPERATORS_BY_KIND",
    "PERIOD_LIMITS",
    "STANDARD_FIELDS",
    "FieldSpec",
    "FieldType",
    "Operator",
    "Period",
    "PeriodUnit",
    "ValueKind",
    "ValueShape",
    "custom_field",
    "is_known_field",
    "lookup_field",
    "require_now",
    "shape_of",
]

INT64_BOUND = 2**63
"""Whole numbers must lie in ``[-INT64_BOUND, INT64_BOUND)``: what SQL stores exactly."""

CUSTOM_PREFIX = "custom."
"""Custom fields are named ``custom.<name>``; ``<name>`` is a key of ``Contact.custom``."""


class FieldType(StrEnum):
    """The declared type of a custom field."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


class ValueKind(StrEnum):
    """What a field holds, which decides its operators and how values are compared."""

    TEXT = "text"
    """A string compared case-insensitively (see :mod:`omnimsg.segments.casefold`)."""
    KEYWORD = "keyword"
    """A string compared exactly: ids, phone numbers, agent ids."""
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TAGS = "tags"
    """A set of labels, compared exactly."""
    CHANNELS = "channels"
    """The set of channel kinds a contact has an identity on."""
    CHANNEL = "channel"
    """One channel kind (the last interacted channel)."""
    CONVERSATION_STATUS = "conversation_status"
    COUNTRY = "country"
    """An ISO 3166 alpha-2 region code, upper case."""
    SUBSCRIPTION = "subscription"
    """A subscription status with one sender; never missing (absent means not asked)."""


class Operator(StrEnum):
    """A condition's operator. Values are the strings used in segment JSON."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    HAS_ANY = "has_any"
    HAS_ALL = "has_all"
    HAS_NONE = "has_none"
    HAS_CHANNEL = "has_channel"
    LAST_INTERACTED_CHANNEL_IS = "last_interacted_channel_is"
    PHONE_COUNTRY_IS = "phone_country_is"
    BEFORE = "before"
    AFTER = "after"
    WITHIN_LAST = "within_last"
    MORE_THAN_AGO = "more_than_ago"


class ValueShape(StrEnum):
    """The JSON shape of a condition's ``value`` for an operator."""

    NONE = "none"
    """No value (``is_set``, ``is_not_set``)."""
    SCALAR = "scalar"
    """One value of the field's element type."""
    LIST = "list"
    """A non-empty list of values."""
    SCALAR_OR_LIST = "scalar_or_list"
    """One value or a non-empty list (read as "any of")."""
    RANGE = "range"
    """``[low, high]``, both included."""
    PERIOD = "period"
    """``{"amount": 7, "unit": "days"}``."""


_SHAPES: Mapping[Operator, ValueShape] = MappingProxyType(
    {
        Operator.EQUALS: ValueShape.SCALAR,
        Operator.NOT_EQUALS: ValueShape.SCALAR,
        Operator.IN: ValueShape.LIST,
        Operator.NOT_IN: ValueShape.LIST,
        Operator.CONTAINS: ValueShape.SCALAR,
        Operator.NOT_CONTAINS: ValueShape.SCALAR,
        Operator.STARTS_WITH: ValueShape.SCALAR,
        Operator.IS_SET: ValueShape.NONE,
        Operator.IS_NOT_SET: ValueShape.NONE,
        Operator.GT: ValueShape.SCALAR,
        Operator.GTE: ValueShape.SCALAR,
        Operator.LT: ValueShape.SCALAR,
        Operator.LTE: ValueShape.SCALAR,
        Operator.BETWEEN: ValueShape.RANGE,
        Operator.HAS_ANY: ValueShape.LIST,
        Operator.HAS_ALL: ValueShape.LIST,
        Operator.HAS_NONE: ValueShape.LIST,
        Operator.HAS_CHANNEL: ValueShape.SCALAR,
        Operator.LAST_INTERACTED_CHANNEL_IS: ValueShape.SCALAR_OR_LIST,
        Operator.PHONE_COUNTRY_IS: ValueShape.SCALAR_OR_LIST,
        Operator.BEFORE: ValueShape.SCALAR,
        Operator.AFTER: ValueShape.SCALAR,
        Operator.WITHIN_LAST: ValueShape.PERIOD,
        Operator.MORE_THAN_AGO: ValueShape.PERIOD,
    }
)


def shape_of(op: Operator) -> ValueShape:
    """The JSON shape of ``value`` for ``op``."""
    return _SHAPES[op]


NEGATIONS: Mapping[Operator, Operator] = MappingProxyType(
    {
        Operator.NOT_EQUALS: Operator.EQUALS,
        Operator.NOT_IN: Operator.IN,
        Operator.NOT_CONTAINS: Operator.CONTAINS,
        Operator.IS_NOT_SET: Operator.IS_SET,
        Operator.HAS_NONE: Operator.HAS_ANY,
    }
)
"""Each negative operator and the positive one it is the exact complement of.

A negative condition holds exactly when its positive twin does not, missing values
included: ``not_equals`` keeps contacts whose value is missing.
"""

_O = Operator

COMPARISONS: Mapping[Operator, str] = MappingProxyType(
    {
        _O.GT: ">",
        _O.GTE: ">=",
        _O.LT: "<",
        _O.LTE: "<=",
        _O.BEFORE: "<",
        _O.AFTER: ">",
        _O.MORE_THAN_AGO: "<",
    }
)
"""Operators that compare a field's value with one bound: ``value <symbol> bound``.

The bound is the condition's value, or for ``more_than_ago`` the period's cutoff before
``now``. Both compilers read this table, so an ordering means the same in Python and SQL.
"""

MEMBERSHIP: frozenset[Operator] = frozenset(
    (_O.IN, _O.LAST_INTERACTED_CHANNEL_IS, _O.PHONE_COUNTRY_IS)
)
"""Operators on a single value that hold when the value is one of the condition's list."""

_STRING_OPS = (
    _O.EQUALS,
    _O.NOT_EQUALS,
    _O.IN,
    _O.NOT_IN,
    _O.CONTAINS,
    _O.NOT_CONTAINS,
    _O.STARTS_WITH,
    _O.IS_SET,
    _O.IS_NOT_SET,
)
_CHOICE_OPS = (_O.EQUALS, _O.NOT_EQUALS, _O.IN, _O.NOT_IN, _O.IS_SET, _O.IS_NOT_SET)
_SET_OPS = (_O.CONTAINS, _O.NOT_CONTAINS, _O.HAS_ANY, _O.HAS_ALL, _O.HAS_NONE)

OPERATORS_BY_KIND: Mapping[ValueKind, tuple[Operator, ...]] = MappingProxyType(
    {
        ValueKind.TEXT: _STRING_OPS,
        ValueKind.KEYWORD: _STRING_OPS,
        ValueKind.NUMBER: (
            _O.EQUALS,
            _O.NOT_EQUALS,
            _O.IN,
            _O.NOT_IN,
            _O.GT,
            _O.GTE,
            _O.LT,
            _O.LTE,
            _O.BETWEEN,
            _O.IS_SET,
            _O.IS_NOT_SET,
        ),
        ValueKind.BOOLEAN: (_O.EQUALS, _O.NOT_EQUALS, _O.IS_SET, _O.IS_NOT_SET),
        ValueKind.DATETIME: (
            _O.BEFORE,
            _O.AFTER,
            _O.GT,
            _O.GTE,
            _O.LT,
            _O.LTE,
            _O.BETWEEN,
            _O.WITHIN_LAST,
            _O.MORE_THAN_AGO,
            _O.IS_SET,
            _O.IS_NOT_SET,
        ),
        ValueKind.TAGS: (*_SET_OPS, _O.IS_SET, _O.IS_NOT_SET),
        ValueKind.CHANNELS: (_O.HAS_CHANNEL, *_SET_OPS, _O.IS_SET, _O.IS_NOT_SET),
        ValueKind.CHANNEL: (*_CHOICE_OPS, _O.LAST_INTERACTED_CHANNEL_IS),
        ValueKind.CONVERSATION_STATUS: _CHOICE_OPS,
        ValueKind.COUNTRY: (*_CHOICE_OPS, _O.PHONE_COUNTRY_IS),
        ValueKind.SUBSCRIPTION: (_O.EQUALS, _O.NOT_EQUALS, _O.IN, _O.NOT_IN),
    }
)
"""The operators each kind of field accepts; anything else is a validation error."""


class PeriodUnit(StrEnum):
    """The unit of a relative period (``within_last``, ``more_than_ago``).

    Hours are elapsed time; days, weeks and months are calendar periods counted on the
    wall clock of ``now``'s time zone (python-dateutil ``relativedelta``).
    """

    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


PERIOD_LIMITS: Mapping[PeriodUnit, int] = MappingProxyType(
    {
        PeriodUnit.HOURS: 24 * 366 * 200,
        PeriodUnit.DAYS: 366 * 200,
        PeriodUnit.WEEKS: 53 * 200,
        PeriodUnit.MONTHS: 12 * 200,
    }
)
"""The largest amount accepted per unit: about two centuries, far beyond any audience."""


def require_now(now: object, where: str) -> datetime:
    """Check the ``now`` a segment is compiled against and return it.

    Raises :class:`~omnimsg.errors.InputError` naming ``where`` and ``now`` when it is
    not a ``datetime`` (a ``date``, a string, ``None``) or its tzinfo fails when asked
    for its offset, and :class:`~omnimsg.errors.NaiveDatetimeError` when it has no UTC
    offset (no tzinfo, or a tzinfo whose ``utcoffset()`` is ``None``).
    """
    if not isinstance(now, datetime):
        raise InputError(
            f"{where}: now must be a timezone-aware datetime, got {type(now).__name__}"
        )
    return require_aware(now, f"{where}: now")


def _period_unit(value: object) -> PeriodUnit:
    if isinstance(value, PeriodUnit):
        return value
    if isinstance(value, str) and value in _UNIT_VALUES:
        return PeriodUnit(value)
    shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
    raise SegmentError(f"period unit: expected one of {', '.join(_UNIT_VALUES)}, got {shown}")


_UNIT_VALUES = tuple(unit.value for unit in PeriodUnit)


@attrs.frozen
class Period:
    """A relative period such as "7 days", resolved against ``now`` when compiled.

    ``amount`` is a whole number from 1 to :data:`PERIOD_LIMITS` of ``unit`` (a
    :class:`PeriodUnit` or its value). Raises :class:`~omnimsg.errors.SegmentError`
    for anything else, so every period can be resolved and described.
    """

    amount: int
    unit: PeriodUnit = attrs.field(converter=_period_unit)

    def __attrs_post_init__(self) -> None:
        amount: object = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise SegmentError(
                f"period amount: expected a whole number, got {type(amount).__name__}"
            )
        limit = PERIOD_LIMITS[self.unit]
        if not 1 <= amount <= limit:
            raise SegmentError(f"expected 1 to {limit} {self.unit.value}")

    def cutoff(self, now: datetime) -> datetime:
        """The instant ``amount`` ``unit`` before ``now``, in UTC.

        Hours are elapsed time. Days, weeks and months are calendar periods on the wall
        clock of ``now``'s time zone (so "1 day" across a DST change is 23 or 25 hours).
        Raises :class:`~omnimsg.errors.InputError` when ``now`` is not a datetime,
        :class:`~omnimsg.errors.NaiveDatetimeError` for a naive ``now`` and
        :class:`~omnimsg.errors.SegmentError` when the result is not a representable date.
        """
        require_now(now, f"period {self.describe()}")
        try:
            if self.unit is PeriodUnit.HOURS:
                return now.astimezone(UTC) - relativedelta(hours=self.amount)
            delta = {
                PeriodUnit.DAYS: relativedelta(days=self.amount),
                PeriodUnit.WEEKS: relativedelta(weeks=self.amount),
                PeriodUnit.MONTHS: relativedelta(months=self.amount),
            }[self.unit]
            return (now - delta).astimezone(UTC)
        except (OverflowError, ValueError):
            raise SegmentError(
                f"{self.describe()} before now={now.isoformat()} is outside the range of dates"
            ) from None

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """``(cutoff, now)`` in UTC: the instants ``within_last`` this period spans.

        Raises like :meth:`cutoff`; also :class:`~omnimsg.errors.SegmentError` when
        ``now`` itself has no UTC equivalent (year 9999 late in the day west of UTC).
        """
        cutoff = self.cutoff(now)
        try:
            return cutoff, now.astimezone(UTC)
        except OverflowError:
            raise SegmentError(
                f"within the last {self.describe()}: now={now.isoformat()} "
                "is outside the range of UTC dates"
            ) from None

    def describe(self) -> str:
        """``"7 days"``, ``"1 hour"``."""
        if self.amount == 1:
            return f"1 {self.unit.value[:-1]}"
        return f"{self.amount} {self.unit.value}"

    def to_dict(self) -> dict[str, Any]:
        """The period as segment JSON: ``{"amount": 7, "unit": "days"}``."""
        return {"amount": self.amount, "unit": self.unit.value}


@attrs.frozen
class FieldSpec:
    """One field a condition can test.

    ``attribute`` is the :class:`~omnimsg.contacts.Contact` attribute a standard field
    reads (``None`` for derived and custom fields); ``custom_name`` is the key in
    ``Contact.custom`` for a custom field. ``optional`` says whether a contact can lack
    a value, which is what ``is_set`` and ``is_not_set`` test: only ``id`` and
    ``subscription`` never do. For ``tags`` and ``channels`` the empty set counts as
    missing.
    """

    name: str
    kind: ValueKind
    label: str
    attribute: str | None = None
    custom_name: str | None = None
    custom_type: FieldType | None = None
    optional: bool = True

    @property
    def operators(self) -> tuple[Operator, ...]:
        """The operators this field accepts."""
        ops = OPERATORS_BY_KIND[self.kind]
        if self.optional:
            return ops
        return tuple(op for op in ops if op not in (Operator.IS_SET, Operator.IS_NOT_SET))


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _standard(
    name: str, kind: ValueKind, label: str, attribute: str | None = None, *, optional: bool = True
) -> FieldSpec:
    if attribute is not None and not _IDENTIFIER.fullmatch(attribute):
        raise AssertionError(f"{attribute!r} is not a plain identifier")
    return FieldSpec(name=name, kind=kind, label=label, attribute=attribute, optional=optional)


_K = ValueKind
STANDARD_FIELDS: Mapping[str, FieldSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _standard("id", _K.KEYWORD, "ID", "id", optional=False),
            _standard("first_name", _K.TEXT, "first name", "first_name"),
            _standard("last_name", _K.TEXT, "last name", "last_name"),
            _standard("email", _K.TEXT, "e-mail", "email"),
            _standard("phone", _K.KEYWORD, "phone", "phone"),
            _standard("phone_country", _K.COUNTRY, "phone country", "phone_region"),
            _standard("language", _K.TEXT, "language", "language"),
            _standard("lifecycle", _K.TEXT, "lifecycle", "lifecycle"),
            _standard("tags", _K.TAGS, "tags", "tags"),
            _standard("assignee", _K.KEYWORD, "assignee", "assignee"),
            _standard(
                "conversation_status",
                _K.CONVERSATION_STATUS,
                "conversation status",
                "conversation_status",
            ),
            _standard(
                "last_interacted_channel",
                _K.CHANNEL,
                "last interacted channel",
                "last_interacted_channel",
            ),
            _standard("created_at", _K.DATETIME, "created at", "created_at"),
            _standard("channels", _K.CHANNELS, "channels", "channels"),
            _standard("last_inbound_at", _K.DATETIME, "last inbound message"),
            _standard("subscription", _K.SUBSCRIPTION, "subscription", optional=False),
        )
    }
)
"""The fields every contact has, by the name used in segment JSON.

``last_inbound_at`` is the latest ``last_inbound_at`` over all of a contact's channel
identities. ``subscription`` needs a ``sender`` (a channel account id) next to it.
"""

_CUSTOM_KINDS: Mapping[FieldType, ValueKind] = MappingProxyType(
    {
        FieldType.STRING: ValueKind.TEXT,
        FieldType.NUMBER: ValueKind.NUMBER,
        FieldType.BOOLEAN: ValueKind.BOOLEAN,
        FieldType.DATETIME: ValueKind.DATETIME,
    }
)


def custom_field(name: str, field_type: FieldType) -> FieldSpec:
    """The :class:`FieldSpec` of custom field ``name`` (without the ``custom.`` prefix)."""
    return FieldSpec(
        name=CUSTOM_PREFIX + name,
        kind=_CUSTOM_KINDS[field_type],
        label=name,
        custom_name=name,
        custom_type=field_type,
    )


def lookup_field(name: str, custom_fields: Mapping[str, FieldType]) -> FieldSpec | None:
    """The field called ``name`` in segment JSON, or ``None`` when there is none."""
    spec = STANDARD_FIELDS.get(name)
    if spec is not None:
        return spec
    if name.startswith(CUSTOM_PREFIX):
        custom_name = name[len(CUSTOM_PREFIX) :]
        field_type = custom_fields.get(custom_name)
        if field_type is not None:
            return custom_field(custom_name, field_type)
    return None


def is_known_field(spec: object) -> bool:
    """Whether ``spec`` is a standard field or a well-formed custom field.

    The compilers check hand-built conditions with it, so only the fields of this
    module reach generated code or SQL.
    """
    if not isinstance(spec, FieldSpec) or not isinstance(spec.name, str):
        return False
    name, field_type = spec.custom_name, spec.custom_type
    if isinstance(name, str) and isinstance(field_type, FieldType):
        return spec == custom_field(name, field_type)
    return STANDARD_FIELDS.get(spec.name) == spec
