"""The exported JSON Schema describes exactly the segments the parser accepts (SPEC A1).

A small validator for the keywords the schema uses checks that every canonical
segment (what ``Segment.to_dict`` writes) matches exactly one branch per condition.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given

from omnimsg.errors import SegmentValidationError
from omnimsg.segments import Operator, parse_segment, segment_json_schema
from omnimsg.segments.fields import STANDARD_FIELDS

from .strategies import CUSTOM_FIELDS, segment_json


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and len(schema) == 1:
        name = schema["$ref"].removeprefix("#/$defs/")
        schema = root["$defs"][name]
    return schema


def _type_ok(expected: str, value: Any) -> bool:
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return bool(checks[expected](value))


def valid(schema: Any, value: Any, root: dict[str, Any]) -> bool:
    """Whether ``value`` matches ``schema`` (the subset of draft 2020-12 used here)."""
    if schema is False:
        return False
    schema = _resolve(schema, root)
    if "$ref" in schema and not valid({"$ref": schema["$ref"]}, value, root):
        return False
    if "oneOf" in schema and sum(valid(s, value, root) for s in schema["oneOf"]) != 1:
        return False
    if "type" in schema and not _type_ok(schema["type"], value):
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        return False
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        prefix = schema.get("prefixItems", [])
        if not all(valid(s, v, root) for s, v in zip(prefix, value, strict=False)):
            return False
        rest = value[len(prefix) :]
        if "items" in schema and not all(valid(schema["items"], v, root) for v in rest):
            return False
    if isinstance(value, dict):
        if any(key not in value for key in schema.get("required", [])):
            return False
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False and set(value) - set(properties):
            return False
        if not all(valid(properties[k], v, root) for k, v in value.items() if k in properties):
            return False
    return True


def test_the_schema_is_json_and_names_its_dialect() -> None:
    """SPEC A1: a front end can load the schema as plain JSON."""
    schema = segment_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_field_and_operator_has_a_titled_branch() -> None:
    """SPEC A1: an editor can list each field's operators from the schema."""
    schema = segment_json_schema(custom_fields={"score": "number"})
    branches = schema["$defs"]["condition"]["oneOf"]
    pairs = {(b["properties"]["field"]["const"], b["properties"]["op"]["const"]) for b in branches}
    fields = {field for field, _ in pairs}
    assert fields == {*STANDARD_FIELDS, "custom.score"}
    assert {op for _, op in pairs} == {op.value for op in Operator}
    assert ("custom.score", "gt") in pairs
    assert ("email", "gt") not in pairs
    titles = {b["title"] for b in branches}
    assert "score is greater than …" in titles


def test_custom_fields_appear_only_when_declared() -> None:
    """SPEC A1: custom fields are the caller's; undeclared ones are not offered."""
    schema = segment_json_schema()
    fields = {b["properties"]["field"]["const"] for b in schema["$defs"]["condition"]["oneOf"]}
    assert not any(field.startswith("custom.") for field in fields)
    with pytest.raises(SegmentValidationError):
        segment_json_schema(custom_fields={"score": "decimal"})


@given(segment_json)
def test_every_canonical_segment_matches_the_schema(data: dict[str, Any]) -> None:
    """SPEC A1: what the parser accepts (in canonical form) the schema accepts too."""
    canonical = parse_segment(data, custom_fields=CUSTOM_FIELDS).to_dict()
    schema = segment_json_schema(custom_fields=CUSTOM_FIELDS)
    assert valid(schema, canonical, schema)


@pytest.mark.parametrize(
    "data",
    [
        {"all": []},
        {"field": "email", "op": "gt", "value": 1},
        {"field": "custom.score", "op": "gt", "value": "1"},
        {"field": "email", "op": "is_set", "extra": 1},
        {"not": [{"field": "email", "op": "is_set"}]},
    ],
)
def test_the_schema_refuses_what_the_parser_refuses(data: dict[str, Any]) -> None:
    """SPEC A1: shapes and types the parser refuses fail the schema as well."""
    schema = segment_json_schema(custom_fields={"score": "number"})
    assert not valid(schema, data, schema)
    with pytest.raises(SegmentValidationError):
        parse_segment(data, custom_fields={"score": "number"})
