"""Compiling a segment into a fast Python predicate over :class:`~omnimsg.contacts.Contact`.

A validated segment is turned into the source of one small function, compiled once
(the way attrs writes ``__init__``) and then called per contact. Relative periods are
resolved once, against the ``now`` given at compile time. Only trusted text goes into
the source: attribute names from the whitelist of standard fields, operators, and
generated names. Every value (strings, numbers, custom field names, senders, cutoff
instants) is bound as a constant in the namespace the source runs in, never pasted
into it, so no segment can inject code.

This module owns the meaning of each operator on a contact, missing values included;
:mod:`omnimsg.segments.sql` must agree with it exactly (the property tests check).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TypeAlias, overload

import attrs

from omnimsg._time import require_aware
from omnimsg.contacts import Contact, CustomValue
from omnimsg.errors import InputError
from omnimsg.policy.optin import SubscriptionStatus
from omnimsg.segments.casefold import fold_case
from omnimsg.segments.fields import (
    NEGATIONS,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    Period,
    ValueKind,
)
from omnimsg.segments.model import AllGroup, AnyGroup, Condition, Node, NotGroup, Segment

__all__ = [
    "ContactPredicate",
    "compile_segment",
    "custom_value_type",
    "filter_contacts",
    "last_inbound_at",
    "predicate_source",
]

ContactPredicate: TypeAlias = Callable[[Contact], bool]
"""A compiled segment: ``True`` for the contacts that are in it."""

_ATTRIBUTES = frozenset(spec.attribute for spec in STANDARD_FIELDS.values() if spec.attribute)
_NUMBER_TYPES = frozenset((int, float))


def custom_value_type(value: CustomValue | object) -> FieldType | None:
    """The type a custom value counts as, or ``None`` when it counts as missing.

    ``bool`` is boolean (never a number), ``int``/``float`` are numbers except NaN,
    ``str`` is a string, an aware ``datetime`` a datetime. Anything else, ``None`` and
    NaN are missing. A condition on a custom field reads a value of another type as
    missing; the SQL loader stores values by this same rule.
    """
    if value is True or value is False:
        return FieldType.BOOLEAN
    if value.__class__ in _NUMBER_TYPES:
        return None if isinstance(value, float) and math.isnan(value) else FieldType.NUMBER
    if isinstance(value, str):
        return FieldType.STRING
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return FieldType.DATETIME
    return None


def last_inbound_at(contact: Contact) -> datetime | None:
    """The latest ``last_inbound_at`` over the contact's identities, in UTC, or ``None``."""
    latest: datetime | None = None
    for identity in contact.identities:
        at = identity.last_inbound_at
        if at is not None:
            # Compare in UTC: two datetimes sharing a zoneinfo tzinfo compare by wall
            # clock, which is wrong inside a DST fold.
            at = at.astimezone(UTC)
            if latest is None or at > latest:
                latest = at
    return latest


_HELPERS: Mapping[str, object] = MappingProxyType(
    {
        "_fold": fold_case,
        "_last_inbound": last_inbound_at,
        "_NUMBER": _NUMBER_TYPES,
        "_str": str,
        "_datetime": datetime,
        "_isinstance": isinstance,
        "_bool": bool,
        "_NOT_ASKED": SubscriptionStatus.NOT_ASKED,
    }
)

_O = Operator
_ORDER: Mapping[Operator, str] = MappingProxyType(
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
_MEMBERSHIP = frozenset(
    (_O.IN, _O.LAST_INTERACTED_CHANNEL_IS, _O.PHONE_COUNTRY_IS, _O.HAS_ANY, _O.HAS_ALL)
)
_SETS = frozenset((ValueKind.TAGS, ValueKind.CHANNELS))


@attrs.define
class _Source:
    """The source text being written and the constants it refers to."""

    now: datetime
    namespace: dict[str, object] = attrs.field(factory=lambda: dict(_HELPERS))
    count: int = 0

    def const(self, value: object) -> str:
        name = f"_k{self.count}"
        self.count += 1
        self.namespace[name] = value
        return name

    def local(self) -> str:
        name = f"_v{self.count}"
        self.count += 1
        return name

    def node(self, node: Node) -> str:
        if isinstance(node, Condition):
            return self.condition(node)
        if isinstance(node, NotGroup):
            return f"not {self.node(node.child)}"
        if not isinstance(node, AllGroup | AnyGroup) or not node.children:
            raise ValueError(f"not a valid segment node: {node!r}")
        joiner = " and " if isinstance(node, AllGroup) else " or "
        return "(" + joiner.join(self.node(child) for child in node.children) + ")"

    def condition(self, condition: Condition) -> str:
        positive = NEGATIONS.get(condition.op)
        if positive is not None:
            return f"not {self.positive(condition, positive)}"
        return self.positive(condition, condition.op)

    def access(self, spec: FieldSpec, sender: str | None) -> str:
        if spec.custom_name is not None:
            return f"c.custom.get({self.const(spec.custom_name)})"
        if spec.name == "last_inbound_at":
            return "_last_inbound(c)"
        if spec.kind is ValueKind.SUBSCRIPTION:
            return f"c.subscriptions.get({self.const(sender)}, _NOT_ASKED)"
        if spec.attribute not in _ATTRIBUTES or STANDARD_FIELDS.get(spec.name) != spec:
            raise ValueError(f"field {spec.name!r} is not a known contact field")
        return f"c.{spec.attribute}"

    def present(self, spec: FieldSpec, access: str, var: str) -> str:
        """An expression binding ``var`` and true when the value counts as present."""
        bound = f"({var} := {access})"
        if spec.custom_type is FieldType.NUMBER:
            return f"{bound}.__class__ in _NUMBER"
        if spec.custom_type is FieldType.BOOLEAN:
            return f"{bound}.__class__ is _bool"
        if spec.custom_type is FieldType.STRING:
            return f"_isinstance({bound}, _str)"
        if spec.custom_type is FieldType.DATETIME:
            return f"_isinstance({bound}, _datetime) and {var}.utcoffset() is not None"
        return f"{bound} is not None"

    def positive(self, condition: Condition, op: Operator) -> str:
        spec, value = condition.field, condition.value
        access = self.access(spec, condition.sender)
        if spec.kind in _SETS:
            return self.collection(access, op, value)
        var = self.local()
        present = self.present(spec, access, var)
        if op is _O.IS_SET:
            if spec.custom_type is FieldType.NUMBER:
                return f"({present} and {var} == {var})"
            return f"({present})"
        subject = f"_fold({var})" if spec.kind is ValueKind.TEXT else var
        test = self.test(spec, op, value, subject)
        return f"({present} and {test})"

    def fold(self, spec: FieldSpec, value: object) -> object:
        if spec.kind is ValueKind.TEXT and isinstance(value, str):
            return fold_case(value)
        return value

    def test(self, spec: FieldSpec, op: Operator, value: object, subject: str) -> str:
        if op in _ORDER:
            bound = value.cutoff(self.now) if isinstance(value, Period) else value
            return f"{subject} {_ORDER[op]} {self.const(bound)}"
        if op is _O.EQUALS:
            symbol = "is" if spec.kind is ValueKind.BOOLEAN else "=="
            return f"{subject} {symbol} {self.const(self.fold(spec, value))}"
        if op in _MEMBERSHIP and isinstance(value, tuple):
            members = frozenset(self.fold(spec, item) for item in value)
            return f"{subject} in {self.const(members)}"
        if op is _O.CONTAINS:
            return f"{self.const(self.fold(spec, value))} in {subject}"
        if op is _O.STARTS_WITH:
            return f"{subject}.startswith({self.const(self.fold(spec, value))})"
        if op is _O.BETWEEN and isinstance(value, tuple):
            low, high = value
            return f"{self.const(low)} <= {subject} <= {self.const(high)}"
        if op is _O.WITHIN_LAST and isinstance(value, Period):
            cutoff = value.cutoff(self.now)
            return f"{self.const(cutoff)} <= {subject} <= {self.const(self.now.astimezone(UTC))}"
        raise ValueError(f"operator {op.value} does not apply to field {spec.name}")

    def collection(self, access: str, op: Operator, value: object) -> str:
        if op is _O.IS_SET:
            return f"_bool({access})"
        if op in (_O.CONTAINS, _O.HAS_CHANNEL):
            return f"({self.const(value)} in {access})"
        if isinstance(value, tuple):
            members = self.const(frozenset(value))
            if op is _O.HAS_ANY:
                return f"(not {members}.isdisjoint({access}))"
            if op is _O.HAS_ALL:
                return f"({members} <= {access})"
        raise ValueError(f"operator {op.value} does not apply to a set of values")


def _generate(segment: Segment, now: datetime) -> tuple[str, dict[str, object]]:
    require_aware(now, "now")
    source = _Source(now=now)
    body = source.node(segment.root)
    return f"def _segment_predicate(c):\n    return {body}\n", source.namespace


def predicate_source(segment: Segment, *, now: datetime) -> str:
    """The Python source :func:`compile_segment` generates for ``segment``, for debugging."""
    return _generate(segment, now)[0]


def compile_segment(segment: Segment, *, now: datetime) -> ContactPredicate:
    """Compile ``segment`` into a predicate ``Contact -> bool``.

    Relative periods (``within_last``, ``more_than_ago``) are resolved once against
    ``now``. Raises :class:`~omnimsg.errors.NaiveDatetimeError` for a naive ``now`` and
    :class:`~omnimsg.errors.SegmentError` when a period reaches outside the datetime
    range.
    """
    source, namespace = _generate(segment, now)
    exec(compile(source, "<omnimsg segment>", "exec"), namespace)
    predicate: ContactPredicate = namespace["_segment_predicate"]  # type: ignore[assignment]
    return predicate


@overload
def filter_contacts(
    segment: Segment, contacts: Iterable[Contact], *, now: datetime
) -> Iterator[Contact]: ...
@overload
def filter_contacts(
    segment: ContactPredicate, contacts: Iterable[Contact], *, now: datetime | None = None
) -> Iterator[Contact]: ...
def filter_contacts(
    segment: Segment | ContactPredicate,
    contacts: Iterable[Contact],
    *,
    now: datetime | None = None,
) -> Iterator[Contact]:
    """Lazily yield the contacts that are in the segment (SPEC A1, A2).

    ``segment`` is a :class:`~omnimsg.segments.model.Segment` (compiled here, once,
    against ``now``, which is then required) or a predicate from
    :func:`compile_segment`. ``contacts`` is consumed one at a time, so it may be a
    generator over a large export.
    """
    if isinstance(segment, Segment):
        if now is None:
            raise InputError("filter_contacts: now= is required to compile a segment")
        predicate = compile_segment(segment, now=now)
    else:
        predicate = segment
    return filter(predicate, contacts)
