"""Compiling a segment into a fast Python predicate over :class:`~omnimsg.contacts.Contact`.

A validated segment is turned into the source of one small function, compiled once
(the way attrs writes ``__init__``) and then called per contact. Relative periods are
resolved once, against the ``now`` given at compile time. Only trusted text goes into
the source: attribute names from the whitelist of standard fields, operators, and
generated names. Every value (strings, numbers, custom field names, senders, cutoff
instants) is bound as a constant in the namespace the source runs in, never pasted
into it, so no segment can inject code.

This module owns the meaning of each operator on a contact, missing values included,
and the rule for when a custom value counts as its declared type;
:mod:`omnimsg.segments.sql` must agree with it exactly (the property tests check). The
comparisons both compilers share (:data:`~omnimsg.segments.fields.COMPARISONS`,
:data:`~omnimsg.segments.fields.MEMBERSHIP`) are tables in :mod:`omnimsg.segments.fields`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TypeAlias, overload

import attrs

from omnimsg.contacts import Contact, CustomValue
from omnimsg.errors import InputError, SegmentError
from omnimsg.policy.optin import SubscriptionStatus
from omnimsg.segments.casefold import fold_case
from omnimsg.segments.fields import (
    COMPARISONS,
    MEMBERSHIP,
    NEGATIONS,
    STANDARD_FIELDS,
    FieldSpec,
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
        "_NUMBER": frozenset((int, float)),
        "_str": str,
        "_datetime": datetime,
        "_isinstance": isinstance,
        "_bool": bool,
        "_NOT_ASKED": SubscriptionStatus.NOT_ASKED,
    }
)

_COUNTS_AS: Mapping[FieldType, str] = MappingProxyType(
    {
        FieldType.NUMBER: "{first}.__class__ in _NUMBER and {v} == {v}",
        FieldType.BOOLEAN: "{first}.__class__ is _bool",
        FieldType.STRING: "_isinstance({first}, _str)",
        FieldType.DATETIME: "_isinstance({first}, _datetime) and {v}.utcoffset() is not None",
    }
)
"""When a custom value counts as each type, as a Python expression over ``{v}``.

This is the one statement of the rule: generated predicates inline it (``{first}``
is where the value is read), and :func:`custom_value_type` evaluates the same text.
``bool`` is never a number and NaN (``v != v``) is no number at all.
"""

_TYPE_TESTS: tuple[tuple[FieldType, Callable[[object], bool]], ...] = tuple(
    (field_type, eval(f"lambda v: {test.format(first='v', v='v')}", dict(_HELPERS)))
    for field_type, test in _COUNTS_AS.items()
)


def custom_value_type(value: CustomValue | object) -> FieldType | None:
    """The type a custom value counts as, or ``None`` when it counts as missing.

    ``bool`` is boolean (never a number), ``int``/``float`` are numbers except NaN,
    ``str`` is a string, an aware ``datetime`` a datetime. Anything else, ``None`` and
    NaN are missing. A condition on a custom field reads a value of another type as
    missing; the SQL loader stores values by this same rule.
    """
    for field_type, counts in _TYPE_TESTS:
        if counts(value):
            return field_type
    return None


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
        if not isinstance(node, AllGroup | AnyGroup):
            raise SegmentError(f"not a valid segment node: {node_name(node)}")
        if not node.children:
            raise SegmentError(f"{node_name(node)}: a group needs at least one node")
        joiner = " and " if isinstance(node, AllGroup) else " or "
        return "(" + joiner.join(self.node(child) for child in node.children) + ")"

    def condition(self, condition: Condition) -> str:
        spec, op = condition.field, condition.op
        if not is_known_field(spec):
            raise SegmentError(f"{node_name(condition)}: not a known contact field")
        if op not in spec.operators:
            raise SegmentError(
                f"{node_name(condition)}: the operator does not apply to {spec.name}"
            )
        positive = NEGATIONS.get(op)
        if positive is not None:
            return f"not {self.positive(condition, positive)}"
        return self.positive(condition, op)

    def access(self, condition: Condition) -> str:
        spec = condition.field
        if spec.custom_name is not None:
            return f"c.custom.get({self.const(spec.custom_name)})"
        if spec.name == "last_inbound_at":
            return "_last_inbound(c)"
        if spec.kind is ValueKind.SUBSCRIPTION:
            return f"c.subscriptions.get({self.const(condition.sender)}, _NOT_ASKED)"
        if spec.attribute not in _ATTRIBUTES:
            raise SegmentError(f"{node_name(condition)}: not a known contact field")
        return f"c.{spec.attribute}"

    def present(self, spec: FieldSpec, access: str, var: str) -> str:
        """An expression binding ``var`` and true when the value counts as present."""
        bound = f"({var} := {access})"
        if spec.custom_type is not None:
            return _COUNTS_AS[spec.custom_type].format(first=bound, v=var)
        return f"{bound} is not None"

    def positive(self, condition: Condition, op: Operator) -> str:
        spec, value = condition.field, condition.value
        access = self.access(condition)
        if spec.kind in _SETS:
            return self.collection(condition, access, op)
        var = self.local()
        present = self.present(spec, access, var)
        if op is Operator.IS_SET:
            return f"({present})"
        subject = f"_fold({var})" if spec.kind is ValueKind.TEXT else var
        test = self.test(condition, op, value, subject)
        return f"({present} and {test})"

    def fold(self, spec: FieldSpec, value: object) -> object:
        if spec.kind is ValueKind.TEXT and isinstance(value, str):
            return fold_case(value)
        return value

    def test(self, condition: Condition, op: Operator, value: object, subject: str) -> str:
        spec = condition.field
        if op in COMPARISONS:
            bound = value.cutoff(self.now) if isinstance(value, Period) else value
            return f"{subject} {COMPARISONS[op]} {self.const(bound)}"
        if op is Operator.EQUALS:
            symbol = "is" if spec.kind is ValueKind.BOOLEAN else "=="
            return f"{subject} {symbol} {self.const(self.fold(spec, value))}"
        if op in MEMBERSHIP and isinstance(value, tuple):
            members = frozenset(self.fold(spec, item) for item in value)
            return f"{subject} in {self.const(members)}"
        if op is Operator.CONTAINS and isinstance(value, str):
            return f"{self.const(self.fold(spec, value))} in {subject}"
        if op is Operator.STARTS_WITH and isinstance(value, str):
            return f"{subject}.startswith({self.const(self.fold(spec, value))})"
        if op is Operator.BETWEEN and isinstance(value, tuple):
            low, high = value
            return f"{self.const(low)} <= {subject} <= {self.const(high)}"
        if op is Operator.WITHIN_LAST and isinstance(value, Period):
            cutoff, now = value.window(self.now)
            return f"{self.const(cutoff)} <= {subject} <= {self.const(now)}"
        raise SegmentError(f"{node_name(condition)}: the value {value!r} does not fit the operator")

    def collection(self, condition: Condition, access: str, op: Operator) -> str:
        value = condition.value
        if op is Operator.IS_SET:
            return f"_bool({access})"
        if op in (Operator.CONTAINS, Operator.HAS_CHANNEL):
            return f"({self.const(value)} in {access})"
        if isinstance(value, tuple):
            members = self.const(frozenset(value))
            if op is Operator.HAS_ANY:
                return f"(not {members}.isdisjoint({access}))"
            if op is Operator.HAS_ALL:
                return f"({members} <= {access})"
        raise SegmentError(f"{node_name(condition)}: the value {value!r} does not fit the operator")


def _generate(segment: Segment, now: datetime, where: str) -> tuple[str, dict[str, object]]:
    require_now(now, where)
    if not isinstance(segment, Segment):
        raise SegmentError(
            f"{where}: expected a Segment (from parse_segment), got {type(segment).__name__}"
        )
    source = _Source(now=now)
    body = source.node(segment.root)
    return f"def _segment_predicate(c):\n    return {body}\n", source.namespace


def predicate_source(segment: Segment, *, now: datetime) -> str:
    """The Python source :func:`compile_segment` generates for ``segment``, for debugging."""
    return _generate(segment, now, "predicate_source")[0]


def compile_segment(segment: Segment, *, now: datetime) -> ContactPredicate:
    """Compile ``segment`` into a predicate ``Contact -> bool``.

    Relative periods (``within_last``, ``more_than_ago``) are resolved once against
    ``now``. Raises :class:`~omnimsg.errors.InputError` when ``now`` is not a
    datetime, :class:`~omnimsg.errors.NaiveDatetimeError` for a naive ``now``, and
    :class:`~omnimsg.errors.SegmentError` when a period (or ``now`` itself) reaches
    outside the range of UTC dates, or when a hand-built segment holds an invalid node.
    """
    return _compile(segment, now, "compile_segment")


def _compile(segment: Segment, now: datetime, where: str) -> ContactPredicate:
    source, namespace = _generate(segment, now, where)
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
    generator over a large export. Raises like :func:`compile_segment`.
    """
    if isinstance(segment, Segment):
        if now is None:
            raise InputError("filter_contacts: now= is required to compile a segment")
        predicate = _compile(segment, now, "filter_contacts")
    else:
        predicate = segment
    return filter(predicate, contacts)
