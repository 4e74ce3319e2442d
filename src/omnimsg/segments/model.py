"""The validated segment: conditions and nested groups as frozen values (SPEC A1).

A :class:`Segment` is what :func:`~omnimsg.segments.parse_segment` returns. Every value
in it has been checked against its field's type, so the compilers (to a Python
predicate, to SQL) never see a value of the wrong type. The constructors trust their
arguments; outside data comes in through :func:`~omnimsg.segments.parse_segment` only.
This module does no I/O and reads no clock: relative periods are resolved against a
``now`` passed in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeAlias

import attrs

from omnimsg.segments.describe import describe_condition
from omnimsg.segments.fields import FieldSpec, FieldType, Operator, Period, ValueShape, shape_of

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
"""Groups may nest this deep (a condition directly under the root is at depth 1)."""

MAX_LIST_ITEMS = 1000
"""The longest list a condition's value may hold; larger lists belong in an id list (A3)."""

Scalar: TypeAlias = str | int | float | bool | datetime
"""One value of a condition. Channel kinds and statuses are ``str`` enums."""


ConditionValue: TypeAlias = Scalar | tuple[Scalar, ...] | Period | None
"""A condition's value: one scalar, a tuple (lists and ``[low, high]``), a period, or none."""


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
        """This condition in plain English, e.g. ``"score is greater than 500"``."""
        return describe_condition(self.field, self.op, self.value, self.sender)

    def to_dict(self) -> dict[str, Any]:
        """The condition as segment JSON (parsing it again gives an equal condition)."""
        data: dict[str, Any] = {"field": self.field.name, "op": self.op.value}
        if self.sender is not None:
            data["sender"] = self.sender
        value = self.value
        if shape_of(self.op) is ValueShape.NONE:
            return data
        if isinstance(value, Period):
            data["value"] = value.to_dict()
        elif isinstance(value, tuple):
            data["value"] = [_json_scalar(item) for item in value]
        elif value is not None:
            data["value"] = _json_scalar(value)
        return data


@attrs.frozen
class AllGroup:
    """Holds when every child holds."""

    children: tuple[Node, ...]

    def describe(self) -> str:
        """The group in plain English, children joined by "and"."""
        return " and ".join(_describe_child(child) for child in self.children)

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON."""
        return {"all": [child.to_dict() for child in self.children]}


@attrs.frozen
class AnyGroup:
    """Holds when at least one child holds."""

    children: tuple[Node, ...]

    def describe(self) -> str:
        """The group in plain English, children joined by "or"."""
        return " or ".join(_describe_child(child) for child in self.children)

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON."""
        return {"any": [child.to_dict() for child in self.children]}


@attrs.frozen
class NotGroup:
    """Holds when its child does not."""

    child: Node

    def describe(self) -> str:
        """The group in plain English: ``not (...)``."""
        return f"not ({self.child.describe()})"

    def to_dict(self) -> dict[str, Any]:
        """The group as segment JSON."""
        return {"not": self.child.to_dict()}


Node: TypeAlias = Condition | AllGroup | AnyGroup | NotGroup
"""A condition or a group; groups nest at any depth (up to :data:`MAX_DEPTH`)."""


def node_name(node: object) -> str:
    """A short name for ``node`` in error messages, safe on hand-built, invalid values.

    ``condition (custom.score gt)``, ``all group of 0 nodes``, or a shortened ``repr``.
    """
    if isinstance(node, Condition):
        field = getattr(node.field, "name", node.field)
        op = getattr(node.op, "value", node.op)
        return f"condition ({field} {op})"
    if isinstance(node, AllGroup | AnyGroup):
        kind = "all" if isinstance(node, AllGroup) else "any"
        if isinstance(node.children, tuple):
            count = len(node.children)
            return f"{kind} group of {count} node{'' if count == 1 else 's'}"
    text = repr(node)
    return text if len(text) <= 80 else text[:79] + "…"


def _describe_child(child: Node) -> str:
    text = child.describe()
    if isinstance(child, AllGroup | AnyGroup) and len(child.children) > 1:
        return f"({text})"
    return text


def _walk(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    elif isinstance(node, NotGroup):
        yield from _walk(node.child)
    else:
        for child in node.children:
            yield from _walk(child)


@attrs.frozen
class Segment:
    """A validated segment: the contacts for which :attr:`root` holds (SPEC A1).

    Build one with :func:`~omnimsg.segments.parse_segment`; compile it with
    :func:`~omnimsg.segments.compile_segment` (Python) or
    :func:`omnimsg.segments.sql.segment_clause` (SQL).
    """

    root: Node

    def describe(self) -> str:
        """The segment in plain English.

        ``"tags include any of vip, gold and (score is greater than 500 or e-mail is
        not set)"``
        """
        return self.root.describe()

    def to_dict(self) -> dict[str, Any]:
        """The segment as a JSON-ready dict; :func:`parse_segment` reads it back."""
        return self.root.to_dict()

    def to_json(self) -> str:
        """The segment as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def conditions(self) -> tuple[Condition, ...]:
        """Every condition, depth first, in document order."""
        return tuple(_walk(self.root))

    @property
    def custom_fields(self) -> dict[str, FieldType]:
        """The custom fields the segment uses, with their types (for parsing it again)."""
        return {
            c.field.custom_name: c.field.custom_type
            for c in _walk(self.root)
            if c.field.custom_name is not None and c.field.custom_type is not None
        }
