"""The validated segment: conditions and nested groups as frozen values (SPEC A1).

A :class:`Segment` is what :func:`~omnimsg.segments.parse_segment` returns. The
constructors trust their arguments; a segment built by hand is checked, with the
rules :func:`~omnimsg.segments.parse_segment` applies, by the walk every reader shares
(:mod:`omnimsg.segments.walk`): the compilers, :meth:`Segment.describe` and
:meth:`Segment.to_dict` never see a node, a value or a depth that parsing would
refuse. This module does no I/O and reads no clock.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import attrs

from omnimsg.segments.describe import describe_condition
from omnimsg.segments.fields import FieldSpec, FieldType, Operator, Period, ValueShape, shape_of
from omnimsg.segments.values import MAX_LIST_ITEMS, ConditionValue, Scalar

__all__ = [
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "AllGroup",
    "AnyGroup",
    "Condition",
    "ConditionValue",
    "Node",
    "NotGroup",
    "Period",
    "Scalar",
    "Segment",
    "node_name",
]

MAX_DEPTH = 32
"""Groups may nest this deep (a condition directly under the root is at depth 1).

Checked by :func:`~omnimsg.segments.parse_segment` on JSON and by every function that
reads a hand-built :class:`Segment` (the compilers, :meth:`Segment.describe`,
:meth:`Segment.to_dict`), without recursion.
"""


def _json_scalar(value: Scalar) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


@attrs.frozen
class Condition:
    """One test of one field: ``{"field": ..., "op": ..., "value": ...}``.

    ``value`` has been validated for the field and operator: a string as written, a
    number, a UTC datetime, a tuple for lists and ranges, a :class:`Period`, or ``None``
    for ``is_set`` / ``is_not_set``. ``sender`` is set only on the
    ``subscription`` field.
    """

    field: FieldSpec
    op: Operator
    value: ConditionValue = None
    sender: str | None = None

    def describe(self) -> str:
        """This condition in plain English, e.g. ``"score is greater than 500"``.

        Raises :class:`~omnimsg.errors.SegmentError` for a hand-built condition that
        is not valid.
        """
        return _describe(self, "Condition.describe")

    def to_dict(self) -> dict[str, Any]:
        """The condition as segment JSON (parsing it again gives an equal condition).

        Raises :class:`~omnimsg.errors.SegmentError` like :meth:`describe`.
        """
        return _to_dict(self, "Condition.to_dict")


@attrs.frozen
class AllGroup:
    """Holds when every child holds."""

    children: tuple[Node, ...]

    def describe(self) -> str:
        """The group in plain English, children joined by "and".

        Raises :class:`~omnimsg.errors.SegmentError` for a hand-built group that is
        not valid (see :meth:`Segment.describe`).
        """
        return _describe(self, "AllGroup.describe")

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON; raises like :meth:`describe`."""
        return _to_dict(self, "AllGroup.to_dict")


@attrs.frozen
class AnyGroup:
    """Holds when at least one child holds."""

    children: tuple[Node, ...]

    def describe(self) -> str:
        """The group in plain English, children joined by "or".

        Raises :class:`~omnimsg.errors.SegmentError` for a hand-built group that is
        not valid (see :meth:`Segment.describe`).
        """
        return _describe(self, "AnyGroup.describe")

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON; raises like :meth:`describe`."""
        return _to_dict(self, "AnyGroup.to_dict")


@attrs.frozen
class NotGroup:
    """Holds when its child does not."""

    child: Node

    def describe(self) -> str:
        """The group in plain English: ``not (...)``.

        Raises :class:`~omnimsg.errors.SegmentError` for a hand-built group that is
        not valid (see :meth:`Segment.describe`).
        """
        return _describe(self, "NotGroup.describe")

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON; raises like :meth:`describe`."""
        return _to_dict(self, "NotGroup.to_dict")


Node: TypeAlias = Condition | AllGroup | AnyGroup | NotGroup
"""A condition or a group; groups nest at any depth (up to :data:`MAX_DEPTH`)."""

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 2
_SHORT.maxstring = 60
_SHORT.maxother = 60


def _short(value: object) -> str:
    """``repr(value)``, shortened, and safe on hostile objects (deep, huge, raising)."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # a repr of outside data may fail in any way; the type will do
        return f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:79] + "…"


def node_name(node: object) -> str:
    """A short name for ``node`` in error messages, safe on hand-built, invalid values.

    ``condition (custom.score gt)``, ``all group of 0 nodes``, or a shortened ``repr``.
    """
    if isinstance(node, Condition):
        field: object = node.field.name if isinstance(node.field, FieldSpec) else node.field
        text = field if isinstance(field, str) else _short(field)
        op = node.op.value if isinstance(node.op, Operator) else _short(node.op)
        return f"condition ({text if len(text) <= 60 else text[:59] + '…'} {op})"
    if isinstance(node, AllGroup | AnyGroup):
        kind = "all" if isinstance(node, AllGroup) else "any"
        if isinstance(node.children, tuple):
            count = len(node.children)
            return f"{kind} group of {count} node{'' if count == 1 else 's'}"
    if isinstance(node, NotGroup):
        return "not group"
    return _short(node)


_Phrase: TypeAlias = tuple[str, bool]
"""A description and whether it joins several parts (so needs parentheses inside another)."""


class _Describing:
    """Writes a segment in plain English; see :mod:`omnimsg.segments.describe`."""

    def condition(self, condition: Condition) -> _Phrase:
        text = describe_condition(condition.field, condition.op, condition.value, condition.sender)
        return text, False

    @staticmethod
    def _join(parts: Sequence[_Phrase], joiner: str) -> _Phrase:
        texts = [f"({text})" if several else text for text, several in parts]
        return joiner.join(texts), len(parts) > 1

    def all_of(self, parts: Sequence[_Phrase]) -> _Phrase:
        return self._join(parts, " and ")

    def any_of(self, parts: Sequence[_Phrase]) -> _Phrase:
        return self._join(parts, " or ")

    def negate(self, part: _Phrase) -> _Phrase:
        return f"not ({part[0]})", False


class _Writing:
    """Writes a segment as its canonical JSON."""

    def condition(self, condition: Condition) -> dict[str, Any]:
        data: dict[str, Any] = {"field": condition.field.name, "op": condition.op.value}
        if condition.sender is not None:
            data["sender"] = condition.sender
        value = condition.value
        if shape_of(condition.op) is ValueShape.NONE:
            return data
        if isinstance(value, Period):
            data["value"] = value.to_dict()
        elif isinstance(value, tuple):
            data["value"] = [_json_scalar(item) for item in value]
        elif value is not None:
            data["value"] = _json_scalar(value)
        return data

    def all_of(self, parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"all": list(parts)}

    def any_of(self, parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"any": list(parts)}

    def negate(self, part: dict[str, Any]) -> dict[str, Any]:
        return {"not": part}


class _Collecting:
    """Collects the checked conditions, in document order."""

    def __init__(self) -> None:
        self.found: list[Condition] = []

    def condition(self, condition: Condition) -> None:
        self.found.append(condition)

    def all_of(self, parts: Sequence[None]) -> None:
        return None

    def any_of(self, parts: Sequence[None]) -> None:
        return None

    def negate(self, part: None) -> None:
        return None


# The walk checks nodes with the tables of this package, which import this module;
# importing it when first used keeps the import graph a tree.
def _describe(root: object, where: str) -> str:
    from omnimsg.segments.walk import walk

    return walk(root, _Describing(), where)[0]


def _to_dict(root: object, where: str) -> dict[str, Any]:
    from omnimsg.segments.walk import walk

    return walk(root, _Writing(), where)


def _conditions(root: object, where: str) -> tuple[Condition, ...]:
    from omnimsg.segments.walk import walk

    collecting = _Collecting()
    walk(root, collecting, where)
    return tuple(collecting.found)


@attrs.frozen
class Segment:
    """A validated segment: the contacts for which :attr:`root` holds (SPEC A1).

    Build one with :func:`~omnimsg.segments.parse_segment`; compile it with
    :func:`~omnimsg.segments.compile_segment` (Python) or
    :func:`omnimsg.segments.sql.segment_clause` (SQL). A segment built by hand from
    the node classes is checked by every method that reads it: each raises
    :class:`~omnimsg.errors.SegmentError` naming the node (and its path, such as
    ``all[1].not``) for an invalid node or nesting deeper than :data:`MAX_DEPTH`.
    """

    root: Node

    def describe(self) -> str:
        """The segment in plain English.

        ``"tags include any of vip, gold and (score is greater than 500 or e-mail is
        not set)"``
        """
        return _describe(self.root, "Segment.describe")

    def to_dict(self) -> dict[str, Any]:
        """The segment as a JSON-ready dict; :func:`parse_segment` reads it back."""
        return _to_dict(self.root, "Segment.to_dict")

    def to_json(self) -> str:
        """The segment as JSON text."""
        return json.dumps(_to_dict(self.root, "Segment.to_json"), ensure_ascii=False)

    def conditions(self) -> tuple[Condition, ...]:
        """Every condition, depth first, in document order."""
        return _conditions(self.root, "Segment.conditions")

    @property
    def custom_fields(self) -> dict[str, FieldType]:
        """The custom fields the segment uses, with their types (for parsing it again)."""
        return {
            c.field.custom_name: c.field.custom_type
            for c in _conditions(self.root, "Segment.custom_fields")
            if c.field.custom_name is not None and c.field.custom_type is not None
        }
