"""The one walk over a segment, shared by everything that reads one.

This module owns the structure of a segment as code sees it: the ``all``/``any``/
``not`` nesting, the depth limit (:data:`~omnimsg.segments.model.MAX_DEPTH`), the
check of every hand-built condition (known field, an operator of that field, a value
of the right type and shape, see :mod:`omnimsg.segments.values`), and for compilers
the meaning of each operator reduced to a few :class:`Check` kinds, with relative
periods resolved against ``now`` and text constants case-folded. The Python compiler,
the SQL compiler, :meth:`~omnimsg.segments.Segment.describe` and
:meth:`~omnimsg.segments.Segment.to_dict` only *emit*: each is an :class:`Emitter`
(or a :class:`Backend` for compilers) and never walks or checks by itself.

The walk keeps its own stack, so a hand-built segment of any depth ends in a
:class:`~omnimsg.errors.SegmentError` at :data:`~omnimsg.segments.model.MAX_DEPTH`,
after time linear in the nodes visited, never in a ``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar

import attrs

from omnimsg.errors import SegmentError
from omnimsg.segments.casefold import fold_case
from omnimsg.segments.fields import (
    COMPARISONS,
    MEMBERSHIP,
    NEGATIONS,
    FieldSpec,
    Operator,
    Period,
    ValueKind,
    is_known_field,
    require_now,
)
from omnimsg.segments.model import (
    MAX_DEPTH,
    AllGroup,
    AnyGroup,
    Condition,
    NotGroup,
    Segment,
    node_name,
)
from omnimsg.segments.values import ValueProblem, read_sender, read_value, text_problem

__all__ = [
    "MAX_TERMS",
    "SETS",
    "Backend",
    "Check",
    "Emitter",
    "Test",
    "check_condition",
    "compile_tree",
    "resolve",
    "walk",
]

MAX_TERMS = 10_000
"""The most terms a segment may compile to: one per condition plus one per value it
compares with (a list counts its items, a range or ``within_last`` two).

Each term costs SQL at most two bound parameters, so a segment within this limit stays
under SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement.
"""

SETS = frozenset((ValueKind.TAGS, ValueKind.CHANNELS))
"""Kinds whose value is a set of labels: tested for membership, empty counts as missing."""

T = TypeVar("T")


class Emitter(Protocol[T]):
    """What the walk calls: one method per kind of node, children already emitted."""

    def condition(self, condition: Condition) -> T:
        """A checked condition (its value normalised as :func:`read_value` returns it)."""
        ...

    def all_of(self, parts: Sequence[T]) -> T:
        """A group holding when every part holds (at least one part)."""
        ...

    def any_of(self, parts: Sequence[T]) -> T:
        """A group holding when at least one part holds (at least one part)."""
        ...

    def negate(self, part: T) -> T:
        """A group holding when ``part`` does not."""
        ...


@attrs.define
class _Frame(Generic[T]):
    """A group being walked: its children and the parts emitted for them so far."""

    node: AllGroup | AnyGroup | NotGroup
    children: Sequence[object]
    parts: list[T] = attrs.field(factory=list)

    def step(self) -> str:
        if isinstance(self.node, NotGroup):
            return "not"
        kind = "all" if isinstance(self.node, AllGroup) else "any"
        return f"{kind}[{len(self.parts)}]"


def _where(where: str, frames: Sequence[_Frame[T]]) -> str:
    path = ".".join(frame.step() for frame in frames)
    return f"{where}: {path}: " if path else f"{where}: "


def _children(node: AllGroup | AnyGroup | NotGroup) -> Sequence[object]:
    if isinstance(node, NotGroup):
        return (node.child,)
    children = node.children
    if not isinstance(children, tuple | list):
        raise SegmentError(f"{node_name(node)}: children must be a tuple of nodes")
    if not children:
        raise SegmentError(f"{node_name(node)}: a group needs at least one node")
    return children


def check_condition(condition: Condition) -> Condition:
    """``condition`` with its value normalised, or :class:`SegmentError` naming it.

    The field must be a standard or well-formed custom field, the operator one the
    field accepts, the value and sender what :mod:`omnimsg.segments.values` reads.
    """
    spec, op = condition.field, condition.op
    if not is_known_field(spec):
        raise SegmentError(f"{node_name(condition)}: not a known contact field")
    problem = None if spec.custom_name is None else text_problem(spec.custom_name)
    if problem is not None:
        raise SegmentError(f"{node_name(condition)}: a custom field name {problem}")
    if not isinstance(op, Operator) or op not in spec.operators:
        raise SegmentError(f"{node_name(condition)}: the operator does not apply to {spec.name}")
    try:
        sender = read_sender(spec, condition.sender)
    except ValueProblem as exc:
        raise SegmentError(f"{node_name(condition)}: sender: {exc}") from None
    try:
        value = read_value(spec, op, condition.value)
    except ValueProblem as exc:
        detail = "; ".join(f"value{path}: {message}" for path, message in exc.problems)
        raise SegmentError(
            f"{node_name(condition)}: the value does not fit the operator ({detail})"
        ) from None
    if value is condition.value and sender is condition.sender:
        return condition
    return Condition(field=spec, op=op, value=value, sender=sender)


def walk(root: object, emitter: Emitter[T], where: str) -> T:
    """Walk the tree under ``root`` depth first, in document order, and emit it.

    Raises :class:`~omnimsg.errors.SegmentError` naming ``where`` and the path of the
    node (``all[1].not``) for an object that is not a node, an empty group, a group
    deeper than :data:`~omnimsg.segments.model.MAX_DEPTH`, a condition that
    :func:`check_condition` refuses, or a ``SegmentError`` the emitter raises for a
    condition. Time is linear in the nodes visited.
    """
    frames: list[_Frame[T]] = []
    node = root
    while True:
        if isinstance(node, Condition):
            try:
                result = emitter.condition(check_condition(node))
            except SegmentError as exc:
                raise SegmentError(f"{_where(where, frames)}{exc}") from None
        elif isinstance(node, AllGroup | AnyGroup | NotGroup):
            if len(frames) >= MAX_DEPTH:
                raise SegmentError(
                    f"{_where(where, frames)}groups may nest at most {MAX_DEPTH} levels deep "
                    "(MAX_DEPTH)"
                )
            try:
                children = _children(node)
            except SegmentError as exc:
                raise SegmentError(f"{_where(where, frames)}{exc}") from None
            frame: _Frame[T] = _Frame(node, children)
            frames.append(frame)
            node = frame.children[0]
            continue
        else:
            raise SegmentError(
                f"{_where(where, frames)}not a valid segment node: {node_name(node)}"
            )
        while frames:
            frame = frames[-1]
            frame.parts.append(result)
            if len(frame.parts) < len(frame.children):
                node = frame.children[len(frame.parts)]
                break
            frames.pop()
            if isinstance(frame.node, NotGroup):
                result = emitter.negate(frame.parts[0])
            elif isinstance(frame.node, AllGroup):
                result = emitter.all_of(frame.parts)
            else:
                result = emitter.any_of(frame.parts)
        else:
            return result


class Check(Enum):
    """The positive test a condition makes, whatever its operator was called."""

    IS_SET = "is_set"
    """The value is present (for a set: not empty)."""
    COMPARE = "compare"
    """``value <symbol> constants[0]``."""
    EQUALS = "equals"
    ONE_OF = "one_of"
    """The value is one of ``constants``."""
    CONTAINS = "contains"
    """``constants[0]`` is a substring of the value."""
    STARTS_WITH = "starts_with"
    BETWEEN = "between"
    """``constants[0] <= value <= constants[1]``."""
    HAS = "has"
    """The set holds ``constants[0]``."""
    HAS_ANY = "has_any"
    HAS_ALL = "has_all"


_O = Operator
_CHECKS: Mapping[Operator, Check] = MappingProxyType(
    {
        _O.IS_SET: Check.IS_SET,
        **dict.fromkeys(COMPARISONS, Check.COMPARE),
        _O.EQUALS: Check.EQUALS,
        **dict.fromkeys(MEMBERSHIP, Check.ONE_OF),
        _O.CONTAINS: Check.CONTAINS,
        _O.STARTS_WITH: Check.STARTS_WITH,
        _O.BETWEEN: Check.BETWEEN,
        _O.WITHIN_LAST: Check.BETWEEN,
        _O.HAS_CHANNEL: Check.HAS,
        _O.HAS_ANY: Check.HAS_ANY,
        _O.HAS_ALL: Check.HAS_ALL,
    }
)
"""Each positive operator and the check it makes; negative ones go through NEGATIONS."""


@attrs.frozen
class Test:
    """One condition as a compiler needs it: checked, positive, resolved against now.

    ``negated`` says the condition holds exactly when the check does not (missing
    values included). ``constants`` are what the value is compared with: case-folded
    for text fields, date-times and period ends in UTC, lists without duplicates.
    ``symbol`` is the comparison of :attr:`Check.COMPARE` (``<``, ``<=``, ``>``, ``>=``).
    """

    field: FieldSpec
    check: Check
    negated: bool = False
    constants: tuple[object, ...] = ()
    symbol: str = ""
    sender: str | None = None


def _constants(condition: Condition, op: Operator, now: datetime) -> tuple[object, ...]:
    value = condition.value
    if isinstance(value, Period):
        if op is _O.WITHIN_LAST:
            return value.window(now)
        return (value.cutoff(now),)
    items = () if value is None else value if isinstance(value, tuple) else (value,)
    if condition.field.kind is ValueKind.TEXT:
        folded = (fold_case(item) if isinstance(item, str) else item for item in items)
        return tuple(dict.fromkeys(folded)) if op in MEMBERSHIP else tuple(folded)
    return items


def resolve(condition: Condition, now: datetime) -> Test:
    """A checked ``condition`` as a :class:`Test` against ``now``.

    Raises :class:`~omnimsg.errors.SegmentError` when a period reaches outside the
    range of dates.
    """
    op = NEGATIONS.get(condition.op, condition.op)
    check = _CHECKS[op]
    if check is Check.CONTAINS and condition.field.kind in SETS:
        check = Check.HAS
    return Test(
        field=condition.field,
        check=check,
        negated=op is not condition.op,
        constants=_constants(condition, op, now),
        symbol=COMPARISONS.get(op, ""),
        sender=condition.sender,
    )


class Backend(Protocol[T]):
    """A compiler: emits a :class:`Test` and the three groups, never walks or checks."""

    def test(self, test: Test) -> T:
        """One condition."""
        ...

    def all_of(self, parts: Sequence[T]) -> T:
        """Every part holds."""
        ...

    def any_of(self, parts: Sequence[T]) -> T:
        """At least one part holds."""
        ...

    def negate(self, part: T) -> T:
        """``part`` does not hold."""
        ...


@attrs.define
class _Resolving(Generic[T]):
    """Turns each checked condition into a :class:`Test` for a backend, counting terms."""

    backend: Backend[T]
    now: datetime
    terms: int = 0

    def condition(self, condition: Condition) -> T:
        test = resolve(condition, self.now)
        self.terms += 1 + len(test.constants)
        if self.terms > MAX_TERMS:
            raise SegmentError(
                f"the segment compiles to more than {MAX_TERMS} terms "
                "(MAX_TERMS: one per condition plus one per value); split it, or put long "
                "lists of ids in an id list (SPEC A3)"
            )
        return self.backend.test(test)

    def all_of(self, parts: Sequence[T]) -> T:
        return self.backend.all_of(parts)

    def any_of(self, parts: Sequence[T]) -> T:
        return self.backend.any_of(parts)

    def negate(self, part: T) -> T:
        return self.backend.negate(part)


def compile_tree(segment: object, now: object, backend: Backend[T], where: str) -> T:
    """Check ``now`` and ``segment``, then walk it into ``backend``'s output.

    Raises :class:`~omnimsg.errors.InputError` when ``now`` is not a datetime,
    :class:`~omnimsg.errors.NaiveDatetimeError` for a naive ``now``, and
    :class:`~omnimsg.errors.SegmentError` for something else than a
    :class:`~omnimsg.segments.Segment`, for what :func:`walk` refuses, for a period
    outside the range of dates and beyond :data:`MAX_TERMS`.
    """
    checked_now = require_now(now, where)
    if not isinstance(segment, Segment):
        raise SegmentError(
            f"{where}: expected a Segment (from parse_segment), got {type(segment).__name__}"
        )
    return walk(segment.root, _Resolving(backend, checked_now), where)
