"""The JSON Schema of segment JSON, for front ends that build a segment editor.

The schema is generated from the same tables :func:`~omnimsg.segments.parse_segment`
validates against (:mod:`omnimsg.segments.fields`), one ``oneOf`` branch per field and
operator, each titled with the words :meth:`Segment.describe` uses. It describes the
canonical form (what :meth:`Segment.to_dict` writes); the parser is the authority and
also checks what a schema cannot say (a range's low end not above its high end, a
date-time carrying a UTC offset, a period within its limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnimsg.channels.kinds import ChannelKind
from omnimsg.contacts import ConversationStatus
from omnimsg.segments.describe import describe_condition
from omnimsg.segments.fields import (
    PERIOD_LIMITS,
    STANDARD_FIELDS,
    FieldSpec,
    FieldType,
    Operator,
    PeriodUnit,
    ValueKind,
    ValueShape,
    custom_field,
    shape_of,
)
from omnimsg.segments.parse import parse_custom_fields
from omnimsg.segments.values import MAX_LIST_ITEMS
from omnimsg.state import SubscriptionStatus

__all__ = ["SCHEMA_DIALECT", "segment_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect the segment schema is written in (its ``$schema``)."""

_STRING = {"type": "string", "minLength": 1}
_VALUE_DEFS: Mapping[ValueKind, dict[str, Any]] = {
    ValueKind.TEXT: {**_STRING, "description": "Compared case-insensitively."},
    ValueKind.KEYWORD: {**_STRING, "description": "Compared exactly."},
    ValueKind.NUMBER: {"type": "number"},
    ValueKind.BOOLEAN: {"type": "boolean"},
    ValueKind.DATETIME: {
        "type": "string",
        "format": "date-time",
        "description": "ISO 8601 with a UTC offset, e.g. 2024-05-01T09:00:00Z.",
    },
    ValueKind.TAGS: {**_STRING, "description": "A tag, compared exactly."},
    ValueKind.CHANNELS: {"enum": [kind.value for kind in ChannelKind]},
    ValueKind.CHANNEL: {"enum": [kind.value for kind in ChannelKind]},
    ValueKind.CONVERSATION_STATUS: {"enum": [status.value for status in ConversationStatus]},
    ValueKind.COUNTRY: {"type": "string", "pattern": "^[A-Z]{2}$"},
    ValueKind.SUBSCRIPTION: {"enum": [status.value for status in SubscriptionStatus]},
}


def _period() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "amount": {
                "type": "integer",
                "minimum": 1,
                "maximum": max(PERIOD_LIMITS.values()),
            },
            "unit": {"enum": [unit.value for unit in PeriodUnit]},
        },
        "required": ["amount", "unit"],
        "additionalProperties": False,
    }


def _value_schema(spec: FieldSpec, op: Operator) -> dict[str, Any] | None:
    item = {"$ref": f"#/$defs/{spec.kind.value}"}
    listed = {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_LIST_ITEMS}
    shape = shape_of(op)
    if shape is ValueShape.NONE:
        return None
    if shape is ValueShape.SCALAR:
        return item
    if shape is ValueShape.LIST:
        return listed
    if shape is ValueShape.SCALAR_OR_LIST:
        return {"oneOf": [item, listed]}
    if shape is ValueShape.RANGE:
        return {
            "type": "array",
            "prefixItems": [item, item],
            "items": False,
            "minItems": 2,
            "maxItems": 2,
        }
    return {"$ref": "#/$defs/period"}


def _branch(spec: FieldSpec, op: Operator) -> dict[str, Any]:
    properties: dict[str, Any] = {"field": {"const": spec.name}, "op": {"const": op.value}}
    required = ["field", "op"]
    if spec.kind is ValueKind.SUBSCRIPTION:
        properties["sender"] = {**_STRING, "description": "The channel account id."}
        required.append("sender")
    value = _value_schema(spec, op)
    if value is None:
        properties["value"] = {"type": "null"}
    else:
        properties["value"] = value
        required.append("value")
    sender = "<sender>" if spec.kind is ValueKind.SUBSCRIPTION else None
    title = describe_condition(spec, op, None, sender)
    return {
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _group(key: str, title: str) -> dict[str, Any]:
    items: dict[str, Any] = (
        {"$ref": "#/$defs/node"}
        if key == "not"
        else {"type": "array", "items": {"$ref": "#/$defs/node"}, "minItems": 1}
    )
    return {
        "title": title,
        "type": "object",
        "properties": {key: items},
        "required": [key],
        "additionalProperties": False,
    }


def segment_json_schema(
    *, custom_fields: Mapping[str, FieldType | str] | None = None
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of segment JSON.

    Custom fields appear in it only when declared in ``custom_fields`` (the same
    mapping :func:`~omnimsg.segments.parse_segment` takes). Raises
    :class:`~omnimsg.errors.SegmentValidationError` for a bad declaration.
    """
    declared = parse_custom_fields(custom_fields)
    specs = [*STANDARD_FIELDS.values()]
    specs.extend(custom_field(name, declared[name]) for name in sorted(declared))
    branches = [_branch(spec, op) for spec in specs for op in spec.operators]
    defs: dict[str, Any] = {kind.value: schema for kind, schema in _VALUE_DEFS.items()}
    defs.update(
        {
            "node": {
                "oneOf": [
                    {"$ref": "#/$defs/all"},
                    {"$ref": "#/$defs/any"},
                    {"$ref": "#/$defs/not"},
                    {"$ref": "#/$defs/condition"},
                ]
            },
            "all": _group("all", "all of"),
            "any": _group("any", "any of"),
            "not": _group("not", "not"),
            "condition": {"title": "condition", "oneOf": branches},
            "period": _period(),
        }
    )
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "omnimsg segment",
        "description": (
            "Conditions on contact fields, combined with all / any / not groups "
            "at any depth (see docs/segments.md)."
        ),
        "$ref": "#/$defs/node",
        "$defs": defs,
    }
